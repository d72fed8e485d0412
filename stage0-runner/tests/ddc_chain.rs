//! `stage0-runner ddc` on the real chain: with Rust substitutes, with host-compiled tools
//! and with both, every substituted step writes what the emulated program wrote, the
//! output trees are identical and the 19 answers match. Takes a quarter of an hour (one
//! all-emulated reference run, then three runs with substitutes): needs STAGE0_POSIX_TREE
//! and STAGE0_SLOW_TESTS=1 (and `cc` for the host-compiled tools).

use std::path::Path;
use std::process::Command;

/// Runs `stage0-runner ARGS`, asserting exit 0; returns stdout.
fn runner(args: &[&std::ffi::OsStr]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_stage0-runner"))
        .args(args)
        .output()
        .expect("stage0-runner runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "stage0-runner {args:?}:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Table rows whose "substituted by" column starts with `kind` (`rust` or `host-cc`).
fn rows<'a>(stdout: &'a str, kind: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .filter(|l| {
            let mut cols = l.split_whitespace();
            cols.next().is_some_and(|n| n.parse::<usize>().is_ok()) && cols.next() == Some(kind)
        })
        .collect()
}

fn assert_verified(stdout: &str, with: &str) {
    assert!(stdout.contains("DDC VERIFIED"), "--with {with}:\n{stdout}");
    assert!(
        stdout.contains("output trees identical"),
        "--with {with}:\n{stdout}"
    );
    assert!(
        stdout.contains("19/19 answers match"),
        "--with {with}:\n{stdout}"
    );
    assert!(!stdout.contains(" NO "), "--with {with}:\n{stdout}");
}

#[test]
#[ignore = "needs STAGE0_POSIX_TREE (a pristine stage0-posix checkout), STAGE0_SLOW_TESTS=1 (minutes) and cc"]
fn ddc_with_every_substitute_set_is_identical_to_the_emulated_chain() {
    let test = "ddc_with_every_substitute_set_is_identical_to_the_emulated_chain";
    let Some(tree) = std::env::var_os("STAGE0_POSIX_TREE") else {
        panic!("missing input: {test} needs $STAGE0_POSIX_TREE (a pristine stage0-posix checkout) (this test is ignored unless run with --ignored; README, 'Tests and the upstream tree')");
    };
    if std::env::var("STAGE0_SLOW_TESTS").as_deref() != Ok("1") {
        panic!("missing input: {test} needs STAGE0_SLOW_TESTS=1 (four whole chains, minutes each) (this test is ignored unless run with --ignored; README, 'Tests and the upstream tree')");
    }
    let work = std::env::temp_dir().join(format!("stage0-ddc-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    // One all-emulated reference for the three runs, on a copy of the tree.
    let reference = work.join("reference");
    stage0_runner::cmd::ddc::copy_tree(Path::new(&tree), &reference).unwrap();
    let prov = work.join("reference.json");
    runner(&[
        "run".as_ref(),
        "--quiet".as_ref(),
        "--provenance".as_ref(),
        prov.as_os_str(),
        reference.as_os_str(),
    ]);
    let ddc = |with: &str| {
        let scratch = work.join(with);
        runner(&[
            "ddc".as_ref(),
            "--with".as_ref(),
            with.as_ref(),
            "--reference".as_ref(),
            reference.as_os_str(),
            "--reference-provenance".as_ref(),
            prov.as_os_str(),
            "--work".as_ref(),
            scratch.as_os_str(),
            tree.as_os_str(),
        ])
    };

    let rust = ddc("rust");
    assert_verified(&rust, "rust");
    // Every hex0 .. blood-elf step of the chain: dozens of them.
    let n = rows(&rust, "rust").len();
    assert!(n > 50, "only {n} Rust-substituted steps:\n{rust}");

    if stage0_runner::cmd::ddc::hostcc::find_cc().is_none() {
        let _ = std::fs::remove_dir_all(&work);
        panic!("missing input: the host-cc half of {test} needs a C compiler (`cc` on PATH); this test is ignored unless run with --ignored; README, 'Tests and the upstream tree'");
    }
    let host = ddc("host-cc");
    assert_verified(&host, "host-cc");
    let host_rows = rows(&host, "host-cc");
    // The 13 mescc-tools-extra programs come from the host-compiled M2-Mesoplanet
    // (with host-compiled M2-Planet, blood-elf, M1 and hex2 as its children).
    let meso = host_rows
        .iter()
        .filter(|l| l.contains("host-cc M2-Mesoplanet"))
        .count();
    assert_eq!(meso, 13, "{host}");
    for tool in ["M1", "hex2", "blood-elf"] {
        assert!(
            host_rows
                .iter()
                .any(|l| l.contains(&format!("host-cc {tool} "))),
            "no host-cc {tool} step:\n{host}"
        );
    }
    assert!(rows(&host, "rust").is_empty(), "{host}");

    let both = ddc("both");
    assert_verified(&both, "both");
    assert_eq!(rows(&both, "host-cc").len(), host_rows.len(), "{both}");
    assert!(rows(&both, "rust").len() > 20, "{both}");
    let _ = std::fs::remove_dir_all(&work);
}
