//! Comparing a DDC run with an all-emulated run: step by step, and the finished trees.

use std::collections::BTreeSet;
use std::path::Path;

use stage0_chain::provenance::Process;

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

/// How many processes after `reference[i]` descend from it (children run to completion
/// before their parent resumes, so they follow it directly in start order).
fn descendants(reference: &[Process], i: usize) -> usize {
    let mut family = vec![reference[i].pid];
    let mut n = 0;
    for p in &reference[i + 1..] {
        if !family.contains(&p.parent) {
            break;
        }
        family.push(p.pid);
        n += 1;
    }
    n
}

/// `family` (a process and its descendants, in start order) in the order they ended: a
/// process ends after all of its descendants and after its earlier siblings.
fn end_order(family: &[Process]) -> Vec<usize> {
    let mut running: Vec<usize> = Vec::new();
    let mut ended = Vec::with_capacity(family.len());
    for (k, p) in family.iter().enumerate() {
        while let Some(&top) = running.last() {
            if family[top].pid == p.parent {
                break;
            }
            ended.push(top);
            running.pop();
        }
        running.push(k);
    }
    ended.extend(running.into_iter().rev());
    ended
}

/// A reference step together with its descendants, as one process writing all their
/// files (what a host-compiled M2-Mesoplanet does without leaving records of its children).
/// A file's final state is the one seen by the last of them to end: M2-Planet writes
/// M2-Mesoplanet's temporary, which M2-Mesoplanet deletes after M2-Planet has exited.
fn with_descendants(reference: &[Process], i: usize, n: usize) -> Process {
    let family = &reference[i..=i + n];
    let mut whole = reference[i].clone();
    whole.writes.clear();
    for k in end_order(family) {
        for w in &family[k].writes {
            whole.writes.retain(|x| x.path != w.path);
            whole.writes.push(w.clone());
        }
    }
    whole
}

/// Rows for every step of the DDC run, each against its reference step. A host-compiled
/// substitute has no child records, so it is compared with its reference step and that
/// step's descendants taken together.
pub fn steps(ours: &[Process], reference: &[Process]) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut j = 0;
    for a in ours {
        let host = a
            .substitute
            .as_deref()
            .is_some_and(|s| s.starts_with("host-cc"));
        let detail = match reference.get(j) {
            Some(_) if host => {
                let n = descendants(reference, j);
                let whole = with_descendants(reference, j, n);
                j += n + 1;
                difference(a, &whole)
            }
            Some(b) => {
                j += 1;
                difference(a, b)
            }
            None => Some("no such step in the reference".into()),
        };
        rows.push(Row {
            step: rows.len() + 1,
            argv: a.argv.join(" "),
            substitute: a.substitute.clone(),
            identical: detail.is_none(),
            detail,
        });
    }
    for b in reference.iter().skip(j) {
        rows.push(Row {
            step: rows.len() + 1,
            argv: b.argv.join(" "),
            substitute: None,
            identical: false,
            detail: Some("step did not run".into()),
        });
    }
    rows
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
                    stage0_chain::provenance::binary_diff(&x, &y)
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
    use stage0_chain::provenance::FileHash;

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

    #[test]
    fn a_host_substitute_answers_for_its_reference_children() {
        // As in the chain: M2-Mesoplanet creates its temporary, M2-Planet fills it, hex2
        // writes the output, and M2-Mesoplanet deletes the temporary after both exited.
        let mut parent = process(
            "meso -o out",
            &[("/tmp1", "1", true), ("/out", "77", false)],
        );
        parent.pid = 10;
        let mut m2 = process("M2-Planet -o /tmp1", &[("/tmp1", "1", false)]);
        (m2.pid, m2.parent) = (11, 10);
        let mut hex2 = process("hex2 -o out", &[("/out", "77", false)]);
        (hex2.pid, hex2.parent) = (12, 10);
        let mut next = process("next", &[]);
        next.pid = 13;
        let mut ours = process("meso -o out", &[("/out", "77", false)]);
        ours.substitute = Some("host-cc M2-Mesoplanet".into());
        let reference = [parent, m2, hex2, next];
        let rows = steps(&[ours.clone(), process("next", &[])], &reference);
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert!(rows.iter().all(|r| r.identical), "{rows:?}");

        // A different output is still found.
        ours.writes[0].sha256 = "78".into();
        let rows = steps(&[ours, process("next", &[])], &reference);
        assert!(!rows[0].identical, "{rows:?}");
        assert!(rows[0].detail.as_deref().unwrap().contains("/out"));
    }

    #[test]
    fn a_family_ends_children_first() {
        let mut v = Vec::new();
        for (pid, parent) in [(1, 0), (2, 1), (3, 2), (4, 1), (5, 4)] {
            let mut p = process("x", &[]);
            (p.pid, p.parent) = (pid, parent);
            v.push(p);
        }
        assert_eq!(end_order(&v), vec![2, 1, 4, 3, 0]);
    }
}
