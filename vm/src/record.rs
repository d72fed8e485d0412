//! What each guest program did: the raw material of provenance.
//!
//! One [`ProcessRecord`] per program image a process ran (a spawn or an execve), in the
//! order they started. Nothing here depends on the host (no host paths, no wall time), so
//! two runs of the same inputs give equal records on any host.

use std::collections::BTreeMap;

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// exit(code).
    Code(u8),
    /// Killed by this signal (a fault).
    Signal(u8),
}

impl ExitStatus {
    /// The status word waitpid stores.
    pub fn wait_status(self) -> u32 {
        match self {
            ExitStatus::Code(c) => (c as u32) << 8,
            ExitStatus::Signal(s) => s as u32,
        }
    }

    /// The exit code a shell reports: the code, or 128 + signal.
    pub fn shell_code(self) -> i32 {
        match self {
            ExitStatus::Code(c) => c as i32,
            ExitStatus::Signal(s) => 128 + s as i32,
        }
    }
}

/// How a record's image ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordEnd {
    /// Still running (only seen while a run is in progress or after it was stopped).
    Running,
    /// The process exited or was killed.
    Exited(ExitStatus),
    /// The process replaced this image with execve.
    Execed,
}

/// A file a program read or wrote, with the SHA-256 of its contents.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FileAccess {
    /// Normalised absolute guest path.
    pub path: String,
    /// Hex SHA-256: of the contents when opened (reads) or when the image ended (writes).
    pub sha256: String,
    /// The file was unlinked before the image ended (a temporary).
    pub deleted: bool,
}

/// One program image's run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessRecord {
    pub pid: u32,
    /// Pid of the parent process (0 for the first).
    pub parent: u32,
    /// Guest path of the executable as resolved.
    pub exe: String,
    pub argv: Vec<String>,
    pub env: Vec<String>,
    /// Working directory when the image started.
    pub cwd: String,
    pub end: RecordEnd,
    pub instructions: u64,
    /// Syscall name → number of calls.
    pub syscalls: BTreeMap<&'static str, u64>,
    /// Files opened for reading, in first-open order, each (path, hash) once.
    pub reads: Vec<FileAccess>,
    /// Files opened for writing, sorted by path.
    pub writes: Vec<FileAccess>,
    /// Bytes moved by read(2) and write(2).
    pub bytes_read: u64,
    pub bytes_written: u64,
    /// The stand-in that ran instead of the program (see [`crate::exec_hook`]), if any.
    pub substitute: Option<String>,
}

/// Lossy text of guest bytes (paths and arguments are bytes to Linux).
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(data);
    let mut s = String::with_capacity(64);
    for b in d {
        s.push_str(&format!("{b:02x}"));
    }
    s
}
