//! Random inputs: the Rust seed tools and the emulated upstream binaries write the same bytes.
//!
//! hex0: the Rust `hex0` vs the emulated `hex0-seed` (needs STAGE0_POSIX_TREE).
//! hex2: the Rust `hex2-0` vs the emulated `hex2-0` from a finished native run (needs
//! STAGE0_NATIVE_TREE). Inputs the Rust tool rejects (undefined labels and the like) are
//! skipped: upstream's behaviour there is undefined, and the Rust tool stops with an error.

use std::path::PathBuf;

use proptest::prelude::*;
use seed::testgen::{hex0_text, hex2_program, render_hex2, Hex2Item, HEX2_0_KINDS};
use seed::MemFs;
use stage0_testkit::{run_guest, Sandbox};

fn binary(var: &str, rel: &str, test: &str) -> Vec<u8> {
    let Some(root) = std::env::var_os(var) else {
        panic!("missing input: {test} needs ${var} (a stage0-posix tree with {rel}) (this test is ignored unless run with --ignored; README, 'Tests and the upstream tree')");
    };
    let path = PathBuf::from(root).join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs `program` (bytes) emulated as `tool in out` on `input`; its output and status.
fn emulated(program: &[u8], input: &[u8]) -> (Option<Vec<u8>>, vm::ExitStatus) {
    let sb = Sandbox::new("ddc-prop");
    sb.put("/tool", program);
    sb.put("/in", input);
    let (_k, r, _out) = run_guest(&sb, "/tool", &["/tool", "in", "out"], |c| {
        c.record_files = false;
        c.limits.max_insns = 200_000_000;
    });
    let status = r.expect("the emulated tool runs to its end");
    (std::fs::read(sb.root.join("out")).ok(), status)
}

/// The Rust tool's output for `input`, or None when it rejects the input.
fn rust(tool: &str, input: &[u8]) -> Option<Vec<u8>> {
    let mut fs = MemFs::new();
    fs.insert("in", input.to_vec());
    let args = ["in".to_string(), "out".to_string()];
    seed::run_tool(tool, &args, &mut fs).ok()?;
    fs.get("out").map(<[u8]>::to_vec)
}

/// Appends a label for every pointer target or base the program never defines, so most
/// generated programs link.
fn define_all(mut items: Vec<Hex2Item>) -> Vec<Hex2Item> {
    let mut missing = Vec::new();
    for item in &items {
        if let Hex2Item::Pointer(_, target, base) = item {
            for name in std::iter::once(target).chain(base) {
                let defined = items
                    .iter()
                    .any(|i| matches!(i, Hex2Item::Label(l) if l == name));
                if !defined && !missing.contains(name) {
                    missing.push(name.clone());
                }
            }
        }
    }
    items.extend(missing.into_iter().map(Hex2Item::Label));
    items
}

#[test]
#[ignore = "needs STAGE0_POSIX_TREE (a pristine stage0-posix checkout)"]
fn rust_hex0_matches_emulated_hex0_seed() {
    let test = "rust_hex0_matches_emulated_hex0_seed";
    let seed_bin = binary(
        "STAGE0_POSIX_TREE",
        "bootstrap-seeds/POSIX/x86/hex0-seed",
        test,
    );
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(64));
    runner
        .run(&hex0_text(), |text| {
            let ours = rust("hex0", text.as_bytes()).expect("hex0 accepts generated text");
            let (theirs, status) = emulated(&seed_bin, text.as_bytes());
            prop_assert_eq!(status, vm::ExitStatus::Code(0));
            prop_assert_eq!(Some(ours), theirs);
            Ok(())
        })
        .unwrap();
}

#[test]
#[ignore = "needs STAGE0_NATIVE_TREE (a stage0-posix tree after a native run)"]
fn rust_hex2_0_matches_emulated_hex2_0() {
    let test = "rust_hex2_0_matches_emulated_hex2_0";
    let hex2_bin = binary("STAGE0_NATIVE_TREE", "x86/artifact/hex2-0", test);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(64));
    let compared = std::cell::Cell::new(0);
    runner
        .run(&hex2_program(HEX2_0_KINDS), |items| {
            let text = render_hex2(&define_all(items));
            let Some(ours) = rust("hex2-0", text.as_bytes()) else {
                return Ok(());
            };
            compared.set(compared.get() + 1);
            let (theirs, status) = emulated(&hex2_bin, text.as_bytes());
            prop_assert_eq!(status, vm::ExitStatus::Code(0));
            prop_assert_eq!(Some(ours), theirs);
            Ok(())
        })
        .unwrap();
    let n = compared.get();
    assert!(n > 16, "only {n} of 64 programs were valid hex2");
}
