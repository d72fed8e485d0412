//! What a run reports: why a program could not start ([`SpawnError`]), why a run stopped
//! early ([`RunError`]), the faults that killed processes ([`FaultReport`]) and the run's
//! totals ([`RunStats`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::cpu::FaultKind;
use crate::elf::{ElfError, StackError};
use crate::engine::EngineError;
use crate::errno::Errno;
use crate::limits::Limit;
use crate::vfs::WriteBackError;

/// Why the first program could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("{path}: {errno} ({})", describe(*errno))]
    Path { path: String, errno: Errno },
    #[error("{path}: not a runnable i386 executable: {source}")]
    Elf { path: String, source: ElfError },
    #[error("{path}: {source}")]
    Stack { path: String, source: StackError },
    #[error("{0}")]
    Engine(EngineError),
    #[error("{0}")]
    Limit(Box<RunError>),
    #[error("sandbox root {root}: {source}")]
    Root {
        root: PathBuf,
        source: std::io::Error,
    },
}

fn describe(e: Errno) -> &'static str {
    match e {
        Errno::ENOENT => "no such file in the sandbox",
        Errno::EACCES => "not a regular file",
        Errno::ENOTDIR => "a path component is not a directory",
        Errno::ELOOP => "too many symbolic links",
        _ => "cannot open",
    }
}

/// A guest fault that killed a process, with what is needed to explain it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultReport {
    pub pid: u32,
    pub exe: String,
    pub kind: FaultKind,
    pub signal: u8,
    pub eip: u32,
    /// The instruction's bytes and Intel-syntax text, when they could be read and decoded.
    pub insn: Option<(Vec<u8>, String)>,
}

impl std::fmt::Display for FaultReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cause = match self.kind {
            FaultKind::InvalidOpcode => "invalid or unsupported instruction".to_string(),
            FaultKind::Page(m) => m.to_string(),
            FaultKind::Divide => "divide error (division by zero or quotient overflow)".into(),
            FaultKind::GeneralProtection => {
                "general protection fault (privileged instruction or int other than 0x80)".into()
            }
            FaultKind::Breakpoint => "breakpoint (int3)".into(),
        };
        write!(
            f,
            "pid {} ({}) killed by {}: {} at eip {:#010x}",
            self.pid,
            self.exe,
            signal_name(self.signal),
            cause,
            self.eip
        )?;
        match &self.insn {
            Some((bytes, text)) => {
                let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
                write!(f, ": {} ({})", hex.join(" "), text)
            }
            None => write!(f, ": instruction bytes not readable"),
        }
    }
}

/// Linux signal numbers used for faults.
pub mod signal {
    pub const SIGILL: u8 = 4;
    pub const SIGTRAP: u8 = 5;
    pub const SIGFPE: u8 = 8;
    pub const SIGKILL: u8 = 9;
    pub const SIGSEGV: u8 = 11;
}

/// The conventional name of a signal number.
pub fn signal_name(s: u8) -> &'static str {
    match s {
        signal::SIGILL => "SIGILL",
        signal::SIGTRAP => "SIGTRAP",
        signal::SIGFPE => "SIGFPE",
        signal::SIGKILL => "SIGKILL",
        signal::SIGSEGV => "SIGSEGV",
        _ => "signal",
    }
}

/// Why a whole run stopped early.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("instruction limit of {limit} reached in pid {pid} ({exe}) at eip {eip:#010x} (raise it with --max-insns)")]
    InsnLimit {
        limit: u64,
        pid: u32,
        exe: String,
        eip: u32,
    },
    #[error("pid {pid} ({exe}) made syscall {nr} at eip {eip:#010x}, which is not in the allow-list (--strict-syscalls)")]
    StrictSyscall {
        nr: u32,
        pid: u32,
        exe: String,
        eip: u32,
    },
    #[error("pid {pid} ({exe}): {source}")]
    Engine {
        pid: u32,
        exe: String,
        source: EngineError,
    },
    #[error("limit on {} reached: {} in pid {pid} ({exe}) (raise it with {})", .limit.what(), .limit.show(*.value), .limit.flag())]
    Limit {
        limit: Limit,
        /// The limit's value, in its unit (bytes, processes, seconds).
        value: u64,
        pid: u32,
        exe: String,
    },
    #[error("interrupted by signal {signal}: every file was written back")]
    Interrupted { signal: i32 },
    #[error(transparent)]
    WriteBack(#[from] WriteBackError),
    #[error("writing the guest's standard output: {0}")]
    Stdout(std::io::Error),
}

/// Totals over a run.
#[derive(Debug, Clone, Default)]
pub struct RunStats {
    pub instructions: u64,
    pub syscalls: u64,
    /// Calls to syscalls outside the allow-list, by number (answered with ENOSYS).
    pub unknown_syscalls: BTreeMap<u32, u64>,
    pub processes: u64,
    /// The most guest pages mapped at once, summed over the processes alive then (a
    /// waiting parent's memory counts while its child runs): what the guests themselves
    /// need, to compare the host's peak resident memory with. Updated wherever guest
    /// memory grows: spawn, brk, fork, execve and stack growth.
    pub peak_guest_pages: u64,
    /// Bytes the guests wrote to files and standard streams, counting the holes that
    /// writes past a file's end leave (what `--max-written` limits).
    pub bytes_written: u64,
}
