//! Identity and system information: fixed values, so nothing of the host leaks in.

use super::SysResult;
use crate::errno::Errno;
use crate::kernel::Kernel;

/// What uname reports: (sysname, nodename, release, version, machine, domainname).
pub const UNAME: [&str; 6] = [
    "Linux",
    "stage0",
    "4.19.0",
    "#1 stage0-runner",
    "i686",
    "(none)",
];

pub(super) fn time(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    let t = k.cfg.source_date_epoch;
    if a[0] != 0 {
        k.cur().mem.write_u32(a[0], t).map_err(|_| Errno::EFAULT)?;
    }
    Ok(t)
}

fn write_utsname(k: &mut Kernel, addr: u32, fields: usize) -> SysResult {
    let mut buf = vec![0u8; 65 * fields];
    for (i, f) in UNAME.iter().take(fields).enumerate() {
        buf[65 * i..65 * i + f.len()].copy_from_slice(f.as_bytes());
    }
    k.cur()
        .mem
        .write_bytes(addr, &buf)
        .map_err(|_| Errno::EFAULT)?;
    Ok(0)
}

/// uname (122): struct new_utsname, six 65-byte fields.
pub(super) fn uname(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    write_utsname(k, a[0], 6)
}

/// i386 syscall 109 (M2libc's uname): struct old_utsname, five 65-byte fields.
pub(super) fn olduname(k: &mut Kernel, a: [u32; 6]) -> SysResult {
    write_utsname(k, a[0], 5)
}

/// The guest runs as root (uid and gid 0), as in a build container.
pub(super) fn getuid(_k: &mut Kernel, _a: [u32; 6]) -> SysResult {
    Ok(0)
}
pub(super) use getuid as getgid;
pub(super) use getuid as geteuid;
pub(super) use getuid as getegid;
pub(super) use getuid as getuid32;
pub(super) use getuid as getgid32;
pub(super) use getuid as geteuid32;
pub(super) use getuid as getegid32;
