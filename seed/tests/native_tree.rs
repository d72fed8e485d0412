//! The Rust tools reproduce the native chain's outputs byte for byte.
//!
//! Needs STAGE0_NATIVE_TREE: a stage0-posix tree after a native run of the x86
//! chain. Every command of the seed, mini and full kaem scripts whose program
//! has a Rust stand-in is run on the tree's inputs; outputs go to a temporary
//! directory and are compared with the tree's files.

mod common;

use std::collections::BTreeMap;

use common::{chain_commands, tree_from_env, OverlayFs};
use seed::{run_tool, tool_for_program, RecordingFs};

#[test]
#[ignore = "needs STAGE0_NATIVE_TREE (a stage0-posix tree after a native run)"]
fn every_chain_step_is_byte_identical() {
    let tree = tree_from_env("STAGE0_NATIVE_TREE", "every_chain_step_is_byte_identical");
    let scratch = tempfile::tempdir().unwrap();
    let commands = chain_commands(&tree);
    assert!(
        commands.len() > 40,
        "expected the whole chain, got {} commands",
        commands.len()
    );

    let mut per_tool: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for cmd in &commands {
        let Some(tool) = tool_for_program(&cmd.argv[0]) else {
            continue;
        };
        let fs = OverlayFs {
            tree: tree.clone(),
            scratch: scratch.path().to_path_buf(),
            cwd: cmd.cwd.clone(),
        };
        let mut fs = RecordingFs::new(fs);
        let line = cmd.argv.join(" ");
        if let Err(e) = run_tool(tool, &cmd.argv[1..], &mut fs) {
            failures.push(format!("{line}: {e}"));
            continue;
        }
        let writes: Vec<String> = fs.writes().into_iter().map(str::to_string).collect();
        assert_eq!(writes.len(), 1, "{line} wrote {writes:?}");
        for path in &writes {
            let ours = std::fs::read(fs.inner.scratch_path(path)).unwrap();
            let theirs = std::fs::read(fs.inner.tree_path(path)).unwrap();
            if ours == theirs {
                *per_tool.entry(tool).or_default() += 1;
            } else {
                let at = ours.iter().zip(&theirs).position(|(a, b)| a != b);
                failures.push(format!(
                    "{line}: {path} differs (ours {} bytes, native {} bytes, first difference at {at:?})",
                    ours.len(),
                    theirs.len()
                ));
            }
        }
    }
    let total: usize = per_tool.values().sum();
    eprintln!("byte-identical outputs per tool: {per_tool:?} ({total} steps)");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for tool in seed::TOOLS {
        assert!(
            per_tool.contains_key(tool),
            "no chain step exercised {tool}"
        );
    }
}

/// hex0 rebuilds the seeds themselves: hex0_x86.hex0 is hex0-seed and
/// kaem-minimal.hex0 is kaem-optional-seed.
#[test]
#[ignore = "needs STAGE0_NATIVE_TREE (a stage0-posix tree after a native run)"]
fn hex0_rebuilds_the_bootstrap_seeds() {
    let tree = tree_from_env("STAGE0_NATIVE_TREE", "hex0_rebuilds_the_bootstrap_seeds");
    for (source, seed_binary) in [
        ("x86/hex0_x86.hex0", "bootstrap-seeds/POSIX/x86/hex0-seed"),
        (
            "x86/kaem-minimal.hex0",
            "bootstrap-seeds/POSIX/x86/kaem-optional-seed",
        ),
    ] {
        let text = std::fs::read(tree.join(source)).unwrap();
        let ours = seed::hex0::assemble(&seed::Source::new(source, text)).unwrap();
        let theirs = std::fs::read(tree.join(seed_binary)).unwrap();
        assert_eq!(ours, theirs, "{source} vs {seed_binary}");
    }
}
