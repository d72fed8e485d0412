//! The guest's Linux syscall surface: an explicit allow-list ([`table::SYSCALLS`]), each
//! entry a description (arguments, buffers read and written, effect on the image) and a
//! handler. [`SyscallTable`] answers engines' questions about a syscall stop
//! ([`SyscallAbi`]) from those descriptions.
//!
//! `int 0x80` stops the CPU; [`Kernel::syscall`] looks the number up here, runs the handler
//! and puts the result (or `-errno`) in eax. Anything not in the table returns `-ENOSYS`
//! and is counted, or stops the run under `strict_syscalls`. No syscall reaches the host
//! kernel directly: handlers work on the sandbox ([`crate::vfs`]) and the process model.

mod fs;
mod info;
mod proc;
pub mod table;

use std::fmt::Write as _;
use std::sync::OnceLock;

use crate::cpu::reg;
use crate::engine::{GuestInput, ImageChange, SyscallAbi, SyscallMemory};
use crate::errno::Errno;
use crate::kernel::{Kernel, RunError};
use crate::process::Process;

/// How a handler ended when it did not simply return a value.
#[derive(Debug)]
pub enum SysError {
    /// Return `-errno` to the guest.
    Errno(Errno),
    /// The handler set up the guest's state itself (exit, execve, fork): write nothing to eax.
    NoReturn,
}

impl From<Errno> for SysError {
    fn from(e: Errno) -> Self {
        SysError::Errno(e)
    }
}

/// What a handler returns: the value for eax.
pub type SysResult = Result<u32, SysError>;
/// A syscall handler: the kernel and the six argument registers (ebx ecx edx esi edi ebp).
pub type Handler = fn(&mut Kernel, [u32; 6]) -> SysResult;

/// One allowed syscall: its description and its handler.
pub struct Syscall {
    /// The i386 number (in eax).
    pub nr: u32,
    pub name: &'static str,
    pub handler: Handler,
    /// Each argument (ebx ecx edx esi edi ebp, in order): what it is, which guest memory
    /// the handler reads or writes through it; strace shows it by its kind.
    pub args: &'static [table::Arg],
    /// What the call does to the process image as a whole.
    pub image: ImageChange,
}

impl Syscall {
    /// The guest memory this call reads with `args`, and what it does to the image.
    pub fn memory_use(&self, args: &[u32; 6]) -> SyscallMemory {
        use table::{Arg, Len};
        let mut m = SyscallMemory {
            image: self.image,
            ..SyscallMemory::default()
        };
        for (i, arg) in self.args.iter().enumerate() {
            m.inputs[i] = match *arg {
                Arg::Path => Some(GuestInput::CStr {
                    addr: args[i],
                    // The longest path the handlers read, and its NUL.
                    max: crate::vfs::path::PATH_MAX as u32 + 1,
                }),
                Arg::In(len) => {
                    let len = match len {
                        Len::Arg(j) => args[j].min(fs::MAX_RW),
                        Len::Fixed(n) => n,
                        // Nothing reads a buffer sized by its own result.
                        Len::Ret => continue,
                    };
                    Some(GuestInput::Bytes { addr: args[i], len })
                }
                Arg::Int | Arg::Fd | Arg::Mode | Arg::Hex | Arg::Out(_) => None,
            };
        }
        m
    }
}

/// The i386 calling convention: eax the number, then ebx ecx edx esi edi ebp.
fn syscall_regs(r: &[u32; 8]) -> (u32, [u32; 6]) {
    let args = [
        r[reg::EBX],
        r[reg::ECX],
        r[reg::EDX],
        r[reg::ESI],
        r[reg::EDI],
        r[reg::EBP],
    ];
    (r[reg::EAX], args)
}

/// Number → syscall lookup, built once from [`table::SYSCALLS`].
pub struct SyscallTable {
    by_nr: Vec<Option<&'static Syscall>>,
}

impl Default for SyscallTable {
    fn default() -> Self {
        Self::new()
    }
}

impl SyscallTable {
    /// The lookup table for the allow-list.
    pub fn new() -> SyscallTable {
        let mut by_nr = vec![None; 512];
        for s in table::SYSCALLS {
            by_nr[s.nr as usize] = Some(s);
        }
        SyscallTable { by_nr }
    }

    /// The allowed syscall with this number.
    #[inline]
    pub fn get(&self, nr: u32) -> Option<&'static Syscall> {
        self.by_nr.get(nr as usize).copied().flatten()
    }

    /// Name of syscall `nr` ("unknown" outside the list).
    pub fn name(&self, nr: u32) -> &'static str {
        self.get(nr).map(|s| s.name).unwrap_or("unknown")
    }

    /// The table, built once per process.
    pub fn global() -> &'static SyscallTable {
        static TABLE: OnceLock<SyscallTable> = OnceLock::new();
        TABLE.get_or_init(SyscallTable::new)
    }
}

impl SyscallAbi for SyscallTable {
    /// A syscall outside the allow-list reads nothing (it fails with ENOSYS).
    fn memory_use(&self, regs: &[u32; 8]) -> SyscallMemory {
        let (nr, args) = syscall_regs(regs);
        self.get(nr)
            .map_or(SyscallMemory::default(), |sc| sc.memory_use(&args))
    }
}

impl Kernel {
    /// Services the `int 0x80` the running process just executed.
    pub(crate) fn syscall(&mut self) {
        let p = self.procs.last().expect("a process is running");
        let (nr, args) = syscall_regs(&p.cpu.regs());
        let pid = p.pid;
        self.stats.syscalls += 1;
        if let Some(i) = p.record {
            self.counts[i][(nr as usize).min(511)] += 1;
        }
        let Some(sc) = self.table.get(nr) else {
            *self.stats.unknown_syscalls.entry(nr).or_default() += 1;
            if self.cfg.strict_syscalls {
                let p = self.procs.last().expect("running");
                let (exe, eip) = (self.exe_of(p), p.cpu.eip().wrapping_sub(2));
                self.fatal = Some(RunError::StrictSyscall { nr, pid, exe, eip });
            } else {
                self.set_eax(Errno::ENOSYS.ret());
            }
            self.trace(pid, None, nr, args, &Err(SysError::Errno(Errno::ENOSYS)));
            return;
        };
        let strace_args = self.strace.as_ref().map(|_| self.format_args(sc, args));
        let res = (sc.handler)(self, args);
        if let Some(a) = strace_args {
            self.trace(pid, Some((sc, a)), nr, args, &res);
        }
        match res {
            Ok(v) => self.set_eax(v),
            Err(SysError::Errno(e)) => self.set_eax(e.ret()),
            Err(SysError::NoReturn) => {}
        }
    }

    fn set_eax(&mut self, v: u32) {
        if let Some(p) = self.procs.last_mut() {
            p.cpu.set_reg(reg::EAX, v);
        }
    }

    pub(crate) fn cur(&mut self) -> &mut Process {
        self.procs.last_mut().expect("a process is running")
    }

    /// Formats the arguments before the call (execve replaces the memory they point into).
    fn format_args(&self, sc: &Syscall, args: [u32; 6]) -> String {
        let p = self.procs.last().expect("running");
        let mut out = String::new();
        use table::Arg;
        for (i, k) in sc.args.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let a = args[i];
            let _ = match k {
                Arg::Path => match p.mem.read_cstr(a, 256) {
                    Ok(s) => write!(out, "{:?}", String::from_utf8_lossy(&s)),
                    Err(_) => write!(out, "{a:#x}"),
                },
                Arg::Int | Arg::Fd => write!(out, "{}", a as i32),
                Arg::Mode => write!(out, "{a:#o}"),
                Arg::Hex | Arg::In(_) | Arg::Out(_) => write!(out, "{a:#x}"),
            };
        }
        out
    }

    fn trace(
        &mut self,
        pid: u32,
        sc: Option<(&Syscall, String)>,
        nr: u32,
        args: [u32; 6],
        res: &SysResult,
    ) {
        let Some(w) = self.strace.as_mut() else {
            return;
        };
        let call = match sc {
            Some((s, a)) => format!("{}({a})", s.name),
            None => format!(
                "syscall_{nr}({:#x}, {:#x}, {:#x})",
                args[0], args[1], args[2]
            ),
        };
        let ret = match res {
            Ok(v) => format!("{}", *v as i32),
            Err(SysError::Errno(e)) => format!("-1 {} ({})", e.name(), e.0),
            Err(SysError::NoReturn) => "?".into(),
        };
        let _ = writeln!(w, "{pid} {call} = {ret}");
    }
}

/// Reads a NUL-terminated path argument from guest memory.
pub(crate) fn guest_path(p: &Process, addr: u32) -> Result<Vec<u8>, Errno> {
    let s = p
        .mem
        .read_cstr(addr, crate::vfs::path::PATH_MAX)
        .map_err(|_| Errno::EFAULT)?;
    if s.len() >= crate::vfs::path::PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(s)
}
