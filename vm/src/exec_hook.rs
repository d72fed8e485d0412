//! Exec substitutes: a host-side stand-in that runs instead of a guest program at execve.
//!
//! Diverse double compilation runs some steps of a chain with an independently built
//! tool and compares what they write. The kernel asks an [`ExecHook`] at each execve
//! whether it substitutes the program; if so, the hook runs against the sandbox through
//! [`GuestIo`] (so its files land in the sandbox and in the records) and the process exits
//! with the hook's status, its record marked with [`ProcessRecord::substitute`].
//!
//! [`ProcessRecord::substitute`]: crate::record::ProcessRecord::substitute

use std::io::{self, Write};
use std::path::PathBuf;

use crate::errno::Errno;
use crate::kernel::Kernel;
use crate::record::{self, ExitStatus, FileAccess, RecordEnd};
use crate::vfs::{oflag, FileRef, Handle, Vfs};

/// The program an execve asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRequest {
    /// Normalised absolute guest path of the executable.
    pub exe: String,
    pub argv: Vec<String>,
    pub env: Vec<String>,
    /// Normalised absolute guest path of the working directory.
    pub cwd: String,
}

/// Decides which programs run as substitutes, and runs them.
pub trait ExecHook {
    /// The substitute's name (it goes into the record) if this program is replaced.
    fn substitute_for(&mut self, req: &ExecRequest) -> Option<String>;
    /// Runs the substitute; the process then exits with the returned status.
    fn run(&mut self, req: &ExecRequest, io: &mut GuestIo<'_>) -> ExitStatus;
}

/// Whole-file access to the sandbox from the substituted process's point of view.
pub struct GuestIo<'k> {
    vfs: &'k mut Vfs,
    cwd: Vec<u8>,
    umask: u32,
    stdout: &'k mut dyn Write,
    stderr: &'k mut dyn Write,
    written: Vec<FileRef>,
    reads: Vec<FileAccess>,
}

fn io_error(what: &str, path: &str, e: Errno) -> io::Error {
    io::Error::other(format!("{what} {path}: {e}"))
}

impl GuestIo<'_> {
    /// The host directory that is the process's working directory.
    pub fn host_cwd(&self) -> PathBuf {
        let rel = String::from_utf8_lossy(&self.cwd).into_owned();
        self.vfs.root().join(rel.trim_start_matches('/'))
    }

    /// Reads a whole file (path relative to the working directory), recording the read.
    pub fn read(&mut self, path: &str) -> io::Result<Vec<u8>> {
        let node = self.open(path, oflag::RDONLY, 0)?;
        let data = node.borrow().data.clone();
        let acc = FileAccess {
            path: record::text(&node.borrow().guest),
            sha256: record::sha256_hex(&data),
            deleted: false,
        };
        if !self.reads.contains(&acc) {
            self.reads.push(acc);
        }
        self.close(node)?;
        Ok(data)
    }

    /// Creates or truncates a file and writes `data`, recording the write.
    pub fn write(&mut self, path: &str, data: &[u8], mode: u32) -> io::Result<()> {
        let flags = oflag::WRONLY | oflag::CREAT | oflag::TRUNC;
        let node = self.open(path, flags, mode)?;
        {
            let mut n = node.borrow_mut();
            n.data = data.to_vec();
            n.dirty = true;
            n.written = true;
        }
        self.written.push(node.clone());
        self.close(node)
    }

    /// Records a write a host program made to the sandbox directly (host-compiled tools).
    pub fn note_host_write(&mut self, path: &str) -> io::Result<()> {
        let node = self.open(path, oflag::RDONLY, 0)?;
        self.written.push(node.clone());
        self.close(node)
    }

    /// Appends to the run's standard output.
    pub fn stdout(&mut self, data: &[u8]) -> io::Result<()> {
        self.stdout.write_all(data)
    }

    /// Appends to the run's standard error.
    pub fn stderr(&mut self, data: &[u8]) -> io::Result<()> {
        self.stderr.write_all(data)
    }

    fn open(&mut self, path: &str, flags: u32, mode: u32) -> io::Result<FileRef> {
        let of = self
            .vfs
            .open(&self.cwd, path.as_bytes(), flags, mode, self.umask)
            .map_err(|e| io_error("opening", path, e))?;
        match of.handle {
            Handle::File(node) => Ok(node),
            _ => Err(io_error("opening", path, Errno::EISDIR)),
        }
    }

    fn close(&mut self, node: FileRef) -> io::Result<()> {
        self.vfs.release(node).map_err(io::Error::other)
    }
}

impl Kernel {
    /// Asks `hook` at every execve whether a substitute runs instead of the program.
    pub fn set_exec_hook(&mut self, hook: Box<dyn ExecHook>) {
        self.exec_hook = Some(hook);
    }

    /// Called by execve once the program file exists: if the hook substitutes it, runs
    /// the substitute as the new image and exits the process; returns whether it did.
    pub(crate) fn substitute_exec(
        &mut self,
        exe: &[u8],
        argv: &[Vec<u8>],
        env: &[Vec<u8>],
    ) -> bool {
        let Some(mut hook) = self.exec_hook.take() else {
            return false;
        };
        let handled = self.run_substitute(hook.as_mut(), exe, argv, env);
        self.exec_hook = Some(hook);
        handled
    }

    fn run_substitute(
        &mut self,
        hook: &mut dyn ExecHook,
        exe: &[u8],
        argv: &[Vec<u8>],
        env: &[Vec<u8>],
    ) -> bool {
        let text = |v: &[Vec<u8>]| v.iter().map(|a| record::text(a)).collect::<Vec<_>>();
        let Some(mut p) = self.procs.pop() else {
            return false;
        };
        let req = ExecRequest {
            exe: record::text(exe),
            argv: text(argv),
            env: text(env),
            cwd: record::text(&p.cwd),
        };
        let Some(name) = hook.substitute_for(&req) else {
            self.procs.push(p);
            return false;
        };
        self.finish_record(&mut p, RecordEnd::Execed);
        let _ = self.stdio.stdout.flush();
        // A host-compiled substitute changes host files behind the sandbox's cache.
        if let Err(e) = self.vfs.forget_unused() {
            self.fatal.get_or_insert(e.into());
        }
        self.start_record(&mut p, exe, argv, env);
        let mut io = GuestIo {
            vfs: &mut self.vfs,
            cwd: p.cwd.clone(),
            umask: p.umask,
            stdout: &mut self.stdio.stdout,
            stderr: &mut self.stdio.stderr,
            written: Vec::new(),
            reads: Vec::new(),
        };
        let status = hook.run(&req, &mut io);
        let (written, reads) = (io.written, io.reads);
        // The written nodes stay shared with the record until the exit; put their bytes
        // on the host now, as a guest's close would have.
        if let Err(e) = self.vfs.sync() {
            self.fatal.get_or_insert(e.into());
        }
        if let Some(i) = p.record {
            let rec = &mut self.records[i];
            rec.substitute = Some(name);
            if self.cfg.record_files {
                rec.reads = reads;
            }
        }
        p.written = written;
        self.procs.push(p);
        self.exit_current(status);
        true
    }
}
