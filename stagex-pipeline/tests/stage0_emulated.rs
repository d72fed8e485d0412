//! bootstrap-stage0 without a container engine: sources from the snapshots, the root laid
//! out in Rust, the Containerfile's build stages run in the i386 emulator, the OCI layout
//! compared with StageX's published digests and the binaries with a native chroot build.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use stage0_chain::{self as chain, preflight, Layout};
use stagex_pipeline::build_args::target_build_args;
use stagex_pipeline::build_root::{lay_out, BuildContext};
use stagex_pipeline::containerfile::Containerfile;
use stagex_pipeline::emulated::{build_emulated, fetch_target_sources};
use stagex_pipeline::fetch::Provider;
use stagex_pipeline::graph::{Graph, Target};
use stagex_pipeline::native::run_stage;
use stagex_pipeline::sources::fetch_dir;
use stagex_pipeline::Error;

/// digests/bootstrap.txt: the manifest digest of bootstrap-stage0.
const PUBLISHED_MANIFEST: &str =
    "sha256:cee5701e9d52177885a7b4149f83a6f825f7840cb8d7d27cda0d8fc1d107367c";
/// The config digest of that manifest.
const PUBLISHED_CONFIG: &str =
    "sha256:fa48f92d25f2322869ca3d3ade57be59b8053504c986f63d142443b7928bfc57";

const STAGE0: &str = "bootstrap-stage0";

/// A StageX checkout at the snapshot's HEAD with bootstrap-stage0's sources fetched.
fn stagex_with_sources(mirror: &Path, dir: &Path) -> Graph {
    common::checkout_stagex(mirror, "HEAD", dir);
    let g = Graph::load(dir).unwrap();
    let providers = [Provider::Snapshots(mirror.to_path_buf())];
    let fetched = fetch_target_sources(dir, &g.targets[STAGE0], &providers).unwrap();
    assert_eq!(fetched.len(), 6);
    g
}

fn lay_out_stage0(stagex: &Path, t: &Target, work: &Path) -> std::path::PathBuf {
    let package_dir = t.dir(stagex);
    let cf = Containerfile::read(&package_dir.join("Containerfile")).unwrap();
    let ctx = BuildContext {
        fetch_dir: fetch_dir(stagex, &t.stage, &t.package.package.name),
        package_dir: package_dir.clone(),
    };
    let args: BTreeMap<_, _> = target_build_args(t).unwrap().into_iter().collect();
    let (root, _) = lay_out(&cf, &ctx, &args, work).unwrap();
    std::fs::copy(
        package_dir.join("Containerfile"),
        root.join("Containerfile"),
    )
    .unwrap();
    root
}

#[test]
#[ignore = "needs STAGE0_MIRROR (git snapshots <owner>+<name>/repo)"]
fn stage0_root_is_laid_out_from_fetched_sources() {
    let test = "stage0_root_is_laid_out_from_fetched_sources";
    let mirror = common::env_dir(
        test,
        "STAGE0_MIRROR",
        "git snapshots root like /work/.mirror",
    );
    let dir = tempfile::tempdir().unwrap();
    let g = stagex_with_sources(&mirror, dir.path());
    let t = &g.targets[STAGE0];
    let args = target_build_args(t).unwrap();
    assert!(args.contains(&(
        "M2LIBC_SOURCE".to_string(),
        "m2libc-27ab5de4247e8b00459b2b21109109db8eb4d643.tar.gz".to_string()
    )));
    let root = lay_out_stage0(dir.path(), t, &dir.path().join("work"));
    // stage0-runner accepts the root: sources present, the published hex0 seed.
    let plan = chain::plan(&root, Layout::Stagex).unwrap();
    assert_eq!(plan.steps.len(), 3);
    assert_eq!(
        preflight::check(&root, Some(&plan), Layout::Stagex, None),
        Vec::<preflight::Problem>::new()
    );
    // Same files as the shell lay-out (stage0-tree ... stagex), when one is given.
    if let Some(reference) = std::env::var_os("STAGEX_ROOT") {
        for d in [
            "x86",
            "M2libc",
            "M2-Planet",
            "M2-Mesoplanet",
            "mescc-tools",
            "mescc-tools-extra",
            "hex0-seed",
            "Containerfile",
        ] {
            let status = std::process::Command::new("diff")
                .arg("-r")
                .arg(root.join(d))
                .arg(Path::new(&reference).join(d))
                .status()
                .unwrap();
            assert!(status.success(), "{d} differs from $STAGEX_ROOT");
        }
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The 20 binaries the package stage copies, with their bytes and modes.
fn package_files(root: &Path, cf: &Containerfile) -> Vec<(String, Vec<u8>, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let package = cf.stages.last().unwrap();
    package
        .instructions
        .iter()
        .map(|i| {
            let p = root.join(i.args[0].trim_start_matches('/'));
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777;
            (i.args[0].clone(), std::fs::read(&p).unwrap(), mode)
        })
        .collect()
}

#[test]
#[ignore = "needs STAGE0_MIRROR (git snapshots <owner>+<name>/repo) and STAGE0_SLOW_TESTS=1 (minutes)"]
fn stage0_emulated_build_matches_published_digests() {
    let test = "stage0_emulated_build_matches_published_digests";
    let mirror = common::env_dir(
        test,
        "STAGE0_MIRROR",
        "git snapshots root like /work/.mirror",
    );
    if std::env::var("STAGE0_SLOW_TESTS").as_deref() != Ok("1") {
        panic!(
            "missing input: {test} needs STAGE0_SLOW_TESTS=1 (minutes of emulation; use --release) (this test is ignored unless run with --ignored; README, 'Tests and the upstream tree')"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let g = stagex_with_sources(&mirror, dir.path());
    let t = &g.targets[STAGE0];
    let out = dir.path().join("oci");
    let b = build_emulated(dir.path(), t, &[], &dir.path().join("emu"), &out, true).unwrap();
    eprintln!(
        "emulated: {} steps, {} programs, {} instructions, {:.1} s",
        b.run.steps,
        b.run.programs,
        b.run.instructions,
        b.run.wall.as_secs_f64()
    );
    assert_eq!(b.digests.config, PUBLISHED_CONFIG);
    assert_eq!(b.digests.manifest, PUBLISHED_MANIFEST);
    assert!(out
        .join("blobs/sha256")
        .join(PUBLISHED_MANIFEST.trim_start_matches("sha256:"))
        .is_file());

    // The same root built natively (chroot) gives the same 20 binaries and modes.
    if !is_root() {
        eprintln!("SKIPPED part of {test}: the native comparison needs root (chroot)");
        return;
    }
    let native_root = lay_out_stage0(dir.path(), t, &dir.path().join("native"));
    let cf = Containerfile::read(&native_root.join("Containerfile")).unwrap();
    for name in ["seeds", "build"] {
        match run_stage(&native_root, cf.stage(name).unwrap()) {
            Ok(_) => {}
            Err(Error::Command { message, .. }) if message.contains("os error 8") => {
                eprintln!("SKIPPED part of {test}: this host cannot execute i386 binaries");
                return;
            }
            Err(e) => panic!("native stage {name}: {e}"),
        }
    }
    let emulated = package_files(&b.root, &cf);
    let native = package_files(&native_root, &cf);
    assert_eq!(emulated.len(), 20);
    for (e, n) in emulated.iter().zip(&native) {
        assert_eq!(e.0, n.0);
        assert!(e.1 == n.1, "{}: emulated and native bytes differ", e.0);
        assert_eq!(e.2, n.2, "{}: mode", e.0);
    }
}
