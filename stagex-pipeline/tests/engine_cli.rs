//! `plan`, `load` and `build` on a small StageX-shaped tree: build order, the Makefile's
//! commands for the next targets, and clear messages where an engine is needed.

use std::path::Path;
use std::process::{Command, Output};

const TREE: &[(&str, &str)] = &[
    (
        "packages/bootstrap/stage0/Containerfile",
        "FROM scratch AS build\nRUN [\"/x\"]\nFROM scratch AS package\nCOPY --from=build /build/x /bin/\n",
    ),
    (
        "packages/bootstrap/stage0/package.toml",
        "[package]\nname = \"stage0\"\nplatforms = [\"linux/386\"]\n",
    ),
    (
        "packages/bootstrap/stage1/Containerfile",
        "FROM scratch AS base\nCOPY --from=stagex/bootstrap-stage0 /bin /usr/bin\n",
    ),
    (
        "packages/bootstrap/stage1/package.toml",
        "[package]\nname = \"stage1\"\nversion = \"abc\"\nplatforms = [\"linux/386\"]\n\
[sources.live_bootstrap]\nhash = \"00\"\nversion = \"15cb\"\nfile = \"live-bootstrap-{version}.tar.gz\"\n\
mirrors = [\"https://github.com/fosslinux/live-bootstrap/archive/{version}.tar.gz\"]\n",
    ),
    (
        "packages/core/gcc/Containerfile",
        "FROM stagex/bootstrap-stage1 AS build\nCOPY --from=stagex/bootstrap-stage0 . /\n",
    ),
    (
        "packages/core/gcc/package.toml",
        "[package]\nname = \"gcc\"\nversion = \"1.2.3\"\n",
    ),
];

fn tree(dir: &Path) {
    for (path, text) in TREE {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stagex-pipeline"))
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn plan_lists_the_closure_by_level() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    let sx = dir.path().to_str().unwrap();
    let o = cli(&["plan", "core-gcc", "--stagex", sx]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        "core-gcc: 3 targets in 3 levels\nlevel  0: bootstrap-stage0\n\
level  1: bootstrap-stage1\nlevel  2: core-gcc\n"
    );
    let o = cli(&["plan", "bootstrap-stage1", "--stagex", sx]);
    assert!(text(&o.stdout).starts_with("bootstrap-stage1: 2 targets in 2 levels\n"));
    let o = cli(&["plan", "core-nope", "--stagex", sx]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("no target core-nope"));
}

#[test]
fn load_prints_the_makefile_commands_and_names_the_missing_engine() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    let sx = dir.path().to_str().unwrap();
    let oci = dir.path().join("oci");
    std::fs::create_dir_all(&oci).unwrap();
    std::fs::write(
        oci.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:{}","size":1}}]}}"#,
            "ab".repeat(32)
        ),
    )
    .unwrap();
    let oci_s = oci.to_str().unwrap();
    let o = cli(&["load", "bootstrap-stage0", "--stagex", sx, "--out", oci_s]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    for want in [
        "tar -C out/bootstrap-stage0 -cf - . | docker load\n",
        "docker tag stagex/bootstrap-stage0:latest stagex/bootstrap-stage0:local\n",
        "# 3. targets ready now (1): make bootstrap-stage1\n",
        "  --tag stagex/bootstrap-stage1:abc \\\n",
        "  --build-context stagex/bootstrap-stage0=oci-layout://./out/bootstrap-stage0 \\\n",
        "  --build-arg LIVE_BOOTSTRAP_SOURCE=live-bootstrap-15cb.tar.gz \\\n",
        "  --build-arg \"BUILDKIT_DOCKERFILE_CHECK=skip=FromPlatformFlagConstDisallowed;error=true\" \\\n",
        "  --platform=linux/386 \\\n",
        "| tar -C out/bootstrap-stage1 -mx\n",
        "export TZ=UTC LANG=C.UTF-8 LC_ALL=C SOURCE_DATE_EPOCH=1",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    // core-gcc also needs stage1, so it is not ready yet.
    assert!(!out.contains("make core-gcc"), "{out}");

    // Running them without an engine fails up front, saying what is needed.
    let missing = dir.path().join("no-docker");
    let o = cli(&[
        "load",
        "bootstrap-stage0",
        "--stagex",
        sx,
        "--out",
        oci_s,
        "--run",
        "--docker",
        missing.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains("no `") && err.contains("containerd-snapshotter") && err.contains("buildx"),
        "{err}"
    );
    assert!(!dir.path().join("out").exists(), "nothing ran");
}

#[test]
fn build_refuses_targets_that_need_an_engine() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    let sx = dir.path().to_str().unwrap();
    let out = dir.path().join("o");
    let o = cli(&[
        "build",
        "bootstrap-stage1",
        "--stagex",
        sx,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains("bootstrap-stage0") && err.contains("container engine"),
        "{err}"
    );
}
