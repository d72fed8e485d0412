//! The seed steps (hex0-seed, kaem-optional-seed, hex0, hex1, hex2-0, catm, and hex2-0
//! building M0) run on the interpreter and unicorn in lockstep, with the upstream tree.

use std::path::{Path, PathBuf};
use std::process::Command;

const SEED_KAEM: &str = "\
./bootstrap-seeds/POSIX/x86/hex0-seed ./x86/hex0_x86.hex0 ./x86/artifact/hex0
./x86/artifact/hex0 ./x86/kaem-minimal.hex0 ./x86/artifact/kaem-0
";

const SCRIPT: &str = "\
./bootstrap-seeds/POSIX/x86/kaem-optional-seed ./seed.kaem
./x86/artifact/hex0 ./x86/hex1_x86.hex0 ./x86/artifact/hex1
./x86/artifact/hex1 ./x86/hex2_x86.hex1 ./x86/artifact/hex2-0
./x86/artifact/hex2-0 ./x86/catm_x86.hex2 ./x86/artifact/catm
./x86/artifact/catm ./x86/artifact/M0.hex2 ./x86/ELF-i386.hex2 ./x86/M0_x86.hex2
./x86/artifact/hex2-0 ./x86/artifact/M0.hex2 ./x86/artifact/M0
";

fn copy_tree(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    let ok = Command::new("cp").arg("-a").arg(from).arg(to).status();
    assert!(ok.is_ok_and(|s| s.success()), "cp -a {}", from.display());
}

#[test]
#[ignore = "needs STAGE0_POSIX_TREE (a pristine stage0-posix checkout) and the unicorn engine (--features stage0-testkit/unicorn)"]
fn seed_steps_agree_in_lockstep() {
    let Some(src) = std::env::var_os("STAGE0_POSIX_TREE").map(PathBuf::from) else {
        panic!("missing input: seed_steps_agree_in_lockstep needs $STAGE0_POSIX_TREE (a pristine stage0-posix checkout) (this test is ignored unless run with --ignored; README, 'Tests and the upstream tree')");
    };
    let tree = std::env::temp_dir().join(format!("stage0-xcheck-{}", std::process::id()));
    copy_tree(&src, &tree);
    std::fs::create_dir_all(tree.join("x86/artifact")).expect("mkdir artifact");
    std::fs::write(tree.join("seed.kaem"), SEED_KAEM).expect("write seed.kaem");
    std::fs::write(tree.join("seed.script"), SCRIPT).expect("write script");
    let out = Command::new(env!("CARGO_BIN_EXE_stage0-runner"))
        .args(["run", "--quiet", "--cross-check", "--script"])
        .arg(tree.join("seed.script"))
        .arg(&tree)
        .output()
        .expect("run stage0-runner");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("not in this build") {
        let _ = std::fs::remove_dir_all(&tree);
        panic!("missing input: seed_steps_agree_in_lockstep needs the `unicorn` feature ({stderr}) (this test is ignored unless run with --ignored; README, 'Tests and the upstream tree')");
    }
    assert!(out.status.success(), "cross-check failed:\n{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("cross-check"))
        .unwrap_or_else(|| panic!("no cross-check summary in:\n{stderr}"));
    eprintln!("{line}");
    let native = std::env::var_os("STAGE0_NATIVE_TREE").map(PathBuf::from);
    for name in ["hex0", "kaem-0", "hex1", "hex2-0", "catm", "M0"] {
        let ours = std::fs::read(tree.join("x86/artifact").join(name)).expect(name);
        if let Some(n) = &native {
            let theirs = std::fs::read(n.join("x86/artifact").join(name)).expect(name);
            assert!(ours == theirs, "{name} differs from the native run");
        }
    }
    let _ = std::fs::remove_dir_all(&tree);
}
