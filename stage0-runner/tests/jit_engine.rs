//! `--engine jit` through the CLI and the whole kernel: a chain the test builds (programs
//! that read, write, fork and exec, one of them run twice) gives the interpreter's
//! provenance byte for byte, with every block compiled, the second run of a program
//! reusing the first one's translations, and the figures printed; `--cross-check jit`
//! checks the JIT against the interpreter block by block.

use std::path::Path;
use std::process::{Command, Output};

use stage0_testkit::programs::{copy, fork_exec_wait_plus};
use stage0_testkit::Sandbox;

fn tree(name: &str) -> Sandbox {
    let sb = Sandbox::new(name);
    sb.put("src/input", &b"bytes through the JIT\n".repeat(40));
    sb.put("out/.keep", b"");
    sb.put("bin/copy1", &copy("/src/input", "/out/a"));
    sb.put("bin/copy2", &copy("/out/a", "/out/b"));
    sb.put("bin/parent", &fork_exec_wait_plus("/bin/copy2", "x", 0));
    // copy1 twice: the second process finds the first one's translations.
    sb.put("chain.kaem", b"/bin/copy1\n/bin/copy1\n/bin/parent\n");
    sb
}

/// `stage0-runner run` of the tree's chain with `args`; every block is compiled at its first
/// start (and reused at its first start in later processes).
fn run(tree: &Path, args: &[&str], provenance: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stage0-runner"))
        .env("STAGE0_JIT_HOT", "1")
        .env("STAGE0_JIT_REUSE", "1")
        .arg("run")
        .arg("--progress")
        .arg("quiet")
        .arg("--script")
        .arg(tree.join("chain.kaem"))
        .arg("--provenance")
        .arg(provenance)
        .args(args)
        .arg(tree)
        .output()
        .expect("runs")
}

/// The number before `what` in the JIT's line ("jit: 12 blocks compiled ...").
fn figure(stderr: &str, what: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("jit: "))
        .unwrap_or_else(|| panic!("no jit line in:\n{stderr}"));
    let at = line
        .find(what)
        .unwrap_or_else(|| panic!("{what} in {line}"));
    line[..at]
        .split_whitespace()
        .last()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a number before {what} in {line}"))
}

#[test]
fn the_jit_gives_the_interpreters_provenance_and_reuses_translations() {
    let (a, b) = (tree("jit-a"), tree("jit-b"));
    let (pa, pb) = (a.root.join("../jit.prov"), b.root.join("../interp.prov"));
    let jit = run(&a.root, &["--engine", "jit"], &pa);
    let interp = run(&b.root, &["--engine", "interp"], &pb);
    let err = String::from_utf8_lossy(&jit.stderr);
    assert_eq!(jit.status.code(), Some(0), "{err}");
    assert_eq!(interp.status.code(), Some(0));
    assert_eq!(a.get("out/b"), b.get("out/b"));
    assert_eq!(
        std::fs::read(&pa).unwrap(),
        std::fs::read(&pb).unwrap(),
        "the JIT's provenance (every process's instructions, syscalls and files) must be \
         the interpreter's"
    );
    assert!(figure(&err, "blocks compiled") > 0, "{err}");
    assert!(figure(&err, "translations reused") > 0, "{err}");
    assert!(
        !String::from_utf8_lossy(&interp.stderr).contains("jit: "),
        "the interpreter has no JIT figures"
    );
}

#[test]
fn cross_check_jit_compares_the_jit_with_the_interpreter() {
    let a = tree("jit-cross");
    let p = a.root.join("../cross.prov");
    // `--cross-check=jit`: the JIT against the interpreter.
    let out = Command::new(env!("CARGO_BIN_EXE_stage0-runner"))
        .env("STAGE0_JIT_HOT", "1")
        .args(["run", "--progress", "quiet", "--script"])
        .arg(a.root.join("chain.kaem"))
        .arg("--provenance")
        .arg(&p)
        .arg("--cross-check=jit")
        .arg(&a.root)
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("cross-check (jit vs interp, block by block):"),
        "{err}"
    );
    assert!(figure(&err, "blocks compiled") > 0, "{err}");
}
