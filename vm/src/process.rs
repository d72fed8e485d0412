//! One guest process: its CPU, address space, program break, descriptors and directory.

use crate::elf::{STACK_INITIAL, STACK_LIMIT, STACK_TOP};
use crate::engine::AnyEngine;
use crate::memory::{GuestMemory, PAGE_SIZE};
use crate::vfs::{FileRef, OpenRef};

/// Linux's RLIMIT_NOFILE default soft limit. M2-Mesoplanet leaks descriptors up to fd 90.
pub const MAX_FDS: usize = 1024;

/// A guest process.
#[derive(Clone)]
pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    /// The engine running this process's instructions.
    pub cpu: AnyEngine,
    pub mem: GuestMemory,
    /// Initial break (end of the image, page aligned) and the current break.
    pub brk_start: u32,
    pub brk: u32,
    /// Lowest mapped stack address; the stack grows down to `STACK_TOP - STACK_LIMIT`.
    pub stack_bottom: u32,
    pub fds: Vec<Option<OpenRef>>,
    /// Normalised absolute guest path of the working directory.
    pub cwd: Vec<u8>,
    pub umask: u32,
    /// Index of this process's current record in the kernel's list (None until the
    /// forked child execs or exits).
    pub record: Option<usize>,
    /// Instructions executed before the record exists (a forked child before execve).
    pub pending_insns: u64,
    /// Regular files this image opened for writing, for the provenance record.
    pub written: Vec<FileRef>,
}

impl Process {
    /// The lowest address the break may reach before it would run into the stack's range.
    pub fn brk_limit(&self) -> u32 {
        STACK_TOP - STACK_LIMIT - 16 * PAGE_SIZE
    }

    /// The initial stack bottom for a fresh image.
    pub fn initial_stack_bottom(esp: u32) -> u32 {
        (STACK_TOP - STACK_INITIAL).min(esp & !(PAGE_SIZE - 1))
    }

    /// Maps stack pages down to `addr` if it lies in the stack's growth range.
    pub fn grow_stack(&mut self, addr: u32) -> bool {
        let floor = STACK_TOP - STACK_LIMIT;
        if addr < floor || addr >= self.stack_bottom {
            return false;
        }
        let new_bottom = addr & !(PAGE_SIZE - 1);
        self.mem.map(new_bottom, self.stack_bottom - new_bottom);
        self.stack_bottom = new_bottom;
        true
    }

    /// The descriptor `fd`, if open.
    pub fn fd(&self, fd: u32) -> Option<&OpenRef> {
        self.fds.get(fd as usize).and_then(|f| f.as_ref())
    }

    /// Installs `file` at the lowest free descriptor at or above `min`.
    pub fn install_fd(&mut self, file: OpenRef, min: usize) -> Option<u32> {
        let slot = (min..MAX_FDS).find(|&i| self.fds.get(i).is_none_or(|f| f.is_none()))?;
        if slot >= self.fds.len() {
            self.fds.resize(slot + 1, None);
        }
        self.fds[slot] = Some(file);
        Some(slot as u32)
    }
}
