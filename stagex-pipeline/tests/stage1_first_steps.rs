//! Stage1 as far as sources reach, end to end on the StageX snapshot: `build
//! bootstrap-stage1 --engine docker` names the missing distfiles and writes nothing; with
//! `--missing-sources=continue` BuildKit runs checksum-transcriber and simple-patch on the
//! emulated Stage0 and stops at mes-0.27's missing tarball; `scripts/stage1-first-steps.sh`
//! then runs the same two steps in the emulator and checks both against live-bootstrap.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn var(name: &str) -> PathBuf {
    let v = std::env::var_os(name)
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("needs ${name}"));
    assert!(v.exists(), "${name}={} does not exist", v.display());
    v
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn cp(from: &Path, to: &Path) {
    assert!(Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap()
        .success());
}

#[test]
#[ignore = "needs STAGE0_DOCKER=1, STAGE0_MIRROR (StageX, live-bootstrap, M2libc snapshots), STAGE0_EMULATED_LAYOUT, STAGE0_RUNNER (release stage0-runner)"]
fn stage1_first_steps_in_engine_and_emulator() {
    assert_eq!(std::env::var("STAGE0_DOCKER").as_deref(), Ok("1"));
    let (mirror, layout, runner) = (
        var("STAGE0_MIRROR"),
        var("STAGE0_EMULATED_LAYOUT"),
        var("STAGE0_RUNNER"),
    );
    let dir = tempfile::tempdir().unwrap();
    let stagex = dir.path().join("stagex");
    std::fs::create_dir_all(&stagex).unwrap();
    common::checkout_stagex(&mirror, "HEAD", &stagex);
    let out = dir.path().join("out");
    std::fs::create_dir_all(out.join(".canary")).unwrap();
    cp(&layout, &out.join("bootstrap-stage0"));
    // The canary's other half: the engine's Stage0 equals the emulated one (checked by
    // `build bootstrap-stage0 --engine docker`); building it here would take minutes.
    cp(&layout, &out.join(".canary/bootstrap-stage0"));
    let build = |extra: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_stagex-pipeline"))
            .args([
                "build",
                "bootstrap-stage1",
                "--engine",
                "docker",
                "--stagex",
            ])
            .arg(&stagex)
            .arg("--snapshots")
            .arg(&mirror)
            .arg("--out")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap();
        (o.status.success(), text(&o))
    };
    let (ok, t) = build(&[]);
    assert!(!ok, "{t}");
    assert!(t.contains("source(s) missing, nothing built"), "{t}");
    assert!(
        t.contains("mes-0.27.tar.gz sha256 ") && t.contains("  mirrors: https://"),
        "{t}"
    );
    assert!(!out.join("bootstrap-stage1").exists());
    assert!(!out.join("logs/bootstrap-stage1.log").exists());

    let (ok, t) = build(&["--missing-sources=continue"]);
    assert!(!ok, "{t}");
    assert!(t.contains("canary: engine = emulated = published"), "{t}");
    let log = std::fs::read_to_string(out.join("logs/bootstrap-stage1.log")).unwrap();
    // BuildKit runs the two steps (or answers them from its cache of an earlier run: the
    // lines then say CACHED), then mes-0.27's step stops at its missing tarball.
    for step in [
        "[build   9/153] RUN pass1.kaem",
        "[build  11/153] RUN pass1.kaem",
        "/external/distfiles/mes-0.27.tar.gz: No such file or directory",
    ] {
        assert!(
            log.contains(step),
            "no {step:?} in the engine's log:\n{log}"
        );
    }
    assert!(!out.join("bootstrap-stage1").exists());

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/stage1-first-steps.sh");
    let o = Command::new("bash")
        .arg(script)
        .arg(&stagex)
        .arg(&out)
        .arg(&runner)
        .arg(dir.path().join("first-steps"))
        .output()
        .unwrap();
    let t = text(&o);
    eprintln!("{t}");
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("VERIFIED: engine = emulator = live-bootstrap's recorded checksums"),
        "{t}"
    );
}
