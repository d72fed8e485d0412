//! The allow-list: every syscall a guest may make, by i386 number.
//!
//! The 14 the stage0 chain executes, the 13 more that M2libc wraps (for later bootstrap
//! stages), and a few that any libc's start-up or isatty asks for.

use super::{fs, info, proc, Syscall};

macro_rules! sc {
    ($nr:expr, $name:ident, $module:ident, $args:expr) => {
        Syscall {
            nr: $nr,
            name: stringify!($name),
            handler: $module::$name,
            args: $args,
        }
    };
}

/// The allow-list.
pub static SYSCALLS: &[Syscall] = &[
    sc!(1, exit, proc, "d"),
    sc!(2, fork, proc, ""),
    sc!(3, read, fs, "dxd"),
    sc!(4, write, fs, "dxd"),
    sc!(5, open, fs, "sxo"),
    sc!(6, close, fs, "d"),
    sc!(7, waitpid, proc, "dxx"),
    sc!(8, creat, fs, "so"),
    sc!(10, unlink, fs, "s"),
    sc!(11, execve, proc, "sxx"),
    sc!(12, chdir, fs, "s"),
    sc!(13, time, info, "x"),
    sc!(14, mknod, fs, "sox"),
    sc!(15, chmod, fs, "so"),
    sc!(19, lseek, fs, "ddd"),
    sc!(20, getpid, proc, ""),
    sc!(21, mount, fs, "ssx"),
    sc!(24, getuid, info, ""),
    sc!(33, access, fs, "so"),
    sc!(38, rename, fs, "ss"),
    sc!(39, mkdir, fs, "so"),
    sc!(40, rmdir, fs, "s"),
    sc!(41, dup, fs, "d"),
    sc!(45, brk, proc, "x"),
    sc!(47, getgid, info, ""),
    sc!(49, geteuid, info, ""),
    sc!(50, getegid, info, ""),
    sc!(54, ioctl, fs, "dxx"),
    sc!(60, umask, fs, "o"),
    sc!(61, chroot, fs, "s"),
    sc!(63, dup2, fs, "dd"),
    sc!(64, getppid, proc, ""),
    sc!(83, symlink, fs, "ss"),
    sc!(85, readlink, fs, "sxd"),
    sc!(94, fchmod, fs, "do"),
    sc!(109, olduname, info, "x"),
    sc!(122, uname, info, "x"),
    sc!(133, fchdir, fs, "d"),
    sc!(183, getcwd, fs, "xd"),
    sc!(199, getuid32, info, ""),
    sc!(200, getgid32, info, ""),
    sc!(201, geteuid32, info, ""),
    sc!(202, getegid32, info, ""),
    sc!(252, exit_group, proc, "d"),
    sc!(310, unshare, fs, "x"),
];
