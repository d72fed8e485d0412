//! Process syscalls: exit, fork, execve, waitpid, brk, pids.

use super::{guest_path, SysError, SysResult};
use crate::cpu::reg;
use crate::elf;
use crate::errno::Errno;
use crate::kernel::Kernel;
use crate::limits::Limit;
use crate::memory::{GuestMemory, PAGE_SIZE};
use crate::process::Process;
use crate::record::{ExitStatus, RecordEnd};
use crate::vfs::{oflag, NodeKind};

/// Linux's limits on execve arguments: MAX_ARG_STRLEN for one string, and a quarter of
/// the 8 MiB stack for all of argv and envp together.
const MAX_ARG_LEN: usize = 32 * PAGE_SIZE as usize;
const MAX_ARG_TOTAL: usize = (crate::elf::STACK_LIMIT / 4) as usize;

pub(super) fn exit(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    k.exit_current(ExitStatus::Code(a[0] as u8));
    Err(SysError::NoReturn)
}
pub(super) use exit as exit_group;

pub(super) fn getpid(k: &mut Kernel, _a: [u32; 6]) -> SysResult {
    Ok(k.cur().pid)
}

pub(super) fn getppid(k: &mut Kernel, _a: [u32; 6]) -> SysResult {
    // The first process's parent is outside the sandbox: show it as init.
    Ok(k.cur().ppid.max(1))
}

pub(super) fn fork(k: &mut Kernel, _a: [u32; 6]) -> SysResult {
    let live = k.procs.len() + k.zombies.len();
    if live as u64 >= k.cfg.limits.max_processes as u64 {
        k.limit_reached(Limit::Processes);
        return Err(Errno::EAGAIN.into());
    }
    // The child copies the parent's memory: refuse before copying.
    let pages = k.procs.last().expect("running").mem.mapped_pages() as u64;
    if !k.admit_pages(pages, 0) {
        return Err(Errno::ENOMEM.into());
    }
    let pid = k.alloc_pid();
    let parent = k.procs.last_mut().expect("running");
    let mut child: Process = parent.clone();
    parent.cpu.set_reg(reg::EAX, pid);
    child.pid = pid;
    child.ppid = parent.pid;
    child.cpu.set_reg(reg::EAX, 0);
    child.record = None;
    child.pending_insns = 0;
    child.written.clear();
    // Parent and child share stdout; what the parent wrote must come first.
    let _ = k.stdio.stdout.flush();
    let _ = k.stdio.stderr.flush();
    k.procs.push(child);
    k.note_guest_pages();
    Err(SysError::NoReturn)
}

pub(super) fn waitpid(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    let (want, status_addr, options) = (a[0] as i32, a[1], a[2]);
    if options & !(1 | 2 | 8 | 0x0100_0000 | 0x4000_0000 | 0x8000_0000) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let me = k.cur().pid;
    // Children run to completion before their parent resumes, so a child is either a
    // zombie here or already reaped: nothing ever has to block.
    let found = if want > 0 {
        k.zombies
            .get(&(me, want as u32))
            .map(|s| ((me, want as u32), *s))
    } else {
        k.zombies
            .range((me, 0)..=(me, u32::MAX))
            .next()
            .map(|(key, s)| (*key, *s))
    };
    let Some((key, status)) = found else {
        return Err(Errno::ECHILD.into());
    };
    if status_addr != 0 {
        k.cur()
            .mem
            .write_u32(status_addr, status.wait_status())
            .map_err(|_| Errno::EFAULT)?;
    }
    k.zombies.remove(&key);
    Ok(key.1)
}

pub(super) fn brk(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    let p = k.cur();
    let want = a[0];
    if want < p.brk_start || want > p.brk_limit() {
        return Ok(p.brk);
    }
    let old_top = p.brk.div_ceil(PAGE_SIZE) * PAGE_SIZE;
    let new_top = want.div_ceil(PAGE_SIZE) * PAGE_SIZE;
    if new_top > old_top {
        if !k.admit_pages(((new_top - old_top) / PAGE_SIZE) as u64, 0) {
            return Ok(k.cur().brk);
        }
        k.cur().mem.map(old_top, new_top - old_top);
    } else if new_top < old_top {
        p.mem.unmap(new_top, old_top - new_top);
    }
    k.cur().brk = want;
    if new_top > old_top {
        k.note_guest_pages();
    }
    Ok(want)
}

/// Reads a NULL-terminated array of string pointers (argv or envp), adding its strings'
/// sizes to `total`; E2BIG as soon as `total` passes Linux's limit, before more is copied.
fn string_array(p: &Process, mut addr: u32, total: &mut usize) -> Result<Vec<Vec<u8>>, Errno> {
    let mut out = Vec::new();
    if addr == 0 {
        return Ok(out);
    }
    loop {
        let ptr = p.mem.read_u32(addr).map_err(|_| Errno::EFAULT)?;
        if ptr == 0 {
            return Ok(out);
        }
        let s = p
            .mem
            .read_cstr(ptr, MAX_ARG_LEN)
            .map_err(|_| Errno::EFAULT)?;
        if s.len() >= MAX_ARG_LEN {
            return Err(Errno::E2BIG);
        }
        // Each string with its NUL and its pointer, as Linux counts them.
        *total += s.len() + 1 + 4;
        if *total > MAX_ARG_TOTAL {
            return Err(Errno::E2BIG);
        }
        out.push(s);
        addr = addr.wrapping_add(4);
    }
}

pub(super) fn execve(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    let p = k.procs.last().expect("running");
    let path = guest_path(p, a[0])?;
    let mut total = 0;
    let argv = string_array(p, a[1], &mut total)?;
    let envp = string_array(p, a[2], &mut total)?;
    let r = k.vfs.resolve(&p.cwd, &path, true)?;
    match r.kind {
        Some(NodeKind::File) => {}
        None => return Err(Errno::ENOENT.into()),
        Some(_) => return Err(Errno::EACCES.into()),
    }
    if k.substitute_exec(&r.guest, &argv, &envp) {
        return Err(SysError::NoReturn);
    }
    let bytes = k.vfs.read_whole(&r)?;
    let need = (elf::load_size(&bytes) + elf::STACK_INITIAL as u64) / PAGE_SIZE as u64;
    let old = k.procs.last().expect("running").mem.mapped_pages() as u64;
    if !k.admit_pages(need, old) {
        return Err(Errno::ENOMEM.into());
    }
    // Load into a fresh address space first: until it succeeds the caller keeps running
    // and sees ENOEXEC, as with a Linux execve that fails before the point of no return.
    let mut mem = GuestMemory::new();
    let image = elf::load(&bytes, &mut mem).map_err(|_| Errno::ENOEXEC)?;
    let esp = elf::setup_stack(&mut mem, &image, &path, &argv, &envp).map_err(|_| Errno::E2BIG)?;

    let mut p = k.procs.pop().expect("running");
    k.finish_record(&mut p, RecordEnd::Execed);
    let _ = std::io::Write::flush(&mut k.stdio.stdout);
    if let Err(e) = k.vfs.sync() {
        k.fatal.get_or_insert(e.into());
    }
    p.mem = mem;
    p.cpu = k.new_engine(image.entry, esp);
    p.brk_start = image.brk;
    p.brk = image.brk;
    p.stack_bottom = Process::initial_stack_bottom(esp);
    for i in 0..p.fds.len() {
        let cloexec = p.fds[i]
            .as_ref()
            .is_some_and(|f| f.borrow().flags & oflag::CLOEXEC != 0);
        if cloexec {
            let f = p.fds[i].take().expect("checked");
            if let Err(e) = k.release(f) {
                k.fatal.get_or_insert(e.into());
            }
        }
    }
    k.start_record(&mut p, &r.guest, &argv, &envp);
    k.procs.push(p);
    k.note_guest_pages();
    Err(SysError::NoReturn)
}
