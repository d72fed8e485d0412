//! The file access a seed tool needs, behind a trait.
//!
//! Paths are given exactly as they appear on the tool's command line and are
//! resolved against the implementation's working directory. The emulator's runner
//! can supply its own implementation (or wrap one in [`RecordingFs`]) to learn
//! which files a step read and wrote.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

/// Files relative to a working directory, plus the two output streams.
pub trait SeedFs {
    /// Reads a whole file.
    fn read(&mut self, path: &str) -> io::Result<Vec<u8>>;
    /// Creates or truncates `path` and writes `data`; `mode` is the permission
    /// the upstream tool gives a new file (for example 0o700 for hex0).
    fn write(&mut self, path: &str, data: &[u8], mode: u32) -> io::Result<()>;
    /// Appends to standard output (tools without `-o` write there).
    fn stdout(&mut self, data: &[u8]) -> io::Result<()>;
    /// Appends to standard error (warnings).
    fn stderr(&mut self, data: &[u8]) -> io::Result<()>;
}

/// The host file system, relative to a working directory.
#[derive(Debug, Clone)]
pub struct HostFs {
    cwd: PathBuf,
}

impl HostFs {
    /// Resolves relative paths against `cwd`.
    pub fn new(cwd: impl Into<PathBuf>) -> Self {
        HostFs { cwd: cwd.into() }
    }

    fn resolve(&self, path: &str) -> PathBuf {
        self.cwd.join(path)
    }
}

impl SeedFs for HostFs {
    fn read(&mut self, path: &str) -> io::Result<Vec<u8>> {
        std::fs::read(self.resolve(path))
    }

    fn write(&mut self, path: &str, data: &[u8], mode: u32) -> io::Result<()> {
        let target = self.resolve(path);
        std::fs::write(&target, data)?;
        set_mode(&target, mode)
    }

    fn stdout(&mut self, data: &[u8]) -> io::Result<()> {
        io::stdout().write_all(data)
    }

    fn stderr(&mut self, data: &[u8]) -> io::Result<()> {
        io::stderr().write_all(data)
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

/// Turns `dir` + `path` into a normalised relative key (`./a/../b` -> `b`).
fn normalise(cwd: &str, path: &str) -> String {
    let joined = if path.starts_with('/') {
        PathBuf::from(path)
    } else {
        Path::new(cwd).join(path)
    };
    let mut parts: Vec<String> = Vec::new();
    let mut absolute = false;
    for comp in joined.components() {
        match comp {
            Component::RootDir => absolute = true,
            Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                if parts.last().is_some_and(|p| p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..".into());
                }
            }
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
        }
    }
    let body = parts.join("/");
    if absolute {
        format!("/{body}")
    } else {
        body
    }
}

/// A file held by [`MemFs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemFile {
    /// Contents.
    pub data: Vec<u8>,
    /// Permission bits.
    pub mode: u32,
}

/// An in-memory file system for tests and for runners that keep guest files in memory.
#[derive(Debug, Clone, Default)]
pub struct MemFs {
    /// Working directory, relative to the in-memory root (empty = root).
    pub cwd: String,
    /// Files by normalised path.
    pub files: BTreeMap<String, MemFile>,
    /// Everything written to standard output.
    pub stdout: Vec<u8>,
    /// Everything written to standard error.
    pub stderr: Vec<u8>,
}

impl MemFs {
    /// An empty file system with the root as working directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a file (path relative to the working directory).
    pub fn insert(&mut self, path: &str, data: impl Into<Vec<u8>>) {
        let key = normalise(&self.cwd, path);
        self.files.insert(
            key,
            MemFile {
                data: data.into(),
                mode: 0o644,
            },
        );
    }

    /// The contents of a file, if present.
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files
            .get(&normalise(&self.cwd, path))
            .map(|f| f.data.as_slice())
    }
}

impl SeedFs for MemFs {
    fn read(&mut self, path: &str) -> io::Result<Vec<u8>> {
        self.files
            .get(&normalise(&self.cwd, path))
            .map(|f| f.data.clone())
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    fn write(&mut self, path: &str, data: &[u8], mode: u32) -> io::Result<()> {
        let key = normalise(&self.cwd, path);
        let mode = self.files.get(&key).map_or(mode, |f| f.mode);
        self.files.insert(
            key,
            MemFile {
                data: data.to_vec(),
                mode,
            },
        );
        Ok(())
    }

    fn stdout(&mut self, data: &[u8]) -> io::Result<()> {
        self.stdout.extend_from_slice(data);
        Ok(())
    }

    fn stderr(&mut self, data: &[u8]) -> io::Result<()> {
        self.stderr.extend_from_slice(data);
        Ok(())
    }
}

/// One file access seen by [`RecordingFs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsAccess {
    /// A successful read of the path (as given).
    Read(String),
    /// A failed read of the path.
    ReadFailed(String),
    /// A write of the path with this many bytes.
    Write(String, usize),
}

/// Wraps another [`SeedFs`] and records every file access in order.
#[derive(Debug)]
pub struct RecordingFs<F> {
    /// The wrapped file system.
    pub inner: F,
    /// Accesses in the order they happened.
    pub log: Vec<FsAccess>,
}

impl<F: SeedFs> RecordingFs<F> {
    /// Starts recording accesses to `inner`.
    pub fn new(inner: F) -> Self {
        RecordingFs {
            inner,
            log: Vec::new(),
        }
    }

    /// Paths read successfully, in order.
    pub fn reads(&self) -> Vec<&str> {
        self.log
            .iter()
            .filter_map(|a| match a {
                FsAccess::Read(p) => Some(p.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Paths written, in order.
    pub fn writes(&self) -> Vec<&str> {
        self.log
            .iter()
            .filter_map(|a| match a {
                FsAccess::Write(p, _) => Some(p.as_str()),
                _ => None,
            })
            .collect()
    }
}

impl<F: SeedFs> SeedFs for RecordingFs<F> {
    fn read(&mut self, path: &str) -> io::Result<Vec<u8>> {
        let result = self.inner.read(path);
        self.log.push(match result {
            Ok(_) => FsAccess::Read(path.to_string()),
            Err(_) => FsAccess::ReadFailed(path.to_string()),
        });
        result
    }

    fn write(&mut self, path: &str, data: &[u8], mode: u32) -> io::Result<()> {
        self.log.push(FsAccess::Write(path.to_string(), data.len()));
        self.inner.write(path, data, mode)
    }

    fn stdout(&mut self, data: &[u8]) -> io::Result<()> {
        self.inner.stdout(data)
    }

    fn stderr(&mut self, data: &[u8]) -> io::Result<()> {
        self.inner.stderr(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_resolves_dots() {
        assert_eq!(normalise("", "./x86/../a/b"), "a/b");
        assert_eq!(normalise("x86", "../M2libc/x.M1"), "M2libc/x.M1");
        assert_eq!(normalise("", "/abs/./p"), "/abs/p");
    }

    #[test]
    fn memfs_keeps_mode_of_existing_file() {
        let mut fs = MemFs::new();
        fs.write("a", b"1", 0o700).unwrap();
        fs.write("./a", b"2", 0o600).unwrap();
        assert_eq!(fs.files["a"].mode, 0o700);
        assert_eq!(fs.get("a"), Some(&b"2"[..]));
    }
}
