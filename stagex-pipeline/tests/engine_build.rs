//! `build --engine docker` on a real BuildKit, with nothing from upstream: the tests write a
//! small StageX-shaped tree and the base image (tiny i386 programs the tests assemble, put
//! into an OCI layout by this tool's own writer), then build packages on it with buildx.
//!
//! They need a running engine: `scripts/test.sh` starts one (scripts/engine-setup.sh), sets
//! STAGE0_DOCKER=1 and runs them with `--ignored`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn engine() {
    assert_eq!(
        std::env::var("STAGE0_DOCKER").as_deref(),
        Ok("1"),
        "needs STAGE0_DOCKER=1 and a running engine (scripts/engine-setup.sh)"
    );
}

/// A static i386 ELF whose whole program is `exit(code)`.
fn exit_elf(code: u8) -> Vec<u8> {
    let mut e = vec![0x7f, b'E', b'L', b'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let base: u32 = 0x0804_8000;
    let code_bytes = [0xb8, 1, 0, 0, 0, 0xbb, code, 0, 0, 0, 0xcd, 0x80];
    let total = (52 + 32 + code_bytes.len()) as u32;
    for v in [2u16, 3] {
        e.extend(v.to_le_bytes());
    }
    for v in [1u32, base + 84, 52, 0, 0] {
        e.extend(v.to_le_bytes());
    }
    for v in [52u16, 32, 1, 0, 0, 0] {
        e.extend(v.to_le_bytes());
    }
    for v in [1u32, 0, base, base, total, total, 5, 0x1000] {
        e.extend(v.to_le_bytes());
    }
    e.extend(code_bytes);
    assert_eq!(e.len() as u32, total);
    e
}

const TREE: &[(&str, &str)] = &[
    (
        "packages/test/base/Containerfile",
        "FROM scratch AS build\nFROM scratch AS package\nCOPY --from=build /build/true /bin/\nCOPY --from=build /build/fail /bin/\n",
    ),
    (
        "packages/test/base/package.toml",
        "[package]\nname = \"base\"\nplatforms = [\"linux/386\"]\n",
    ),
    (
        "packages/test/hello/Containerfile",
        "FROM stagex/test-base AS build\nRUN [\"/bin/true\"]\nFROM scratch AS package\nCOPY --from=build /bin/true /bin/true\nCOPY hello.txt /hello.txt\n",
    ),
    ("packages/test/hello/hello.txt", "hello from the test\n"),
    (
        "packages/test/hello/package.toml",
        "[package]\nname = \"hello\"\nversion = \"1.0\"\nplatforms = [\"linux/386\"]\n",
    ),
    (
        "packages/test/other/Containerfile",
        "FROM scratch AS package\nCOPY --from=stagex/test-base /bin/fail /bin/fail\nCOPY other.txt /\n",
    ),
    ("packages/test/other/other.txt", "another package\n"),
    (
        "packages/test/other/package.toml",
        "[package]\nname = \"other\"\nversion = \"2\"\nplatforms = [\"linux/386\"]\n",
    ),
    (
        "packages/test/all/Containerfile",
        "FROM scratch AS package\nCOPY --from=stagex/test-hello /hello.txt /\nCOPY --from=stagex/test-other /other.txt /\n",
    ),
    (
        "packages/test/all/package.toml",
        "[package]\nname = \"all\"\nversion = \"3\"\nplatforms = [\"linux/386\"]\n",
    ),
    (
        "packages/test/fail/Containerfile",
        "FROM stagex/test-base\nRUN [\"/bin/fail\"]\n",
    ),
    (
        "packages/test/fail/package.toml",
        "[package]\nname = \"fail\"\nplatforms = [\"linux/386\"]\n",
    ),
    (
        "packages/test/needs/Containerfile",
        "FROM stagex/test-base\nADD fetch/thing-1.tar.gz /\n",
    ),
    (
        "packages/test/needs/package.toml",
        "[package]\nname = \"needs\"\nversion = \"1\"\nplatforms = [\"linux/386\"]\n\
         [sources.thing]\nhash = \"0a1b0c0d0e0f0a1b0c0d0e0f0a1b0c0d0e0f0a1b0c0d0e0f0a1b0c0d0e0f0a1b\"\n\
         file = \"thing-{version}.tar.gz\"\nmirrors = [\"https://example.invalid/thing-{version}.tar.gz\"]\n",
    ),
];

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stagex-pipeline"))
        .args(args)
        .output()
        .unwrap()
}

/// `stagex-pipeline build TARGET --engine docker --stagex S --out O EXTRA...`.
fn build(target: &str, s: &str, o: &str, extra: &[&str]) -> Output {
    let mut a = vec![
        "build", target, "--engine", "docker", "--stagex", s, "--out", o,
    ];
    a.extend_from_slice(extra);
    cli(&a)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The tree, and OUT/test-base written by this tool's OCI writer.
fn setup(dir: &Path) -> (String, String) {
    let stagex = dir.join("stagex");
    for (path, body) in TREE {
        let p = stagex.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    let root = dir.join("root/build");
    std::fs::create_dir_all(&root).unwrap();
    for (name, code) in [("true", 0), ("fail", 3)] {
        let p = root.join(name);
        std::fs::write(&p, exit_elf(code)).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = dir.join("out");
    let (s, o) = (stagex.display().to_string(), out.display().to_string());
    let r = cli(&[
        "image",
        "--stagex",
        &s,
        "--build-root",
        &dir.join("root").display().to_string(),
        "--out",
        &format!("{o}/test-base"),
        "--target",
        "test-base",
    ]);
    assert!(r.status.success(), "{}", text(&r));
    (s, o)
}

fn digests(out: &str) -> String {
    std::fs::read_to_string(Path::new(out).join("digests/test.txt")).unwrap()
}

fn leftovers(out: &str) -> Vec<String> {
    std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".partial"))
        .collect()
}

#[test]
#[ignore = "needs a container engine: STAGE0_DOCKER=1 (scripts/test.sh starts one)"]
fn engine_builds_on_our_own_layout_reproducibly() {
    engine();
    let dir = tempfile::tempdir().unwrap();
    let (s, o) = setup(dir.path());
    let r = build("test-hello", &s, &o, &[]);
    let t = text(&r);
    assert!(r.status.success(), "{t}");
    assert!(t.contains("test-base") && t.contains("present"), "{t}");
    assert!(t.contains("test-hello") && t.contains("built "), "{t}");
    let first = digests(&o);
    assert_eq!(first.lines().count(), 2, "{first}");
    assert!(first.lines().any(|l| l.ends_with(" test-hello")), "{first}");
    // Present targets are not rebuilt; a removed one is, with the same digest.
    std::fs::remove_dir_all(Path::new(&o).join("test-hello")).unwrap();
    let r = build("test-hello", &s, &o, &["--progress=plain"]);
    let t = text(&r);
    assert!(r.status.success(), "{t}");
    assert!(
        t.contains("test-hello | "),
        "plain progress copies the log: {t}"
    );
    assert_eq!(digests(&o), first);
    assert!(leftovers(&o).is_empty());
    let v = cli(&["verify", "--stagex", &s, "--out", &o]);
    assert!(v.status.success(), "{}", text(&v));
    assert!(text(&v).contains("unpublished test-hello"), "{}", text(&v));
}

#[test]
#[ignore = "needs a container engine: STAGE0_DOCKER=1 (scripts/test.sh starts one)"]
fn engine_failing_run_is_named_and_leaves_nothing() {
    engine();
    let dir = tempfile::tempdir().unwrap();
    let (s, o) = setup(dir.path());
    let r = build("test-fail", &s, &o, &[]);
    let t = text(&r);
    assert!(!r.status.success(), "{t}");
    assert!(t.contains("test-fail") && t.contains("exit code: 3"), "{t}");
    assert!(
        t.contains("a RUN step failed") && t.contains("logs/test-fail.log"),
        "{t}"
    );
    assert!(!Path::new(&o).join("test-fail").exists());
    // What was built before the failure is listed.
    assert!(digests(&o).ends_with(" test-base\n"), "{}", digests(&o));
    assert!(leftovers(&o).is_empty());
}

#[test]
#[ignore = "needs a container engine: STAGE0_DOCKER=1 (scripts/test.sh starts one)"]
fn engine_missing_source_is_named_before_building() {
    engine();
    let dir = tempfile::tempdir().unwrap();
    let (s, o) = setup(dir.path());
    let r = build("test-needs", &s, &o, &[]);
    let t = text(&r);
    assert!(!r.status.success(), "{t}");
    assert!(
        t.contains("thing-1.tar.gz")
            && t.contains("0a1b0c0d0e0f")
            && t.contains("https://example.invalid/thing-1.tar.gz")
            && t.contains("nothing built"),
        "{t}"
    );
    assert!(!Path::new(&o).join("test-needs").exists());
    assert!(!Path::new(&o).join("logs/test-needs.log").exists(), "{t}");
    // Continuing runs the Containerfile, which stops at the missing file.
    let r = build("test-needs", &s, &o, &["--missing-sources=continue"]);
    let t = text(&r);
    assert!(!r.status.success(), "{t}");
    assert!(Path::new(&o).join("logs/test-needs.log").exists(), "{t}");
    assert!(!Path::new(&o).join("test-needs").exists());
}

/// A second builder name for the same engine: a docker context on its socket.
struct Context(String);

impl Context {
    fn new(name: &str) -> Self {
        let host = std::env::var("DOCKER_HOST").unwrap_or("unix:///var/run/docker.sock".into());
        let _ = Command::new("docker")
            .args(["context", "rm", "-f", name])
            .output();
        let o = Command::new("docker")
            .args([
                "context",
                "create",
                name,
                "--docker",
                &format!("host={host}"),
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        Context(name.to_string())
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["context", "rm", "-f", &self.0])
            .output();
    }
}

#[test]
#[ignore = "needs a container engine: STAGE0_DOCKER=1 (scripts/test.sh starts one)"]
fn engine_level_split_over_two_builders_gives_the_same_digests() {
    engine();
    let second = std::env::var("STAGE0_DOCKER_SECOND").ok();
    let _ctx;
    let second = match second {
        Some(b) => b,
        None => {
            let name = format!("stage0-test-{}", std::process::id());
            _ctx = Context::new(&name);
            name
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let (s, o) = setup(dir.path());
    let run = |extra: &[&str]| {
        for t in ["test-hello", "test-other", "test-all"] {
            let _ = std::fs::remove_dir_all(Path::new(&o).join(t));
        }
        let r = build("test-all", &s, &o, extra);
        assert!(r.status.success(), "{}", text(&r));
        (digests(&o), text(&r))
    };
    let (one, _) = run(&[]);
    // Level 1 holds test-hello and test-other: one goes to each builder, at once.
    let (two, log) = run(&["--builder", "default", "--builder", &second, "--jobs", "2"]);
    eprintln!("{log}{two}");
    assert_eq!(one, two, "{log}");
    assert_eq!(one.lines().count(), 4, "{one}");
    let level1: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("level  1") && l.contains("built "))
        .collect();
    assert_eq!(level1.len(), 2, "{log}");
    assert!(level1.iter().any(|l| l.contains(" default ")), "{log}");
    assert!(
        level1.iter().any(|l| l.contains(&format!(" {second} "))),
        "{log}"
    );
}

#[test]
#[ignore = "needs a container engine: STAGE0_DOCKER=1 (scripts/test.sh starts one)"]
fn engine_canary_stops_when_stage0_differs() {
    engine();
    let dir = tempfile::tempdir().unwrap();
    let (s, o) = setup(dir.path());
    let stagex = Path::new(&s);
    // A bootstrap-stage0 the engine can build here, a different "emulated" one in OUT, and
    // a published digest matching neither.
    let s0 = stagex.join("packages/bootstrap/stage0");
    std::fs::create_dir_all(&s0).unwrap();
    std::fs::write(s0.join("Containerfile"), "FROM scratch\nCOPY x /x\n").unwrap();
    std::fs::write(s0.join("x"), "engine stage0\n").unwrap();
    std::fs::write(
        s0.join("package.toml"),
        "[package]\nname = \"stage0\"\nplatforms = [\"linux/386\"]\n",
    )
    .unwrap();
    let user = stagex.join("packages/test/user");
    std::fs::create_dir_all(&user).unwrap();
    std::fs::write(
        user.join("Containerfile"),
        "FROM scratch\nCOPY --from=stagex/bootstrap-stage0 /x /x\n",
    )
    .unwrap();
    std::fs::write(user.join("package.toml"), "[package]\nname = \"user\"\n").unwrap();
    std::fs::create_dir_all(stagex.join("digests")).unwrap();
    let published = "f".repeat(64);
    std::fs::write(
        stagex.join("digests/bootstrap.txt"),
        format!("{published} bootstrap-stage0\n"),
    )
    .unwrap();
    let cp = Command::new("cp")
        .arg("-a")
        .arg(Path::new(&o).join("test-base"))
        .arg(Path::new(&o).join("bootstrap-stage0"))
        .status()
        .unwrap();
    assert!(cp.success());
    let r = build("test-user", &s, &o, &[]);
    let t = text(&r);
    assert!(!r.status.success(), "{t}");
    assert!(
        t.contains("canary") && t.contains("engine ") && t.contains("!= emulated"),
        "{t}"
    );
    assert!(t.contains(&format!("!= published {published}")), "{t}");
    assert!(!Path::new(&o).join("test-user").exists(), "{t}");
    assert!(Path::new(&o)
        .join(".canary/bootstrap-stage0/index.json")
        .is_file());
}
