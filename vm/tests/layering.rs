//! Imports flow one way: memory -> cpu -> engines -> the OS side (kernel, syscalls,
//! process, vfs, records). An engine that imported the OS would tie every engine to Linux
//! and bring back the cycle the `engine` module's docs rule out.

use std::path::{Path, PathBuf};

/// Modules of the OS side, which the engine side must not import.
const OS_SIDE: [&str; 7] = [
    "kernel",
    "syscalls",
    "process",
    "vfs",
    "exec_hook",
    "record",
    "limits",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.expect("directory entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every `crate::<module>` an engine-side file names, as (file, line).
fn os_imports(files: &[PathBuf]) -> Vec<String> {
    let mut bad = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).expect("readable source");
        for (n, line) in text.lines().enumerate() {
            for m in OS_SIDE {
                let needle = format!("crate::{m}");
                let hit = line.match_indices(&needle).any(|(i, _)| {
                    let next = line[i + needle.len()..].chars().next();
                    !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
                });
                if hit {
                    bad.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
                }
            }
        }
    }
    bad
}

#[test]
fn the_engine_side_never_imports_the_os_side() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src.join("memory.rs"), src.join("elf.rs")];
    rust_files(&src.join("cpu"), &mut files);
    rust_files(&src.join("engine"), &mut files);
    assert!(files.len() > 8, "found the engine side's files: {files:?}");
    let bad = os_imports(&files);
    assert!(
        bad.is_empty(),
        "engine-side files import the OS side:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_check_sees_an_os_import() {
    let dir = std::env::temp_dir().join(format!("vm-layering-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let f = dir.join("planted.rs");
    std::fs::write(&f, "use crate::kernel::Kernel;\nuse crate::kernelish::X;\n").expect("write");
    let bad = os_imports(std::slice::from_ref(&f));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(bad[0].contains(":1:"), "{bad:?}");
}
