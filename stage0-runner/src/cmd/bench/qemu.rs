//! The qemu-i386 part of `bench`: the chain runs in our kernel, and at every execve of a
//! program that is not a fork/exec parent an [`ExecHook`] runs it as
//! `qemu-i386 -0 ARGV0 HOST-EXE ARGV[1..]` instead, in the process's host working directory
//! with exactly the guest's environment. The parents (the kaem shells, M2-Mesoplanet) stay
//! in our kernel so that their children reach the hook too; without binfmt_misc, a parent
//! run under qemu would have its children run natively by the host kernel.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use vm::exec_hook::{ExecHook, ExecRequest, GuestIo};
use vm::ExitStatus;

/// Programs that fork and exec the chain's other programs (matched by file name).
pub const PARENTS: [&str; 4] = ["kaem-optional-seed", "kaem-0", "kaem", "M2-Mesoplanet"];

/// The name substituted records carry.
pub const SUBSTITUTE: &str = "qemu-i386";

/// Whether `exe` (any path) is one of the [`PARENTS`].
pub fn is_parent(exe: &str) -> bool {
    let name = exe.rsplit('/').next().unwrap_or(exe);
    PARENTS.contains(&name)
}

/// Why qemu-i386 cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum QemuError {
    #[error("qemu-i386 is not installed (no qemu-i386 on PATH; install it with `apt-get install qemu-user`)")]
    NotInstalled,
    #[error("{path}: `qemu-i386 --version` did not run: {message}")]
    Broken { path: PathBuf, message: String },
}

/// The qemu-i386 on the host's PATH and its version line.
pub fn find_qemu() -> Result<(PathBuf, String), QemuError> {
    let path = std::env::var_os("PATH").ok_or(QemuError::NotInstalled)?;
    let exe = std::env::split_paths(&path)
        .map(|d| d.join("qemu-i386"))
        .find(|p| p.is_file())
        .ok_or(QemuError::NotInstalled)?;
    let broken = |message: String| QemuError::Broken {
        path: exe.clone(),
        message,
    };
    let out = Command::new(&exe)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| broken(e.to_string()))?;
    if !out.status.success() {
        return Err(broken(out.status.to_string()));
    }
    let version = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    Ok((exe, version))
}

/// What the substitutes did, shared with whoever installed the hook.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QemuStats {
    /// Programs run under qemu-i386.
    pub programs: u64,
    /// Of those, how many exited with a non-zero status or a signal, or did not start.
    pub failed: u64,
    /// Wall time spent waiting for qemu-i386 processes, summed.
    pub wall: Duration,
}

/// The hook: every program but the [`PARENTS`] runs under qemu-i386.
pub struct QemuHook {
    qemu: PathBuf,
    /// The sandbox's host directory (guest `/`).
    root: PathBuf,
    stats: Rc<RefCell<QemuStats>>,
}

impl QemuHook {
    /// A hook running `qemu` for programs of the sandbox rooted at `root`.
    pub fn new(qemu: &Path, root: &Path) -> QemuHook {
        QemuHook {
            qemu: qemu.to_path_buf(),
            root: root.to_path_buf(),
            stats: Rc::default(),
        }
    }

    /// The counters, updated as the run goes.
    pub fn stats(&self) -> Rc<RefCell<QemuStats>> {
        self.stats.clone()
    }

    fn run_qemu(&self, req: &ExecRequest, io: &mut GuestIo<'_>) -> Result<ExitStatus, String> {
        let exe = self.root.join(req.exe.trim_start_matches('/'));
        let mut cmd = Command::new(&self.qemu);
        if let Some(argv0) = req.argv.first() {
            cmd.arg("-0").arg(argv0);
        }
        cmd.arg(&exe)
            .args(req.argv.get(1..).unwrap_or(&[]))
            .current_dir(io.host_cwd())
            .env_clear()
            .envs(
                req.env
                    .iter()
                    .map(|kv| kv.split_once('=').unwrap_or((kv, ""))),
            )
            .stdin(Stdio::null());
        let start = Instant::now();
        let out = cmd.output();
        self.stats.borrow_mut().wall += start.elapsed();
        let out = out.map_err(|e| format!("running {}: {e}", self.qemu.display()))?;
        io.stdout(&out.stdout).map_err(|e| e.to_string())?;
        io.stderr(&out.stderr).map_err(|e| e.to_string())?;
        Ok(exit_status(out.status))
    }
}

impl ExecHook for QemuHook {
    fn substitute_for(&mut self, req: &ExecRequest) -> Option<String> {
        (!is_parent(&req.exe)).then(|| SUBSTITUTE.to_string())
    }

    fn run(&mut self, req: &ExecRequest, io: &mut GuestIo<'_>) -> ExitStatus {
        self.stats.borrow_mut().programs += 1;
        let status = self.run_qemu(req, io).unwrap_or_else(|message| {
            let _ = io.stderr(format!("stage0-runner bench: {}: {message}\n", req.exe).as_bytes());
            ExitStatus::Code(1)
        });
        if status != ExitStatus::Code(0) {
            self.stats.borrow_mut().failed += 1;
        }
        status
    }
}

fn exit_status(s: std::process::ExitStatus) -> ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => ExitStatus::Code(c as u8),
        (None, Some(sig)) => ExitStatus::Signal(sig as u8),
        (None, None) => ExitStatus::Code(1),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parents_are_matched_by_file_name() {
        assert!(super::is_parent(
            "/bootstrap-seeds/POSIX/x86/kaem-optional-seed"
        ));
        assert!(super::is_parent("/x86/artifact/kaem-0"));
        assert!(super::is_parent("/x86/bin/kaem"));
        assert!(super::is_parent("/x86/bin/M2-Mesoplanet"));
        assert!(!super::is_parent("/x86/bin/M2-Planet"));
        assert!(!super::is_parent("/x86/artifact/hex0"));
        assert!(!super::is_parent("/x86/bin/kaem-helper"));
    }
}
