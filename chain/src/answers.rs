//! The answers: `sha256sum`-format lines naming each expected output and its hash, checked
//! with the host's own SHA-256 (independently of the emulated sha256sum step).

use std::path::Path;

use crate::LineError;

/// One expected output.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Answer {
    pub sha256: String,
    /// Path relative to the tree.
    pub path: String,
}

/// The result of checking one answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Checked {
    pub path: String,
    pub expected: String,
    /// None when the file is missing.
    pub actual: Option<String>,
}

impl Checked {
    /// Whether the file exists with the expected hash.
    pub fn ok(&self) -> bool {
        self.actual.as_deref() == Some(self.expected.as_str())
    }
}

/// Parses `HASH  PATH` lines (one or two spaces, `*` binary marker allowed).
pub fn parse(text: &str) -> Result<Vec<Answer>, LineError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (hash, path) = line
            .split_once(' ')
            .ok_or_else(|| LineError::new(i + 1, format!("expected `HASH  PATH`: {line:?}")))?;
        let path = path.trim_start_matches(' ').trim_start_matches('*');
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) || path.is_empty() {
            return Err(LineError::new(
                i + 1,
                format!("expected a 64-digit SHA-256 and a path: {line:?}"),
            ));
        }
        out.push(Answer {
            sha256: hash.to_ascii_lowercase(),
            path: path.to_string(),
        });
    }
    Ok(out)
}

/// Hashes each answer's file under `tree` on the host.
pub fn check(tree: &Path, answers: &[Answer]) -> Vec<Checked> {
    answers
        .iter()
        .map(|a| Checked {
            path: a.path.clone(),
            expected: a.sha256.clone(),
            actual: std::fs::read(tree.join(&a.path))
                .ok()
                .map(|d| vm::record::sha256_hex(&d)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sha256sum_lines_and_rejects_junk() {
        let h = "a".repeat(64);
        let a = parse(&format!("{h}  x86/bin/M1\n{h} *b\n\n")).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].path, "x86/bin/M1");
        assert_eq!(a[1].path, "b");
        assert_eq!(parse("zz  x").unwrap_err().line, 1);
        assert_eq!(parse(&format!("{h}  a\nnonsense")).unwrap_err().line, 2);
    }

    #[test]
    fn check_reports_missing_and_wrong_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("good"), b"abc").unwrap();
        std::fs::write(d.join("bad"), b"abd").unwrap();
        let good = vm::record::sha256_hex(b"abc");
        let ans = vec![
            Answer {
                sha256: good.clone(),
                path: "good".into(),
            },
            Answer {
                sha256: good.clone(),
                path: "bad".into(),
            },
            Answer {
                sha256: good,
                path: "missing".into(),
            },
        ];
        let c = check(d, &ans);
        assert_eq!(
            c.iter().map(Checked::ok).collect::<Vec<_>>(),
            vec![true, false, false]
        );
        assert_eq!(c[2].actual, None);
    }
}
