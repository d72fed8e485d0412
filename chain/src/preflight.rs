//! Checks a tree before anything runs, naming each problem with how to fix it.

use std::path::Path;

use crate::plan::{Layout, Plan};

/// SHA-256 of the published x86 seeds (bootstrap-seeds/POSIX/x86).
pub const HEX0_SEED_SHA256: &str =
    "f74dcf9cef2aee9eb7723eca755849d474fccd89662947021d1aa08429d23c13";
pub const KAEM_OPTIONAL_SEED_SHA256: &str =
    "545f89537f070d7e62b05243be34cbcfdb1e92dbf9d82e2cd15792d880436ac2";

/// How to get an upstream tree with its submodules.
pub const CLONE_HINT: &str = "git clone --recursive https://github.com/oriansj/stage0-posix.git \
(or, in an existing clone: git submodule update --init --recursive)";

/// (directory, a file it must contain) for each source the x86 chain uses, in both layouts.
const SOURCES: &[(&str, &str)] = &[
    ("x86", "hex0_x86.hex0"),
    ("M2libc", "x86/ELF-x86-debug.hex2"),
    ("M2-Planet", "cc.c"),
    ("M2-Mesoplanet", "cc.c"),
    ("mescc-tools", "hex2.c"),
    ("mescc-tools-extra", "sha256sum.c"),
];

/// Where each layout keeps the seed, besides [`SOURCES`].
fn seed_part(layout: Layout) -> (&'static str, &'static str) {
    match layout {
        Layout::Upstream => ("bootstrap-seeds", "POSIX/x86/hex0-seed"),
        Layout::Stagex => ("hex0-seed", ""),
    }
}

/// Checks for a custom chain (`--script`): the tree exists, the script has commands, the
/// answers file parses.
pub fn check_custom(tree: &Path, plan: Option<&Plan>, answers: Option<&Path>) -> Vec<String> {
    let mut problems = Vec::new();
    if !tree.is_dir() {
        problems.push(format!(
            "tree {} does not exist or is not a directory",
            tree.display()
        ));
        return problems;
    }
    match plan {
        None => problems.push("the script could not be read".into()),
        Some(p) if p.steps.is_empty() => problems.push("the script lists no commands".into()),
        _ => {}
    }
    check_answers(answers, &mut problems);
    problems
}

fn check_answers(answers: Option<&Path>, problems: &mut Vec<String>) {
    if let Some(a) = answers {
        match std::fs::read_to_string(a) {
            Ok(text) => {
                if let Err(crate::LineError { line, message: msg }) = crate::answers::parse(&text) {
                    problems.push(format!("answers file {}:{line}: {msg}", a.display()));
                }
            }
            Err(e) => problems.push(format!("answers file {} is not readable: {e}", a.display())),
        }
    }
}

/// Every problem found; empty means the tree is ready.
pub fn check(
    tree: &Path,
    plan: Option<&Plan>,
    layout: Layout,
    answers: Option<&Path>,
) -> Vec<String> {
    let mut problems = Vec::new();
    if !tree.is_dir() {
        let hint = match layout {
            Layout::Upstream => format!("get one with: {CLONE_HINT}"),
            Layout::Stagex => {
                "lay one out with: stage0-tree MIRROR_ROOT DEST stagex (see README)".into()
            }
        };
        problems.push(format!(
            "tree {} does not exist or is not a directory; {hint}",
            tree.display()
        ));
        return problems;
    }
    for (dir, marker) in std::iter::once(seed_part(layout)).chain(SOURCES.iter().copied()) {
        // An empty marker means the entry is a file itself (join("") would add a '/').
        let p = if marker.is_empty() {
            tree.join(dir)
        } else {
            tree.join(dir).join(marker)
        };
        if !p.exists() {
            let fix = match layout {
                Layout::Upstream => format!("the {dir} submodule is not checked out; run: git submodule update --init --recursive (or {CLONE_HINT})"),
                Layout::Stagex => format!("{dir} is missing from the StageX root; lay it out again with stage0-tree ... stagex"),
            };
            problems.push(format!("{} is missing: {fix}", p.display()));
        }
    }
    let seeds: &[(&str, &str)] = match layout {
        Layout::Upstream => &[
            ("bootstrap-seeds/POSIX/x86/hex0-seed", HEX0_SEED_SHA256),
            (
                "bootstrap-seeds/POSIX/x86/kaem-optional-seed",
                KAEM_OPTIONAL_SEED_SHA256,
            ),
        ],
        Layout::Stagex => &[("hex0-seed", HEX0_SEED_SHA256)],
    };
    for (path, want) in seeds {
        if let Ok(data) = std::fs::read(tree.join(path)) {
            let got = vm::record::sha256_hex(&data);
            if got != *want {
                problems.push(format!("{path} has sha256 {got}, not the published seed's {want}; restore it from bootstrap-seeds"));
            }
        }
    }
    if let Some(plan) = plan {
        if plan.steps.is_empty() {
            problems.push("the chain's script lists no commands".into());
        }
    }
    check_answers(answers, &mut problems);
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_tree(layout: Layout) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for (dir, marker) in std::iter::once(seed_part(layout)).chain(SOURCES.iter().copied()) {
            let p = if marker.is_empty() {
                d.join(dir)
            } else {
                d.join(dir).join(marker)
            };
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, b"not the real file").unwrap();
        }
        dir
    }

    #[test]
    fn a_complete_layout_only_reports_the_wrong_seed() {
        for layout in [Layout::Upstream, Layout::Stagex] {
            let d = fake_tree(layout);
            let problems = check(d.path(), None, layout, None);
            assert_eq!(problems.len(), 1, "{layout:?}: {problems:?}");
            assert!(
                problems[0].contains("not the published seed"),
                "{problems:?}"
            );
        }
    }
}
