//! `stage0-runner ddc` on the real chain: every step with a Rust substitute writes what the
//! emulated program wrote, and the 19 answers match. Takes minutes (two whole chains):
//! needs STAGE0_POSIX_TREE and STAGE0_SLOW_TESTS=1.

use std::process::Command;

#[test]
fn ddc_with_rust_substitutes_is_identical_to_the_emulated_chain() {
    let test = "ddc_with_rust_substitutes_is_identical_to_the_emulated_chain";
    let Some(tree) = std::env::var_os("STAGE0_POSIX_TREE") else {
        eprintln!("SKIPPED: {test} needs $STAGE0_POSIX_TREE (a pristine stage0-posix checkout)");
        return;
    };
    if std::env::var("STAGE0_SLOW_TESTS").as_deref() != Ok("1") {
        eprintln!("SKIPPED: {test} needs STAGE0_SLOW_TESTS=1 (runs the chain twice, minutes)");
        return;
    }
    let work = std::env::temp_dir().join(format!("stage0-ddc-test-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_stage0-runner"))
        .args(["ddc", "--with", "rust", "--work"])
        .arg(&work)
        .arg(&tree)
        .output()
        .expect("stage0-runner runs");
    let _ = std::fs::remove_dir_all(&work);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("DDC VERIFIED"), "{stdout}");
    assert!(stdout.contains("19/19 answers match"), "{stdout}");
    let rows: Vec<&str> = stdout.lines().filter(|l| l.contains(" rust ")).collect();
    // Every hex0 .. blood-elf step of the chain: dozens of them.
    assert!(
        rows.len() > 50,
        "only {} substituted steps:\n{stdout}",
        rows.len()
    );
    assert!(rows.iter().all(|l| l.contains(" yes ")), "{stdout}");
}
