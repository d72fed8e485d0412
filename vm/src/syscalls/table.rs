//! The allow-list: every syscall a guest may make, by i386 number, described as data.
//!
//! The 14 the stage0 chain executes, the 13 more that M2libc wraps (for later bootstrap
//! stages), and a few that any libc's start-up or isatty asks for. Each entry says, like
//! blink's `I_BUF`/`O_BUF`, what every argument is and which guest memory the handler
//! reads and writes, and what the call does to the image as a whole. Those descriptions are
//! all the rest of the emulator knows about a syscall: strace formats arguments from them,
//! and engines with their own copy of guest memory (unicorn, the cross-check) ask them,
//! through [`SyscallAbi`](crate::engine::SyscallAbi), what to sync and when to compare
//! everything.

use super::{fs, info, proc, Syscall};
use crate::engine::ImageChange;

/// What one argument register holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// A signed number (strace: decimal).
    Int,
    /// A file descriptor (decimal).
    Fd,
    /// File mode bits (octal).
    Mode,
    /// Flags, an address or a value shown in hex, which the handler does not read through.
    Hex,
    /// A NUL-terminated path the handler reads (strace: the string).
    Path,
    /// A buffer the handler reads: [`Len`] bytes (hex).
    In(Len),
    /// A buffer the handler writes: at most [`Len`] bytes (hex).
    Out(Len),
}

/// The length of a buffer argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Len {
    /// The value of argument `i` (0-based).
    Arg(usize),
    /// The call's return value.
    Ret,
    /// A fixed size (a struct).
    Fixed(u32),
}

use Arg::{Fd, Hex, In, Int, Mode, Out, Path};
use ImageChange::{Copies, Ends, Remaps, Replaces};

macro_rules! sc {
    ($nr:expr, $name:ident, $module:ident, [$($arg:expr),*]) => {
        sc!($nr, $name, $module, [$($arg),*], ImageChange::None)
    };
    ($nr:expr, $name:ident, $module:ident, [$($arg:expr),*], $image:expr) => {
        Syscall {
            nr: $nr,
            name: stringify!($name),
            handler: $module::$name,
            args: &[$($arg),*],
            image: $image,
        }
    };
}

/// `struct new_utsname` and `struct old_utsname`: six and five 65-byte fields.
const UTSNAME: u32 = 6 * 65;
const OLD_UTSNAME: u32 = 5 * 65;

/// The allow-list.
pub static SYSCALLS: &[Syscall] = &[
    sc!(1, exit, proc, [Int], Ends),
    sc!(2, fork, proc, [], Copies),
    sc!(3, read, fs, [Fd, Out(Len::Ret), Int]),
    sc!(4, write, fs, [Fd, In(Len::Arg(2)), Int]),
    sc!(5, open, fs, [Path, Hex, Mode]),
    sc!(6, close, fs, [Fd]),
    sc!(7, waitpid, proc, [Int, Out(Len::Fixed(4)), Hex]),
    sc!(8, creat, fs, [Path, Mode]),
    sc!(10, unlink, fs, [Path]),
    // argv and envp are read too: the whole image is current before any execve.
    sc!(11, execve, proc, [Path, Hex, Hex], Replaces),
    sc!(12, chdir, fs, [Path]),
    sc!(13, time, info, [Out(Len::Fixed(4))]),
    sc!(14, mknod, fs, [Path, Mode, Hex]),
    sc!(15, chmod, fs, [Path, Mode]),
    sc!(19, lseek, fs, [Fd, Int, Int]),
    sc!(20, getpid, proc, []),
    sc!(21, mount, fs, [Path, Path, Hex]),
    sc!(24, getuid, info, []),
    sc!(33, access, fs, [Path, Mode]),
    sc!(38, rename, fs, [Path, Path]),
    sc!(39, mkdir, fs, [Path, Mode]),
    sc!(40, rmdir, fs, [Path]),
    sc!(41, dup, fs, [Fd]),
    sc!(45, brk, proc, [Hex], Remaps),
    sc!(47, getgid, info, []),
    sc!(49, geteuid, info, []),
    sc!(50, getegid, info, []),
    sc!(54, ioctl, fs, [Fd, Hex, Hex]),
    sc!(60, umask, fs, [Mode]),
    sc!(61, chroot, fs, [Path]),
    sc!(63, dup2, fs, [Fd, Fd]),
    sc!(64, getppid, proc, []),
    sc!(83, symlink, fs, [Path, Path]),
    sc!(85, readlink, fs, [Path, Out(Len::Ret), Int]),
    sc!(94, fchmod, fs, [Fd, Mode]),
    sc!(109, olduname, info, [Out(Len::Fixed(OLD_UTSNAME))]),
    sc!(122, uname, info, [Out(Len::Fixed(UTSNAME))]),
    sc!(133, fchdir, fs, [Fd]),
    sc!(183, getcwd, fs, [Out(Len::Ret), Int]),
    sc!(199, getuid32, info, []),
    sc!(200, getgid32, info, []),
    sc!(201, geteuid32, info, []),
    sc!(202, getegid32, info, []),
    sc!(252, exit_group, proc, [Int], Ends),
    sc!(310, unshare, fs, [Hex]),
];

#[cfg(test)]
mod tests {
    use super::super::SyscallTable;
    use crate::engine::{GuestInput, ImageChange, SyscallAbi};

    /// Registers with eax = `nr` and ebx, ecx, edx = `args`.
    fn regs(nr: u32, args: [u32; 3]) -> [u32; 8] {
        [nr, args[1], args[2], args[0], 0, 0, 0, 0]
    }

    #[test]
    fn every_number_is_listed_once_and_every_buffer_length_names_an_argument() {
        let mut seen = std::collections::BTreeSet::new();
        for sc in super::SYSCALLS {
            assert!(seen.insert(sc.nr), "{} listed twice", sc.nr);
            assert!(sc.args.len() <= 6, "{}", sc.name);
            for a in sc.args {
                if let super::Arg::In(super::Len::Arg(j)) | super::Arg::Out(super::Len::Arg(j)) = a
                {
                    assert!(*j < sc.args.len(), "{}: length from argument {j}", sc.name);
                }
            }
        }
    }

    #[test]
    fn the_descriptions_say_what_the_os_reads_at_a_stop() {
        let t = SyscallTable::global();
        // write(1, 0x1000, 5) reads 5 bytes at 0x1000; read reads nothing from the guest.
        let w = t.memory_use(&regs(4, [1, 0x1000, 5]));
        let ins: Vec<_> = w.inputs().collect();
        assert_eq!(
            ins,
            [GuestInput::Bytes {
                addr: 0x1000,
                len: 5
            }]
        );
        assert_eq!(w.image, ImageChange::None);
        assert_eq!(t.memory_use(&regs(3, [0, 0x1000, 5])).inputs().count(), 0);
        // A count beyond Linux's MAX_RW_COUNT is capped as the handler caps it.
        let big = t.memory_use(&regs(4, [1, 0x1000, u32::MAX]));
        assert_eq!(
            big.inputs().next(),
            Some(GuestInput::Bytes {
                addr: 0x1000,
                len: 0x7fff_f000
            })
        );
        // open reads its path; rename both.
        let o: Vec<_> = t.memory_use(&regs(5, [0x2000, 0, 0])).inputs().collect();
        assert!(
            matches!(o[..], [GuestInput::CStr { addr: 0x2000, .. }]),
            "{o:?}"
        );
        assert_eq!(
            t.memory_use(&regs(38, [0x2000, 0x3000, 0]))
                .inputs()
                .count(),
            2
        );
        // What a cross-check must compare in full, and unicorn sync whole.
        for (nr, image) in [
            (1, ImageChange::Ends),
            (2, ImageChange::Copies),
            (11, ImageChange::Replaces),
            (45, ImageChange::Remaps),
            (252, ImageChange::Ends),
        ] {
            assert_eq!(t.memory_use(&regs(nr, [0; 3])).image, image, "syscall {nr}");
        }
        let last_look: Vec<u32> = super::SYSCALLS
            .iter()
            .filter(|s| s.image.last_look())
            .map(|s| s.nr)
            .collect();
        assert_eq!(last_look, [1, 2, 11, 252]);
        // Outside the allow-list (ENOSYS): nothing is read.
        let none = t.memory_use(&regs(999, [0x1000; 3]));
        assert_eq!((none.inputs().count(), none.image), (0, ImageChange::None));
    }
}
