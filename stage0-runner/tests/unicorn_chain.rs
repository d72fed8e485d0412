//! The whole upstream chain on the unicorn engine: 19/19 answers. Slow (tens of minutes),
//! so it needs STAGE0_SLOW_TESTS=1 besides the tree.

use std::path::PathBuf;
use std::process::Command;

#[test]
#[ignore = "needs STAGE0_POSIX_TREE (a pristine stage0-posix checkout), STAGE0_SLOW_TESTS=1 (minutes) and the unicorn engine (--features stage0-testkit/unicorn)"]
fn whole_chain_on_unicorn_gives_every_answer() {
    let Some(src) = std::env::var_os("STAGE0_POSIX_TREE").map(PathBuf::from) else {
        panic!("missing input: whole_chain_on_unicorn_gives_every_answer needs $STAGE0_POSIX_TREE (a pristine stage0-posix checkout) (this test is ignored unless run with --ignored; README, 'Tests and the upstream tree')");
    };
    if std::env::var_os("STAGE0_SLOW_TESTS").is_none_or(|v| v != "1") {
        panic!("missing input: whole_chain_on_unicorn_gives_every_answer needs $STAGE0_SLOW_TESTS=1 (runs for tens of minutes) (this test is ignored unless run with --ignored; README, 'Tests and the upstream tree')");
    }
    let tree = std::env::temp_dir().join(format!("stage0-unicorn-chain-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tree);
    let copied = Command::new("cp").arg("-a").arg(&src).arg(&tree).status();
    assert!(copied.is_ok_and(|s| s.success()), "cp -a {}", src.display());
    let out = Command::new(env!("CARGO_BIN_EXE_stage0-runner"))
        .args(["run", "--quiet", "--engine", "unicorn"])
        .arg(&tree)
        .output()
        .expect("run stage0-runner");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let _ = std::fs::remove_dir_all(&tree);
    if stderr.contains("not in this build") {
        panic!("missing input: whole_chain_on_unicorn_gives_every_answer needs the `unicorn` feature (this test is ignored unless run with --ignored; README, 'Tests and the upstream tree')");
    }
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("VERIFIED: 19/19 answers match"),
        "{stdout}\n{stderr}"
    );
}
