//! The real inputs: the upstream stage0-posix tree (STAGE0_POSIX_TREE) and the StageX root
//! (STAGEX_ROOT). Each test is ignored by default and fails naming its input when run
//! (`--ignored`) without it. The whole-chain tests take minutes and also need
//! STAGE0_SLOW_TESTS=1.
//!
//! Where this host runs i386 binaries natively, the native run is the reference; elsewhere
//! only the comparisons that need no native run are made (and the skip is printed).

use std::path::{Path, PathBuf};
use std::process::Command;

use stage0_testkit::Sandbox;

fn env_dir(var: &str, test: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(v) if Path::new(&v).is_dir() => PathBuf::from(v),
        _ => {
            panic!("missing input: {test} needs {var}; this test is ignored unless run with --ignored; README, 'Tests and the upstream tree'")
        }
    }
}

/// Fails the (ignored) test unless STAGE0_SLOW_TESTS=1 opts in to minutes of emulation.
fn require_slow(test: &str) {
    let on = std::env::var("STAGE0_SLOW_TESTS").is_ok_and(|v| v == "1");
    if !on {
        panic!("missing input: {test} takes minutes and needs STAGE0_SLOW_TESTS=1; this test is ignored unless run with --ignored; README, 'Tests and the upstream tree'");
    }
}

/// A copy of `src` in a fresh sandbox (`cp -a`, so modes are kept).
fn copy_tree(src: &Path, name: &str) -> Sandbox {
    let sb = Sandbox::new(name);
    let ok = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", src.display()))
        .arg(&sb.root)
        .status()
        .expect("cp");
    assert!(ok.success(), "copying {}", src.display());
    sb
}

/// Runs `argv` natively with `dir` as working directory (after chroot into `root` when
/// given) and an environment of exactly `env`. None when this host cannot run it.
fn native(root: Option<&Path>, dir: &str, argv: &[String], env: &[String]) -> Option<i32> {
    use std::os::unix::process::CommandExt;
    if !matches!(std::env::consts::ARCH, "x86" | "x86_64") {
        return None;
    }
    let mut c = Command::new(&argv[0]);
    c.args(&argv[1..]).env_clear();
    for e in env {
        let (k, v) = e.split_once('=').expect("KEY=VALUE");
        c.env(k, v);
    }
    match root {
        Some(r) => {
            let (r, d) = (r.to_path_buf(), dir.to_string());
            // SAFETY: only async-signal-safe work between fork and exec (two syscalls).
            unsafe {
                c.pre_exec(move || {
                    std::os::unix::fs::chroot(&r)?;
                    std::env::set_current_dir(&d)
                });
            }
        }
        None => {
            c.current_dir(dir);
        }
    }
    c.status().ok().and_then(|s| s.code())
}

fn stage0_runner() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stage0-runner"))
}

#[test]
#[ignore = "needs STAGE0_POSIX_TREE (a pristine stage0-posix checkout)"]
fn hex0_seed_rebuilds_itself_in_the_emulator() {
    let tree = env_dir(
        "STAGE0_POSIX_TREE",
        "hex0_seed_rebuilds_itself_in_the_emulator",
    );
    let seeds = tree.join("bootstrap-seeds/POSIX/x86");
    let sb = Sandbox::new("hex0-seed");
    sb.put(
        "hex0-seed",
        &std::fs::read(seeds.join("hex0-seed")).unwrap(),
    );
    sb.put(
        "hex0_x86.hex0",
        &std::fs::read(seeds.join("hex0_x86.hex0")).unwrap(),
    );
    let (k, r, _) = stage0_testkit::run_guest(
        &sb,
        "/hex0-seed",
        &["/hex0-seed", "/hex0_x86.hex0", "/hex0"],
        |_| {},
    );
    assert_eq!(r.unwrap(), vm::ExitStatus::Code(0));
    assert_eq!(
        sb.get("hex0"),
        sb.get("hex0-seed"),
        "hex0-seed must rebuild itself byte for byte"
    );
    let rec = &k.records()[0];
    assert_eq!(rec.syscalls.get("write"), Some(&181));
    assert_eq!(rec.syscalls.get("open"), Some(&2));
}

#[test]
#[ignore = "needs STAGE0_POSIX_TREE (a pristine stage0-posix checkout)"]
fn kaem_optional_seed_runs_the_seed_script_like_a_native_run() {
    let test = "kaem_optional_seed_runs_the_seed_script_like_a_native_run";
    let tree = env_dir("STAGE0_POSIX_TREE", test);
    let emu = copy_tree(&tree, "seed-emu");
    let argv = [
        "./bootstrap-seeds/POSIX/x86/kaem-optional-seed",
        "./x86/mescc-tools-seed-kaem.kaem",
    ];
    let (k, r, out) = stage0_testkit::run_guest(&emu, argv[0], &argv, |_| {});
    assert_eq!(
        r.unwrap(),
        vm::ExitStatus::Code(0),
        "{}",
        String::from_utf8_lossy(&out)
    );
    let seeds = "bootstrap-seeds/POSIX/x86";
    assert_eq!(
        emu.get("x86/artifact/hex0"),
        emu.get(&format!("{seeds}/hex0-seed"))
    );
    assert_eq!(
        emu.get("x86/artifact/kaem-0"),
        emu.get(&format!("{seeds}/kaem-optional-seed"))
    );
    // kaem-optional-seed forked and exec'd both hex0 steps.
    let exes: Vec<&str> = k.records().iter().map(|r| r.exe.as_str()).collect();
    assert_eq!(
        exes,
        [
            "/bootstrap-seeds/POSIX/x86/kaem-optional-seed",
            "/bootstrap-seeds/POSIX/x86/hex0-seed",
            "/x86/artifact/hex0"
        ]
    );

    let nat = copy_tree(&tree, "seed-native");
    let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    match native(None, nat.root.to_str().unwrap(), &argv, &[]) {
        Some(0) => {
            for f in ["x86/artifact/hex0", "x86/artifact/kaem-0"] {
                assert_eq!(emu.get(f), nat.get(f), "{f} differs from the native run");
            }
        }
        Some(code) => panic!("the native run failed with status {code}"),
        None => {
            eprintln!("SKIPPED: native comparison in {test}: this host does not run i386 binaries")
        }
    }
}

fn verified_line(out: &[u8]) -> String {
    String::from_utf8_lossy(out)
        .lines()
        .find(|l| l.starts_with("VERIFIED") || l.starts_with("FAILED"))
        .unwrap_or("")
        .to_string()
}

#[test]
#[ignore = "needs STAGE0_POSIX_TREE (a pristine stage0-posix checkout) and STAGE0_SLOW_TESTS=1 (minutes)"]
fn whole_upstream_chain_gives_19_of_19_and_identical_provenance_twice() {
    let test = "whole_upstream_chain_gives_19_of_19_and_identical_provenance_twice";
    let tree = env_dir("STAGE0_POSIX_TREE", test);
    require_slow(test);
    let runs: Vec<(Sandbox, std::thread::JoinHandle<std::process::Output>)> = (0..2)
        .map(|i| {
            let sb = copy_tree(&tree, &format!("chain-{i}"));
            let root = sb.root.clone();
            let h = std::thread::spawn(move || {
                stage0_runner()
                    .arg("run")
                    .arg("-q")
                    .arg("--provenance")
                    .arg(root.join("provenance.json"))
                    .arg(&root)
                    .output()
                    .unwrap()
            });
            (sb, h)
        })
        .collect();
    let mut provs = Vec::new();
    for (sb, h) in runs {
        let o = h.join().unwrap();
        let line = verified_line(&o.stdout);
        assert!(
            o.status.success() && line.starts_with("VERIFIED: 19/19"),
            "{line}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        provs.push(std::fs::read(sb.root.join("provenance.json")).unwrap());
    }
    assert_eq!(
        provs[0], provs[1],
        "two runs must give byte-identical provenance"
    );
}

#[test]
#[ignore = "needs STAGEX_ROOT (a StageX stage0 root) and STAGE0_SLOW_TESTS=1 (minutes)"]
fn stagex_layout_builds_the_20_binaries_a_native_run_builds() {
    let test = "stagex_layout_builds_the_20_binaries_a_native_run_builds";
    let root = env_dir("STAGEX_ROOT", test);
    require_slow(test);
    let emu = copy_tree(&root, "stagex-emu");
    let o = stage0_runner()
        .args(["run", "-q", "--layout", "stagex"])
        .arg(&emu.root)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let plan = stage0_chain::plan(&emu.root, stage0_chain::Layout::Stagex).unwrap();
    let containerfile = std::fs::read_to_string(emu.root.join("Containerfile")).unwrap();
    let binaries: Vec<String> = containerfile
        .lines()
        .filter_map(|l| l.strip_prefix("COPY --from=build /build/"))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    assert_eq!(binaries.len(), 20);
    for b in &binaries {
        assert!(
            emu.root.join("build").join(b).is_file(),
            "/build/{b} was not built"
        );
    }
    // The native reference: the same steps under chroot (needs root and an i386-capable host).
    let is_root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    if !is_root {
        eprintln!("SKIPPED: native comparison in {test}: chroot needs root");
        return;
    }
    let nat = copy_tree(&root, "stagex-native");
    for (path, data) in &plan.files {
        std::fs::write(nat.root.join(path.trim_start_matches('/')), data).unwrap();
    }
    for step in &plan.steps {
        match native(Some(&nat.root), &step.cwd, &step.argv, &step.env) {
            Some(0) => {}
            Some(code) => panic!("native step {:?} failed with {code}", step.argv),
            None => {
                eprintln!(
                    "SKIPPED: native comparison in {test}: this host does not run i386 binaries"
                );
                return;
            }
        }
    }
    for b in &binaries {
        let f = format!("build/{b}");
        assert_eq!(
            emu.get(&f),
            nat.get(&f),
            "/{f} differs from the native build"
        );
    }
}
