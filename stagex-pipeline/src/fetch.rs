//! Placing sources into `fetch/<stage>/<name>/` with their sha256 checked, from providers
//! that need no network: a directory of tarballs, or git snapshots from which a GitHub
//! archive tarball is recreated byte for byte.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::sources::ResolvedSource;

/// Where source bytes come from.
#[derive(Debug, Clone)]
pub enum Provider {
    /// A directory holding `<file>` or `<stage>/<name>/<file>`.
    Tarballs(PathBuf),
    /// A root of git snapshots laid out as `<owner>+<repo>/repo` (a git dir).
    Snapshots(PathBuf),
    /// The package.toml's mirror URLs, downloaded with the host's `curl`, in order.
    Mirrors,
}

/// What happened to one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    /// The file was already in place with the right hash.
    AlreadyPresent,
    /// The file was produced by the named provider.
    Placed(String),
}

impl std::fmt::Display for FetchOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchOutcome::AlreadyPresent => write!(f, "already present"),
            FetchOutcome::Placed(by) => write!(f, "from {by}"),
        }
    }
}

/// Lowercase hex sha256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A GitHub archive URL split into owner, repository and ref.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubArchive {
    /// Repository owner.
    pub owner: String,
    /// Repository name.
    pub repo: String,
    /// The commit, tag or branch the archive is of.
    pub reference: String,
}

impl GithubArchive {
    /// Parses `https://github.com/O/R/archive/REF.tar.gz` and `.../archive/refs/tags/REF.tar.gz`.
    pub fn parse(url: &str) -> Option<Self> {
        let rest = url.strip_prefix("https://github.com/")?;
        let mut parts = rest.splitn(4, '/');
        let owner = parts.next()?.to_string();
        let repo = parts.next()?.to_string();
        if parts.next()? != "archive" {
            return None;
        }
        let tail = parts.next()?;
        let tail = tail
            .strip_prefix("refs/tags/")
            .or_else(|| tail.strip_prefix("refs/heads/"))
            .unwrap_or(tail);
        let reference = tail.strip_suffix(".tar.gz")?.to_string();
        (!reference.is_empty() && !reference.contains('/')).then_some(GithubArchive {
            owner,
            repo,
            reference,
        })
    }

    /// The top directory GitHub gives the archive: `<repo>-<ref>`, a leading `v` of a
    /// version tag dropped.
    pub fn prefix(&self) -> String {
        let r = &self.reference;
        let shown = match r.strip_prefix('v') {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
            _ => r.as_str(),
        };
        format!("{}-{}", self.repo, shown)
    }
}

/// Compresses with the host's GNU gzip as `gzip -n` (level 6, no name, no mtime).
/// GitHub's archive tarballs are byte-identical to this; pure-Rust deflate encoders
/// (miniz_oxide, zlib-rs) choose different blocks, so their output does not match.
pub fn gzip_n(data: &[u8]) -> Result<Vec<u8>> {
    run_with_input(Command::new("gzip").args(["-n", "-c"]), data, "gzip -n -c")
}

fn run_with_input(cmd: &mut Command, input: &[u8], shown: &str) -> Result<Vec<u8>> {
    let cmd_err = |message: String| Error::Command {
        command: shown.to_string(),
        message,
    };
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| cmd_err(e.to_string()))?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| cmd_err("no stdin".into()))?;
    let input = input.to_vec();
    // Feed stdin from a thread so a full stdout pipe cannot deadlock us.
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let out = child
        .wait_with_output()
        .map_err(|e| cmd_err(e.to_string()))?;
    feeder
        .join()
        .map_err(|_| cmd_err("stdin writer panicked".into()))?
        .map_err(|e| cmd_err(e.to_string()))?;
    if !out.status.success() {
        return Err(cmd_err(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out.stdout)
}

/// Recreates a GitHub archive tarball from a git dir: `git archive --format=tar
/// --prefix=<repo>-<ref>/ <ref> | gzip -n`.
pub fn github_archive_from_snapshot(git_dir: &Path, archive: &GithubArchive) -> Result<Vec<u8>> {
    let prefix = format!("--prefix={}/", archive.prefix());
    let shown = format!(
        "git --git-dir={} archive --format=tar {prefix} {}",
        git_dir.display(),
        archive.reference
    );
    let out = Command::new("git")
        .arg(format!("--git-dir={}", git_dir.display()))
        .args(["archive", "--format=tar", &prefix, &archive.reference])
        .output()
        .map_err(|e| Error::Command {
            command: shown.clone(),
            message: e.to_string(),
        })?;
    if !out.status.success() {
        let message = format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return Err(Error::Command {
            command: shown,
            message,
        });
    }
    gzip_n(&out.stdout)
}

impl Provider {
    /// A short description for messages.
    pub fn describe(&self) -> String {
        match self {
            Provider::Tarballs(d) => format!("tarballs {}", d.display()),
            Provider::Snapshots(d) => format!("snapshots {}", d.display()),
            Provider::Mirrors => "mirrors".into(),
        }
    }

    /// Produces the source's bytes, or says why this provider cannot.
    pub fn produce(
        &self,
        src: &ResolvedSource,
        stage: &str,
        package_name: &str,
    ) -> std::result::Result<Vec<u8>, String> {
        match self {
            Provider::Tarballs(dir) => {
                let candidates = [
                    dir.join(&src.file),
                    dir.join(stage).join(package_name).join(&src.file),
                ];
                for c in &candidates {
                    if c.is_file() {
                        return std::fs::read(c).map_err(|e| format!("{}: {e}", c.display()));
                    }
                }
                Err(format!("no {} in {}", src.file, dir.display()))
            }
            Provider::Snapshots(root) => {
                let mut reasons = Vec::new();
                for url in &src.urls {
                    let Some(gh) = GithubArchive::parse(url) else {
                        reasons.push(format!("{url} is not a GitHub archive URL"));
                        continue;
                    };
                    let git_dir = root.join(format!("{}+{}", gh.owner, gh.repo)).join("repo");
                    if !git_dir.is_dir() {
                        reasons.push(format!("no snapshot {}", git_dir.display()));
                        continue;
                    }
                    match github_archive_from_snapshot(&git_dir, &gh) {
                        Ok(bytes) => return Ok(bytes),
                        Err(e) => reasons.push(e.to_string()),
                    }
                }
                Err(reasons.join("; "))
            }
            Provider::Mirrors => {
                let mut reasons = Vec::new();
                for url in &src.urls {
                    let out = std::process::Command::new("curl")
                        .args(["-fsSL", "--proto", "=https,http", "--connect-timeout", "20"])
                        .arg(url)
                        .output();
                    match out {
                        Ok(o) if o.status.success() => return Ok(o.stdout),
                        Ok(o) => reasons.push(format!(
                            "{url}: {}",
                            String::from_utf8_lossy(&o.stderr).trim()
                        )),
                        Err(e) => reasons.push(format!("curl: {e}")),
                    }
                }
                Err(reasons.join("; "))
            }
        }
    }
}

/// Places one source into `dest_dir/<file>`: keeps a present file with the right hash,
/// otherwise tries providers in order. A provider's bytes with the wrong hash are an
/// error naming the source and both hashes (nothing is left on disk).
pub fn fetch_source(
    src: &ResolvedSource,
    dest_dir: &Path,
    stage: &str,
    package_name: &str,
    providers: &[Provider],
) -> Result<FetchOutcome> {
    let dest = dest_dir.join(&src.file);
    if dest.is_file() {
        let present = std::fs::read(&dest).map_err(|e| Error::io(&dest, e))?;
        if sha256_hex(&present) == src.hash {
            return Ok(FetchOutcome::AlreadyPresent);
        }
    }
    let mut reasons = Vec::new();
    for p in providers {
        let bytes = match p.produce(src, stage, package_name) {
            Ok(b) => b,
            Err(why) => {
                reasons.push(format!("{}: {why}", p.describe()));
                continue;
            }
        };
        let actual = sha256_hex(&bytes);
        if actual != src.hash {
            return Err(Error::HashMismatch {
                source_name: src.key.clone(),
                file: src.file.clone(),
                expected: src.hash.clone(),
                actual,
            });
        }
        std::fs::create_dir_all(dest_dir).map_err(|e| Error::io(dest_dir, e))?;
        let tmp = dest_dir.join(format!(".{}.partial", src.file));
        std::fs::write(&tmp, &bytes).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &dest).map_err(|e| Error::io(&dest, e))?;
        return Ok(FetchOutcome::Placed(p.describe()));
    }
    if providers.is_empty() {
        reasons.push("no provider given (use --tarballs or --snapshots)".into());
    }
    Err(Error::SourceUnavailable {
        source_name: src.key.clone(),
        file: src.file.clone(),
        reason: reasons.join("; "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_urls() {
        let g =
            GithubArchive::parse("https://github.com/oriansj/M2libc/archive/27ab.tar.gz").unwrap();
        assert_eq!(
            (g.owner.as_str(), g.repo.as_str(), g.prefix()),
            ("oriansj", "M2libc", "M2libc-27ab".to_string())
        );
        let t =
            GithubArchive::parse("https://github.com/a/b/archive/refs/tags/v1.2.tar.gz").unwrap();
        assert_eq!(t.prefix(), "b-1.2");
        assert!(GithubArchive::parse("https://example.org/a/b/archive/x.tar.gz").is_none());
        assert!(GithubArchive::parse("https://github.com/a/b/releases/x.tar.gz").is_none());
    }

    fn source(hash: &str) -> ResolvedSource {
        ResolvedSource {
            key: "k".into(),
            file: "f.tar".into(),
            hash: hash.into(),
            version: "1".into(),
            urls: vec![],
        }
    }

    #[test]
    fn tarball_provider_checks_hash() {
        let dir = tempfile::tempdir().unwrap();
        let tarballs = dir.path().join("in");
        std::fs::create_dir_all(&tarballs).unwrap();
        std::fs::write(tarballs.join("f.tar"), b"abc").unwrap();
        let dest = dir.path().join("fetch/s/p");
        let providers = [Provider::Tarballs(tarballs)];
        let good = source(&sha256_hex(b"abc"));
        assert!(matches!(
            fetch_source(&good, &dest, "s", "p", &providers).unwrap(),
            FetchOutcome::Placed(_)
        ));
        assert_eq!(
            fetch_source(&good, &dest, "s", "p", &providers).unwrap(),
            FetchOutcome::AlreadyPresent
        );
        let bad = source(&"0".repeat(64));
        std::fs::remove_file(dest.join("f.tar")).unwrap();
        let e = fetch_source(&bad, &dest, "s", "p", &providers)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("source k")
                && e.contains(&"0".repeat(64))
                && e.contains(&sha256_hex(b"abc")),
            "{e}"
        );
        assert!(!dest.join("f.tar").exists());
    }
}
