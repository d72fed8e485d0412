//! File and directory syscalls, served by the sandbox.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::rc::Rc;

use super::{guest_path, SysError, SysResult};
use crate::errno::Errno;
use crate::kernel::{Kernel, RunError};
use crate::limits::Limit;
use crate::process::MAX_FDS;
use crate::record::{self, FileAccess};
use crate::vfs::{oflag, Handle, NodeKind, OpenRef};

/// Largest single read/write Linux performs (MAX_RW_COUNT).
pub(super) const MAX_RW: u32 = 0x7fff_f000;

fn fd_of(k: &mut Kernel, fd: u32) -> Result<OpenRef, Errno> {
    k.cur().fd(fd).cloned().ok_or(Errno::EBADF)
}

pub(super) fn read(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    let (fd, buf, count) = (a[0], a[1], a[2].min(MAX_RW));
    let f = fd_of(k, fd)?;
    let mut of = f.borrow_mut();
    if !of.readable() {
        return Err(Errno::EBADF.into());
    }
    let n = match &of.handle {
        Handle::File(node) => {
            let node = node.borrow();
            let len = node.data.len() as u64;
            let start = of.offset.min(len) as usize;
            let n = (len as usize - start).min(count as usize);
            let p = k.procs.last_mut().expect("running");
            if n == 1 {
                p.mem
                    .write_u8(buf, node.data[start])
                    .map_err(|_| Errno::EFAULT)?;
                1
            } else {
                // Like Linux, a buffer running into unmapped memory gets what fits before it.
                let fit = p.mem.mapped_prefix(buf, n as u32) as usize;
                if fit == 0 && n > 0 {
                    return Err(Errno::EFAULT.into());
                }
                p.mem
                    .write_bytes(buf, &node.data[start..start + fit])
                    .map_err(|_| Errno::EFAULT)?;
                fit
            }
        }
        Handle::Stdin => {
            let fit = k.cur().mem.mapped_prefix(buf, count.min(1 << 16));
            if fit == 0 && count > 0 {
                return Err(Errno::EFAULT.into());
            }
            let mut tmp = vec![0u8; fit as usize];
            let n = k
                .stdio
                .stdin
                .read(&mut tmp)
                .map_err(|e| Errno::from_io(&e))?;
            k.cur()
                .mem
                .write_bytes(buf, &tmp[..n])
                .map_err(|_| Errno::EFAULT)?;
            n
        }
        Handle::Dir { .. } => return Err(Errno::EISDIR.into()),
        Handle::Stdout | Handle::Stderr => return Err(Errno::EBADF.into()),
    };
    of.offset += n as u64 * matches!(of.handle, Handle::File(_)) as u64;
    if let Some(i) = k.procs.last().and_then(|p| p.record) {
        k.records[i].bytes_read += n as u64;
    }
    Ok(n as u32)
}

/// Largest piece of a write copied out of guest memory at once.
const WRITE_CHUNK: u32 = 1 << 16;

pub(super) fn write(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    let (fd, buf, count) = (a[0], a[1], a[2].min(MAX_RW));
    let f = fd_of(k, fd)?;
    let mut of = f.borrow_mut();
    if !of.writable() {
        return Err(Errno::EBADF.into());
    }
    if matches!(of.handle, Handle::Stdin | Handle::Dir { .. }) {
        return Err(Errno::EBADF.into());
    }
    let p = k.procs.last().expect("running");
    // The chain's 11.8 M one-byte writes take the short way.
    let one = if count == 1 {
        Some([p.mem.read_u8(buf).map_err(|_| Errno::EFAULT)?])
    } else {
        None
    };
    // Checked before anything is allocated: a guest asking to write 4 GiB from a small
    // buffer gets what its memory holds, like Linux, and nothing more is copied.
    let count = match one {
        Some(_) => 1,
        None => match p.mem.mapped_prefix(buf, count) {
            0 if count > 0 => return Err(Errno::EFAULT.into()),
            fit => fit,
        },
    };
    // A write past the end fills the gap with zeros the host holds in memory: the gap
    // counts as written, or lseek far out and one byte would bypass the limit.
    let hole = match &of.handle {
        Handle::File(n) if count > 0 && of.flags & oflag::APPEND == 0 => {
            of.offset.saturating_sub(n.borrow().data.len() as u64)
        }
        _ => 0,
    };
    if k.stats.bytes_written + hole + count as u64 > k.cfg.limits.max_written {
        k.limit_reached(Limit::Written);
        return Err(Errno::EFBIG.into());
    }
    let mut done = 0u32;
    let mut big = Vec::new();
    while done < count {
        let n = (count - done).min(WRITE_CHUNK);
        let data: &[u8] = match &one {
            Some(b) => b,
            None => {
                big.resize(n as usize, 0);
                let p = k.procs.last().expect("running");
                p.mem
                    .read_bytes(buf + done, &mut big)
                    .map_err(|_| Errno::EFAULT)?;
                &big
            }
        };
        write_to(k, &mut of, data)?;
        done += n;
    }
    k.stats.bytes_written += hole + count as u64;
    if let Some(i) = k.procs.last().and_then(|p| p.record) {
        k.records[i].bytes_written += count as u64;
    }
    Ok(count)
}

/// Writes `data` where the open file description leads.
fn write_to(k: &mut Kernel, of: &mut crate::vfs::OpenFile, data: &[u8]) -> Result<(), SysError> {
    match &of.handle {
        Handle::File(_) => match of.write_file(data, k.cfg.limits.max_file_size) {
            Err(Errno::EFBIG) => {
                k.limit_reached(Limit::FileSize);
                return Err(Errno::EFBIG.into());
            }
            r => r?,
        },
        Handle::Stdout => stream_write(&mut k.stdio.stdout, data, &mut k.fatal)?,
        _ => stream_write(&mut k.stdio.stderr, data, &mut k.fatal)?,
    };
    Ok(())
}

fn stream_write(
    w: &mut Box<dyn Write>,
    data: &[u8],
    fatal: &mut Option<RunError>,
) -> Result<usize, Errno> {
    match w.write_all(data) {
        Ok(()) => Ok(data.len()),
        Err(e) => {
            let errno = Errno::from_io(&e);
            fatal.get_or_insert(RunError::Stdout(e));
            Err(errno)
        }
    }
}

pub(super) fn open(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    let (flags, mode) = (a[1], a[2]);
    let p = k.procs.last().expect("running");
    let path = guest_path(p, a[0])?;
    let of = k.vfs.open(&p.cwd, &path, flags, mode, p.umask)?;
    let (readable, writable) = (of.readable(), of.writable());
    let node = match &of.handle {
        Handle::File(n) => Some(n.clone()),
        _ => None,
    };
    let f = Rc::new(RefCell::new(of));
    let p = k.procs.last_mut().expect("running");
    let Some(fd) = p.install_fd(f.clone(), 0) else {
        drop(node);
        k.release(f).map_err(|_| Errno::EIO)?;
        return Err(Errno::EMFILE.into());
    };
    if let (Some(node), Some(i)) = (node, p.record) {
        if writable {
            p.written.push(node.clone());
        }
        if readable && k.cfg.record_files {
            let n = node.borrow();
            let acc = FileAccess {
                path: record::text(&n.guest),
                sha256: record::sha256_hex(&n.data),
                deleted: false,
            };
            let reads = &mut k.records[i].reads;
            if !reads.contains(&acc) {
                reads.push(acc);
            }
        }
    }
    Ok(fd)
}

pub(super) fn creat(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    open(
        k,
        [
            a[0],
            oflag::WRONLY | oflag::CREAT | oflag::TRUNC,
            a[1],
            0,
            0,
            0,
        ],
    )
}

pub(super) fn close(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    let p = k.cur();
    let f = p
        .fds
        .get_mut(a[0] as usize)
        .and_then(|f| f.take())
        .ok_or(Errno::EBADF)?;
    if let Err(e) = k.release(f) {
        k.fatal.get_or_insert(e.into());
        return Err(Errno::EIO.into());
    }
    Ok(0)
}

pub(super) fn lseek(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    let f = fd_of(k, a[0])?;
    let r = f.borrow_mut().seek(a[1] as i32, a[2]);
    Ok(r?)
}

/// Resolves a path argument against the running process's directory.
fn with_path<T>(
    k: &mut Kernel,
    addr: u32,
    f: impl FnOnce(&mut crate::vfs::Vfs, &[u8], &[u8], u32) -> Result<T, Errno>,
) -> Result<T, SysError> {
    let p = k.procs.last().expect("running");
    let path = guest_path(p, addr)?;
    let (cwd, umask) = (p.cwd.clone(), p.umask);
    Ok(f(&mut k.vfs, &cwd, &path, umask)?)
}

pub(super) fn unlink(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    with_path(k, a[0], |v, cwd, p, _| v.unlink(cwd, p)).map(|_| 0)
}

pub(super) fn mkdir(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    with_path(k, a[0], |v, cwd, p, umask| v.mkdir(cwd, p, a[1], umask)).map(|_| 0)
}

pub(super) fn rmdir(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    with_path(k, a[0], |v, cwd, p, _| v.rmdir(cwd, p)).map(|_| 0)
}

pub(super) fn chmod(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    with_path(k, a[0], |v, cwd, p, _| v.chmod(cwd, p, a[1])).map(|_| 0)
}

pub(super) fn access(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    with_path(k, a[0], |v, cwd, p, _| v.access(cwd, p, a[1])).map(|_| 0)
}

pub(super) fn rename(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    let to = guest_path(k.procs.last().expect("running"), a[1])?;
    with_path(k, a[0], |v, cwd, p, _| v.rename(cwd, p, &to)).map(|_| 0)
}

pub(super) fn symlink(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    let target = guest_path(k.procs.last().expect("running"), a[0])?;
    with_path(k, a[1], |v, cwd, p, _| v.symlink(cwd, &target, p)).map(|_| 0)
}

pub(super) fn readlink(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    let (buf, size) = (a[1], a[2] as i32);
    if size <= 0 {
        return Err(Errno::EINVAL.into());
    }
    let t = with_path(k, a[0], |v, cwd, p, _| v.readlink(cwd, p))?;
    let n = t.len().min(size as usize);
    k.cur()
        .mem
        .write_bytes(buf, &t[..n])
        .map_err(|_| Errno::EFAULT)?;
    Ok(n as u32)
}

pub(super) fn chdir(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    let r = with_path(k, a[0], |v, cwd, p, _| v.resolve(cwd, p, true))?;
    match r.kind {
        Some(NodeKind::Dir) => {
            k.cur().cwd = r.guest;
            Ok(0)
        }
        None => Err(Errno::ENOENT.into()),
        Some(_) => Err(Errno::ENOTDIR.into()),
    }
}

pub(super) fn fchdir(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    let f = fd_of(k, a[0])?;
    let dir = match &f.borrow().handle {
        Handle::Dir { guest } => guest.clone(),
        _ => return Err(Errno::ENOTDIR.into()),
    };
    k.cur().cwd = dir;
    Ok(0)
}

pub(super) fn fchmod(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    let f = fd_of(k, a[0])?;
    let guest = match &f.borrow().handle {
        Handle::File(n) => return Ok(k.vfs.fchmod(n, a[1]).map(|_| 0)?),
        Handle::Dir { guest } => guest.clone(),
        _ => return Ok(0), // a terminal: nothing observable changes
    };
    k.vfs.chmod(b"/", &guest, a[1])?;
    Ok(0)
}

pub(super) fn getcwd(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    let (buf, size) = (a[0], a[1]);
    let p = k.cur();
    let mut s = p.cwd.clone();
    s.push(0);
    if (size as usize) < s.len() {
        return Err(Errno::ERANGE.into());
    }
    p.mem.write_bytes(buf, &s).map_err(|_| Errno::EFAULT)?;
    Ok(s.len() as u32)
}

pub(super) fn umask(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    let p = k.cur();
    let old = p.umask;
    p.umask = a[0] & 0o777;
    Ok(old)
}

pub(super) fn dup(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    let f = fd_of(k, a[0])?;
    Ok(k.cur().install_fd(f, 0).ok_or(Errno::EMFILE)?)
}

pub(super) fn dup2(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    let (old, new) = (a[0], a[1]);
    let f = fd_of(k, old)?;
    if new as usize >= MAX_FDS {
        return Err(Errno::EBADF.into());
    }
    if old == new {
        return Ok(new);
    }
    let p = k.cur();
    if p.fds.len() <= new as usize {
        p.fds.resize(new as usize + 1, None);
    }
    if let Some(prev) = p.fds[new as usize].replace(f) {
        if let Err(e) = k.release(prev) {
            k.fatal.get_or_insert(e.into());
        }
    }
    Ok(new)
}

pub(super) fn ioctl(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    fd_of(k, a[0])?;
    // No descriptor is a terminal: isatty() is false everywhere.
    Err(Errno::ENOTTY.into())
}

/// mknod, mount, chroot, unshare: refused as an unprivileged container would refuse them.
pub(super) fn mknod(_k: &mut Kernel, _a: [u32; 6]) -> SysResult {
    Err(Errno::EPERM.into())
}
pub(super) use mknod as mount;
pub(super) use mknod as chroot;
pub(super) use mknod as unshare;
