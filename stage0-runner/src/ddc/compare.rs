//! Comparing a DDC run with an all-emulated run: step by step, and the finished trees.

use std::collections::BTreeSet;
use std::path::Path;

use crate::provenance::Process;

/// One step of the DDC run against the same step of the reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// 1-based position in start order.
    pub step: usize,
    pub argv: String,
    /// Who ran it instead of the emulated program (None: emulated).
    pub substitute: Option<String>,
    pub identical: bool,
    /// What differs, when something does.
    pub detail: Option<String>,
}

/// The files a step left behind (temporaries it deleted do not count).
fn kept_writes(p: &Process) -> BTreeSet<(&str, &str)> {
    p.writes
        .iter()
        .filter(|w| !w.deleted)
        .map(|w| (w.path.as_str(), w.sha256.as_str()))
        .collect()
}

fn difference(ours: &Process, theirs: &Process) -> Option<String> {
    if ours.argv != theirs.argv {
        return Some(format!("ran {:?}, reference {:?}", ours.argv, theirs.argv));
    }
    if ours.end != theirs.end {
        return Some(format!("ended with {}, reference {}", ours.end, theirs.end));
    }
    let (a, b) = (kept_writes(ours), kept_writes(theirs));
    if let Some((path, sha)) = a.difference(&b).next() {
        return Some(format!(
            "wrote {path} with sha256 {sha}, unlike the reference"
        ));
    }
    if let Some((path, _)) = b.difference(&a).next() {
        return Some(format!("did not write {path} as the reference did"));
    }
    None
}

/// Rows for every step of either run, in order.
pub fn steps(ours: &[Process], reference: &[Process]) -> Vec<Row> {
    (0..ours.len().max(reference.len()))
        .map(|i| {
            let (detail, argv, substitute) = match (ours.get(i), reference.get(i)) {
                (Some(a), Some(b)) => (difference(a, b), &a.argv, a.substitute.clone()),
                (Some(a), None) => (
                    Some("no such step in the reference".into()),
                    &a.argv,
                    a.substitute.clone(),
                ),
                (None, Some(b)) => (Some("step did not run".into()), &b.argv, None),
                (None, None) => unreachable!("index below both lengths' maximum"),
            };
            Row {
                step: i + 1,
                argv: argv.join(" "),
                substitute,
                identical: detail.is_none(),
                detail,
            }
        })
        .collect()
}

/// Relative paths of the regular files under `dir`, sorted (missing dir: none).
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![String::new()];
    while let Some(rel) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(dir.join(&rel)) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(t) if t.is_file() => out.push(path),
                _ => {}
            }
        }
    }
    out.sort();
    out
}

/// Byte-for-byte differences between the output directories (guest paths) of two trees.
pub fn trees(ours: &Path, reference: &Path, outputs: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    for out in outputs {
        let rel = out.trim_start_matches('/');
        let (a, b) = (ours.join(rel), reference.join(rel));
        let names: BTreeSet<String> = files_under(&a).into_iter().chain(files_under(&b)).collect();
        for name in names {
            match (std::fs::read(a.join(&name)), std::fs::read(b.join(&name))) {
                (Ok(x), Ok(y)) if x == y => {}
                (Ok(x), Ok(y)) => problems.push(format!(
                    "{rel}/{name}: {}",
                    crate::provenance::binary_diff(&x, &y)
                )),
                (Ok(_), Err(_)) => problems.push(format!("{rel}/{name}: not in the reference")),
                (Err(_), _) => problems.push(format!("{rel}/{name}: missing from the DDC run")),
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provenance::FileHash;

    fn process(argv: &str, writes: &[(&str, &str, bool)]) -> Process {
        Process {
            pid: 1,
            parent: 0,
            exe: "/x".into(),
            argv: argv.split(' ').map(String::from).collect(),
            cwd: "/".into(),
            env: vec![],
            end: "exit 0".into(),
            instructions: 0,
            syscalls: Default::default(),
            reads: vec![],
            writes: writes
                .iter()
                .map(|(p, h, d)| FileHash {
                    path: p.to_string(),
                    sha256: h.to_string(),
                    deleted: *d,
                })
                .collect(),
            substitute: None,
        }
    }

    #[test]
    fn temporaries_do_not_count_but_outputs_do() {
        let ours = [
            process("a b", &[("/o", "11", false)]),
            process("c", &[("/p", "22", false)]),
        ];
        let reference = [
            process("a b", &[("/o", "11", false), ("/tmp1", "33", true)]),
            process("c", &[("/p", "23", false)]),
            process("d", &[]),
        ];
        let rows = steps(&ours, &reference);
        assert_eq!(rows.len(), 3);
        assert!(rows[0].identical, "{:?}", rows[0]);
        assert!(!rows[1].identical);
        assert!(rows[1].detail.as_deref().unwrap().contains("/p"));
        assert_eq!(rows[2].detail.as_deref(), Some("step did not run"));
    }
}
