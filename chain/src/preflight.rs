//! Checks a tree before anything runs, naming each problem with how to fix it.

use std::path::{Path, PathBuf};

use crate::plan::{Layout, Plan};

/// One reason a tree is not ready, with how to fix it (the text says both).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The tree is not there.
    #[error("tree {} does not exist or is not a directory{}", .tree.display(), .hint.as_deref().map(|h| format!("; {h}")).unwrap_or_default())]
    NoTree { tree: PathBuf, hint: Option<String> },
    /// A source or seed the chain needs is missing.
    #[error("{} is missing: {fix}", .path.display())]
    Missing { path: PathBuf, fix: String },
    /// A seed is not the published one.
    #[error(
        "{path} has sha256 {got}, not the published seed's {want}; restore it from bootstrap-seeds"
    )]
    WrongSeed {
        path: String,
        got: String,
        want: &'static str,
    },
    /// The `--script` file could not be read.
    #[error("the script could not be read")]
    ScriptUnreadable,
    /// The chain's script has no commands.
    #[error("the chain's script lists no commands")]
    NoCommands,
    /// The answers file is unreadable or has a bad line.
    #[error("answers file {}{message}", .path.display())]
    Answers { path: PathBuf, message: String },
}

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
pub fn check_custom(tree: &Path, plan: Option<&Plan>, answers: Option<&Path>) -> Vec<Problem> {
    let mut problems = Vec::new();
    if !tree.is_dir() {
        problems.push(Problem::NoTree {
            tree: tree.to_path_buf(),
            hint: None,
        });
        return problems;
    }
    match plan {
        None => problems.push(Problem::ScriptUnreadable),
        Some(p) if p.steps.is_empty() => problems.push(Problem::NoCommands),
        _ => {}
    }
    check_answers(answers, &mut problems);
    problems
}

fn check_answers(answers: Option<&Path>, problems: &mut Vec<Problem>) {
    if let Some(a) = answers {
        let message = match std::fs::read_to_string(a) {
            Ok(text) => match crate::answers::parse(&text) {
                Err(crate::LineError { line, message }) => format!(":{line}: {message}"),
                Ok(_) => return,
            },
            Err(e) => format!(" is not readable: {e}"),
        };
        problems.push(Problem::Answers {
            path: a.to_path_buf(),
            message,
        });
    }
}

/// Every problem found; empty means the tree is ready.
pub fn check(
    tree: &Path,
    plan: Option<&Plan>,
    layout: Layout,
    answers: Option<&Path>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    if !tree.is_dir() {
        let hint = match layout {
            Layout::Upstream => format!("get one with: {CLONE_HINT}"),
            Layout::Stagex => {
                "lay one out with: stage0-tree MIRROR_ROOT DEST stagex (see README)".into()
            }
        };
        problems.push(Problem::NoTree {
            tree: tree.to_path_buf(),
            hint: Some(hint),
        });
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
            problems.push(Problem::Missing { path: p, fix });
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
                problems.push(Problem::WrongSeed {
                    path: path.to_string(),
                    got,
                    want,
                });
            }
        }
    }
    if let Some(plan) = plan {
        if plan.steps.is_empty() {
            problems.push(Problem::NoCommands);
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
                matches!(&problems[0], Problem::WrongSeed { want, .. } if *want == HEX0_SEED_SHA256),
                "{problems:?}"
            );
            assert!(
                problems[0].to_string().contains("not the published seed"),
                "{problems:?}"
            );
        }
    }
}
