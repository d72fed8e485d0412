//! `stage0-runner seed explain FILE` on a small ELF and on a file that is not one.

use std::process::Command;

use stage0_testkit::{programs::hello, Sandbox};

fn explain(path: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_stage0-runner"))
        .args(["seed", "explain"])
        .arg(path)
        .output()
        .expect("stage0-runner runs")
}

#[test]
fn explains_a_small_elf_and_refuses_text() {
    let sb = Sandbox::new("seed-explain");
    let elf = hello(b"hi\n", 0);
    let out = explain(&sb.put("/hello", &elf));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let header = format!("ELF32 i386 executable, {} bytes", elf.len());
    assert!(text.starts_with(&header), "{text}");
    assert!(text.contains("e_ident"), "{text}");

    let out = explain(&sb.put(
        "/script",
        "# not an executable, only text\n".repeat(4).as_bytes(),
    ));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("script") && err.contains("not an ELF"),
        "{err}"
    );

    let out = explain(&sb.root.join("missing"));
    assert_eq!(out.status.code(), Some(2));
}
