//! Recreating bootstrap-stage0's six GitHub archive tarballs from git snapshots.

mod common;

use stagex_pipeline::fetch::{fetch_source, FetchOutcome, Provider};
use stagex_pipeline::graph::Graph;
use stagex_pipeline::sources::{fetch_dir, resolve_sources};
use stagex_pipeline::Error;

#[test]
#[ignore = "needs STAGE0_MIRROR (git snapshots <owner>+<name>/repo)"]
fn stage0_sources_reproduce_from_snapshots() {
    let mirror = common::env_dir(
        "stage0_sources_reproduce_from_snapshots",
        "STAGE0_MIRROR",
        "git snapshots root like /work/.mirror",
    );
    let dir = tempfile::tempdir().unwrap();
    common::checkout_stagex(&mirror, "HEAD", dir.path());
    let g = Graph::load(dir.path()).unwrap();
    let t = &g.targets["bootstrap-stage0"];
    let sources = resolve_sources(&t.package, t.version.as_deref()).unwrap();
    assert_eq!(sources.len(), 6);
    let dest = fetch_dir(dir.path(), "bootstrap", "stage0");
    let providers = [Provider::Snapshots(mirror.clone())];
    for s in &sources {
        let outcome = fetch_source(s, &dest, "bootstrap", "stage0", &providers).unwrap();
        assert!(
            matches!(outcome, FetchOutcome::Placed(_)),
            "{}: {outcome:?}",
            s.key
        );
        let bytes = std::fs::read(dest.join(&s.file)).unwrap();
        assert_eq!(
            stagex_pipeline::fetch::sha256_hex(&bytes),
            s.hash,
            "{}",
            s.key
        );
    }
    // A second run finds them in place.
    for s in &sources {
        assert_eq!(
            fetch_source(s, &dest, "bootstrap", "stage0", &providers).unwrap(),
            FetchOutcome::AlreadyPresent
        );
    }

    // A wrong expected hash is an error naming the source and both hashes.
    let mut wrong = sources[0].clone();
    wrong.hash = "0".repeat(64);
    let other = tempfile::tempdir().unwrap();
    match fetch_source(&wrong, other.path(), "bootstrap", "stage0", &providers) {
        Err(Error::HashMismatch {
            source_name,
            expected,
            actual,
            ..
        }) => {
            assert_eq!(source_name, wrong.key);
            assert_eq!(expected, wrong.hash);
            assert_eq!(actual, sources[0].hash);
        }
        other => panic!("expected a hash mismatch, got {other:?}"),
    }
    assert!(!other.path().join(&wrong.file).exists());
}
