//! Provenance: a deterministic JSON account of a chain run (no wall times, no host paths),
//! so two runs of the same tree give byte-identical files on any host.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use vm::{ProcessRecord, RecordEnd};

use crate::answers::Checked;

/// Identifies the format.
pub const FORMAT: &str = "stage0-runner provenance v1";

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    pub format: String,
    pub layout: String,
    /// Every file of the source tree before the run (outputs excluded), sorted by path.
    pub inputs: Vec<FileHash>,
    /// One entry per program image, in the order they started.
    pub processes: Vec<Process>,
    pub answers: Option<Answers>,
}

/// A path and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileHash {
    pub path: String,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// One program image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    pub pid: u32,
    pub parent: u32,
    pub exe: String,
    pub argv: Vec<String>,
    pub cwd: String,
    pub env: Vec<String>,
    /// "exit N", "signal N" or "execve".
    pub end: String,
    pub instructions: u64,
    pub syscalls: BTreeMap<String, u64>,
    pub reads: Vec<FileHash>,
    pub writes: Vec<FileHash>,
    /// The stand-in that ran instead of the program (`stage0-runner ddc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub substitute: Option<String>,
}

/// The answers verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answers {
    pub file: String,
    pub total: usize,
    pub matched: usize,
    pub mismatches: Vec<Mismatch>,
}

/// One answer that did not match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    pub path: String,
    pub expected: String,
    pub actual: Option<String>,
}

/// The provenance as written to a file: pretty JSON with a final newline (the bytes the
/// attestation's byproduct digest covers).
pub fn to_json(p: &Provenance) -> String {
    let mut text = serde_json::to_string_pretty(p).expect("plain data serializes");
    text.push('\n');
    text
}

/// Text for how a record ended.
pub fn end_text(end: RecordEnd) -> String {
    match end {
        RecordEnd::Running => "running".into(),
        RecordEnd::Execed => "execve".into(),
        RecordEnd::Exited(vm::ExitStatus::Code(c)) => format!("exit {c}"),
        RecordEnd::Exited(vm::ExitStatus::Signal(s)) => format!("signal {s}"),
    }
}

impl From<&ProcessRecord> for Process {
    fn from(r: &ProcessRecord) -> Self {
        let files = |v: &[vm::FileAccess]| {
            v.iter()
                .map(|f| FileHash {
                    path: f.path.clone(),
                    sha256: f.sha256.clone(),
                    deleted: f.deleted,
                })
                .collect()
        };
        Process {
            pid: r.pid,
            parent: r.parent,
            exe: r.exe.clone(),
            argv: r.argv.clone(),
            cwd: r.cwd.clone(),
            env: r.env.clone(),
            end: end_text(r.end),
            instructions: r.instructions,
            syscalls: r
                .syscalls
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            reads: files(&r.reads),
            writes: files(&r.writes),
            substitute: r.substitute.clone(),
        }
    }
}

/// The answers section from checked answers.
pub fn answers(file: &str, checked: &[Checked]) -> Answers {
    Answers {
        file: file.to_string(),
        total: checked.len(),
        matched: checked.iter().filter(|c| c.ok()).count(),
        mismatches: checked
            .iter()
            .filter(|c| !c.ok())
            .map(|c| Mismatch {
                path: c.path.clone(),
                expected: c.expected.clone(),
                actual: c.actual.clone(),
            })
            .collect(),
    }
}

/// Hashes every regular file under `tree`, skipping `.git` and the `outputs` directories
/// (guest paths), sorted by path.
pub fn hash_inputs(tree: &Path, outputs: &[String]) -> std::io::Result<Vec<FileHash>> {
    let skip: Vec<&str> = outputs.iter().map(|o| o.trim_start_matches('/')).collect();
    let mut out = Vec::new();
    let mut stack = vec![String::new()];
    while let Some(rel) = stack.pop() {
        for entry in std::fs::read_dir(tree.join(&rel))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let t = entry.file_type()?;
            if name == ".git" || skip.contains(&path.as_str()) {
                continue;
            }
            if t.is_dir() {
                stack.push(path);
            } else if t.is_file() {
                let data = std::fs::read(entry.path())?;
                out.push(FileHash {
                    path,
                    sha256: vm::record::sha256_hex(&data),
                    deleted: false,
                });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// The first process whose argv or outputs differ from the reference, with what differs.
pub fn first_difference(ours: &Provenance, reference: &Provenance) -> Option<(usize, String)> {
    for (i, (a, b)) in ours.processes.iter().zip(&reference.processes).enumerate() {
        if a.argv != b.argv {
            return Some((
                i,
                format!("ran {:?} where the reference ran {:?}", a.argv, b.argv),
            ));
        }
        for w in &a.writes {
            match b.writes.iter().find(|x| x.path == w.path) {
                Some(x) if x.sha256 != w.sha256 => {
                    return Some((
                        i,
                        format!(
                            "wrote {} with sha256 {} (reference {})",
                            w.path, w.sha256, x.sha256
                        ),
                    ))
                }
                None => {
                    return Some((
                        i,
                        format!("wrote {}, which the reference step did not", w.path),
                    ))
                }
                _ => {}
            }
        }
        if a.end != b.end {
            return Some((i, format!("ended with {} (reference {})", a.end, b.end)));
        }
    }
    if ours.processes.len() != reference.processes.len() {
        let n = ours.processes.len().min(reference.processes.len());
        return Some((
            n,
            format!(
                "{} processes ran, the reference has {}",
                ours.processes.len(),
                reference.processes.len()
            ),
        ));
    }
    None
}

/// A short hex diff of two byte strings around their first difference.
pub fn binary_diff(ours: &[u8], theirs: &[u8]) -> String {
    let first = ours
        .iter()
        .zip(theirs)
        .position(|(a, b)| a != b)
        .unwrap_or(ours.len().min(theirs.len()));
    let start = first.saturating_sub(8);
    let hex = |d: &[u8]| {
        let end = (start + 24).min(d.len());
        d.get(start..end)
            .unwrap_or(&[])
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!(
        "sizes {} vs {} bytes; first difference at offset {first:#x}\n  ours      @{start:#08x}: {}\n  reference @{start:#08x}: {}",
        ours.len(),
        theirs.len(),
        hex(ours),
        hex(theirs)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_diff_points_at_the_first_differing_byte() {
        let a = vec![0u8; 40];
        let mut b = a.clone();
        b[20] = 0xff;
        let d = binary_diff(&a, &b);
        assert!(d.contains("offset 0x14"), "{d}");
        assert!(d.contains("ff"), "{d}");
    }
}
