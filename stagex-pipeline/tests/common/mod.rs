//! Shared helpers: environment-provided inputs and loud skips.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory named by `var`; without it the (ignored) test fails naming it.
pub fn env_dir(test: &str, var: &str, what: &str) -> PathBuf {
    match std::env::var_os(var).map(PathBuf::from) {
        Some(p) if p.is_dir() => p,
        Some(p) => {
            panic!(
                "missing input: {test} needs ${var} ({what}); {} is not a directory; this test is ignored unless run with --ignored; README, 'Tests and the upstream tree'",
                p.display()
            )
        }
        None => {
            panic!("missing input: {test} needs ${var} ({what}); this test is ignored unless run with --ignored; README, 'Tests and the upstream tree'")
        }
    }
}

/// The StageX git snapshot under a mirror root.
pub fn stagex_git_dir(mirror: &Path) -> PathBuf {
    mirror.join("stagex-mirror+stagex").join("repo")
}

/// Checks out `rev` of the StageX snapshot into `dest` with `git archive | tar -x`.
pub fn checkout_stagex(mirror: &Path, rev: &str, dest: &Path) {
    let git = stagex_git_dir(mirror);
    let archive = Command::new("git")
        .arg(format!("--git-dir={}", git.display()))
        .args(["archive", "--format=tar", rev])
        .output()
        .expect("run git archive");
    assert!(
        archive.status.success(),
        "git archive: {}",
        String::from_utf8_lossy(&archive.stderr)
    );
    let tar = dest.join("stagex.tar");
    std::fs::write(&tar, &archive.stdout).unwrap();
    let status = Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(dest)
        .status()
        .expect("run tar");
    assert!(status.success());
    std::fs::remove_file(tar).unwrap();
}

/// The commit `rev` resolves to in the StageX snapshot.
pub fn stagex_commit(mirror: &Path, rev: &str) -> String {
    let out = Command::new("git")
        .arg(format!("--git-dir={}", stagex_git_dir(mirror).display()))
        .args(["rev-parse", rev])
        .output()
        .expect("run git rev-parse");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
