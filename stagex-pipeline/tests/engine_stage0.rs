//! A small package of the tests' own on StageX's Stage0: copies `/bin` from
//! `stagex/bootstrap-stage0`, compiles C with M2-Mesoplanet on linux/386 and runs the
//! result, once on the emulator's Stage0 and once on the engine's; the two images must have
//! the same digest.
//!
//! Needs an engine (STAGE0_DOCKER=1), both Stage0 layouts as `build bootstrap-stage0
//! --engine docker` leaves them (STAGE0_EMULATED_LAYOUT: OUT/bootstrap-stage0 with the
//! default `--stage0 emulated`; STAGE0_ENGINE_LAYOUT: OUT/.canary/bootstrap-stage0) and
//! M2libc from a StageX stage0 root (STAGEX_ROOT).

use std::path::{Path, PathBuf};
use std::process::Command;

fn var(name: &str) -> PathBuf {
    let v = std::env::var_os(name)
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("needs ${name}"));
    assert!(v.is_dir(), "${name}={} is not a directory", v.display());
    v
}

const CONTAINERFILE: &str = "FROM stagex/bootstrap-stage0 AS stage0
FROM scratch AS build
COPY --from=stagex/bootstrap-stage0 /bin /bin
COPY M2libc /M2libc
COPY hello.c /src/hello.c
ENV M2LIBC_PATH=/M2libc
ENV TMPDIR=/tmp
WORKDIR /tmp
WORKDIR /src
RUN [\"/bin/M2-Mesoplanet\", \"--architecture\", \"x86\", \"-f\", \"hello.c\", \"-o\", \"hello\"]
RUN [\"/src/hello\"]
FROM scratch AS package
COPY --from=build /src/hello /bin/hello
";

/// The C program, with a nonce so that no earlier run's BuildKit cache answers for it.
fn hello(nonce: &str) -> String {
    format!(
        "#include <stdio.h>\nint main() {{ puts(\"hello from M2-Mesoplanet {nonce}\"); return 0; }}\n"
    )
}

fn copy_tree(from: &Path, to: &Path) {
    let s = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(s.success(), "cp -a {} {}", from.display(), to.display());
}

/// The engine Stage0's build goes to STAGE0_DOCKER_SECOND when set (another engine, whose
/// cache has not seen the first build).
fn builder(name: &str) -> Vec<String> {
    match std::env::var("STAGE0_DOCKER_SECOND") {
        Ok(b) if name == "engine" => vec!["--builder".into(), b],
        _ => vec![],
    }
}

#[test]
#[ignore = "needs STAGE0_DOCKER=1, STAGE0_EMULATED_LAYOUT, STAGE0_ENGINE_LAYOUT and STAGEX_ROOT"]
fn m2_mesoplanet_package_same_on_emulated_and_engine_stage0() {
    assert_eq!(std::env::var("STAGE0_DOCKER").as_deref(), Ok("1"));
    let (emulated, engine, root) = (
        var("STAGE0_EMULATED_LAYOUT"),
        var("STAGE0_ENGINE_LAYOUT"),
        var("STAGEX_ROOT"),
    );
    let dir = tempfile::tempdir().unwrap();
    let stagex = dir.path().join("stagex");
    let pkg = stagex.join("packages/test/m2hello");
    let s0 = stagex.join("packages/bootstrap/stage0");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::create_dir_all(&s0).unwrap();
    std::fs::write(s0.join("Containerfile"), "FROM scratch\n").unwrap();
    std::fs::write(
        s0.join("package.toml"),
        "[package]\nname = \"stage0\"\nplatforms = [\"linux/386\"]\n",
    )
    .unwrap();
    std::fs::write(pkg.join("Containerfile"), CONTAINERFILE).unwrap();
    let nonce = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    std::fs::write(pkg.join("hello.c"), hello(&nonce)).unwrap();
    std::fs::write(
        pkg.join("package.toml"),
        "[package]\nname = \"m2hello\"\nversion = \"1\"\nplatforms = [\"linux/386\"]\n",
    )
    .unwrap();
    copy_tree(&root.join("M2libc"), &pkg.join("M2libc"));
    let mut digests = Vec::new();
    for (name, layout) in [("emulated", &emulated), ("engine", &engine)] {
        let out = dir.path().join(name);
        std::fs::create_dir_all(&out).unwrap();
        copy_tree(layout, &out.join("bootstrap-stage0"));
        // A Stage0 already in OUT is used as is: no canary can run on this tree (its
        // bootstrap-stage0 Containerfile is a placeholder), so skip it explicitly.
        std::fs::create_dir_all(out.join(".canary")).unwrap();
        copy_tree(layout, &out.join(".canary/bootstrap-stage0"));
        let o = Command::new(env!("CARGO_BIN_EXE_stagex-pipeline"))
            .args(["build", "test-m2hello", "--engine", "docker", "--stagex"])
            .arg(&stagex)
            .arg("--out")
            .arg(&out)
            .arg("--progress=plain")
            .args(builder(name))
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        eprintln!("{name}:\n{text}");
        assert!(o.status.success(), "{text}");
        // BuildKit caches by content: on one engine the second build reuses the first's
        // result (identical Stage0 bytes) and prints nothing; a second engine runs it.
        if name == "emulated" || !builder(name).is_empty() {
            assert!(
                text.contains(&format!("hello from M2-Mesoplanet {nonce}")),
                "{text}"
            );
        }
        digests.push(std::fs::read_to_string(out.join("digests/test.txt")).unwrap());
    }
    assert_eq!(digests[0], digests[1]);
}
