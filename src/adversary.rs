//! Hostile guests for the sandbox's tests: programs that make a list of raw syscalls, as an
//! attacker writing `int 0x80` by hand would, optionally in a loop.
//!
//! Each operation's eax is kept, so later arguments can use an earlier result (a descriptor,
//! a byte count), and an operation can be skipped depending on whether a result was
//! negative (an error).

use iced_x86::code_asm::*;

use crate::programs::{build_with_data, exit};

/// One syscall argument.
#[derive(Clone, Debug)]
pub enum Arg {
    /// A number.
    Imm(u32),
    /// The address of these bytes (NUL-terminate strings yourself, or use [`s`]).
    Bytes(Vec<u8>),
    /// The eax of operation `i` (the last time it ran).
    Ret(usize),
    /// The address of the 64 KiB scratch buffer.
    Buf,
}

/// One operation of a script.
#[derive(Clone, Debug)]
pub enum Op {
    /// `int 0x80` with eax = `nr` and up to six arguments.
    Sys(u32, Vec<Arg>),
    /// Skips the next `skip` operations when operation `ret` returned a negative value
    /// (`when_negative`) or a non-negative one.
    Skip {
        ret: usize,
        when_negative: bool,
        skip: usize,
    },
    /// exit() with the eax of operation `ret`, negated when `negate` (an errno).
    ExitWith { ret: usize, negate: bool },
}

/// A NUL-terminated string argument.
pub fn s(text: &str) -> Arg {
    let mut v = text.as_bytes().to_vec();
    v.push(0);
    Arg::Bytes(v)
}

/// Syscall numbers (i386).
pub mod nr {
    pub const EXIT: u32 = 1;
    pub const FORK: u32 = 2;
    pub const READ: u32 = 3;
    pub const WRITE: u32 = 4;
    pub const OPEN: u32 = 5;
    pub const CLOSE: u32 = 6;
    pub const WAITPID: u32 = 7;
    pub const UNLINK: u32 = 10;
    pub const EXECVE: u32 = 11;
    pub const CHDIR: u32 = 12;
    pub const CHMOD: u32 = 15;
    pub const LSEEK: u32 = 19;
    pub const ACCESS: u32 = 33;
    pub const RENAME: u32 = 38;
    pub const MKDIR: u32 = 39;
    pub const RMDIR: u32 = 40;
    pub const DUP: u32 = 41;
    pub const BRK: u32 = 45;
    pub const SYMLINK: u32 = 83;
    pub const READLINK: u32 = 85;
    pub const FCHMOD: u32 = 94;
    pub const FCHDIR: u32 = 133;
}

/// Size of the scratch buffer [`Arg::Buf`] points at.
pub const SCRATCH: u32 = 64 << 10;

/// Assembles `ops`, run `repeat` times (0: forever), then `exit(0)`.
pub fn script(ops: &[Op], repeat: u32) -> Vec<u8> {
    script_with_prelude(&[], ops, repeat)
}

/// Assembles `prelude` (run once), then `looped` run `repeat` times (0: forever), then
/// `exit(0)`. Operation indices ([`Arg::Ret`], [`Op::Skip`]) count over both lists.
pub fn script_with_prelude(prelude: &[Op], looped: &[Op], repeat: u32) -> Vec<u8> {
    let ops: Vec<Op> = prelude.iter().chain(looped).cloned().collect();
    let first_looped = prelude.len();
    let mut blobs: Vec<Vec<u8>> = vec![vec![0; 4 * ops.len().max(1)], vec![0; 4]];
    for op in &ops {
        if let Op::Sys(_, args) = op {
            for a in args {
                if let Arg::Bytes(b) = a {
                    blobs.push(b.clone());
                }
            }
        }
    }
    let total: u32 = blobs.iter().map(|b| b.len() as u32).sum();
    let scratch = (crate::programs::DATA + total + 15) & !15;
    let refs: Vec<&[u8]> = blobs.iter().map(|b| b.as_slice()).collect();
    build_with_data(&refs, SCRATCH + 16, move |a, m| {
        let (results, counter) = (m[0], m[1]);
        let mut next_blob = 2;
        a.mov(dword_ptr(counter), repeat)?;
        let mut labels: Vec<CodeLabel> = (0..=ops.len()).map(|_| a.create_label()).collect();
        let top = labels[first_looped];
        for (i, op) in ops.iter().enumerate() {
            a.set_label(&mut labels[i])?;
            match op {
                Op::Sys(n, args) => {
                    let regs = [ebx, ecx, edx, esi, edi, ebp];
                    for (arg, &r) in args.iter().zip(regs.iter()) {
                        match arg {
                            Arg::Imm(v) => a.mov(r, *v)?,
                            Arg::Bytes(_) => {
                                a.mov(r, m[next_blob])?;
                                next_blob += 1;
                            }
                            Arg::Ret(j) => a.mov(r, dword_ptr(results + 4 * *j as u32))?,
                            Arg::Buf => a.mov(r, scratch)?,
                        }
                    }
                    a.mov(eax, *n)?;
                    a.int(0x80)?;
                    a.mov(dword_ptr(results + 4 * i as u32), eax)?;
                }
                Op::Skip {
                    ret,
                    when_negative,
                    skip,
                } => {
                    let target = labels[(i + 1 + skip).min(ops.len())];
                    a.cmp(dword_ptr(results + 4 * *ret as u32), 0)?;
                    if *when_negative {
                        a.jl(target)?;
                    } else {
                        a.jge(target)?;
                    }
                }
                Op::ExitWith { ret, negate } => {
                    a.mov(ebx, dword_ptr(results + 4 * *ret as u32))?;
                    if *negate {
                        a.neg(ebx)?;
                    }
                    a.mov(eax, nr::EXIT)?;
                    a.int(0x80)?;
                }
            }
        }
        a.set_label(&mut labels[ops.len()])?;
        if repeat == 0 {
            a.jmp(top)?;
        } else {
            a.dec(dword_ptr(counter))?;
            a.jne(top)?;
        }
        exit(a, 0)
    })
}

/// Forks forever: parent and child both go on forking.
pub fn fork_bomb() -> Vec<u8> {
    script(&[Op::Sys(nr::FORK, vec![])], 0)
}

/// Grows the break by `bytes`, then forks, then exits with 0 (child) or 1 (parent).
pub fn brk_then_fork(bytes: u32) -> Vec<u8> {
    crate::programs::build(0, move |a| {
        a.xor(ebx, ebx)?;
        a.mov(eax, nr::BRK)?;
        a.int(0x80)?;
        a.lea(ebx, ptr(eax + bytes as i32))?;
        a.mov(eax, nr::BRK)?;
        a.int(0x80)?;
        a.mov(eax, nr::FORK)?;
        a.int(0x80)?;
        a.xor(ebx, ebx)?;
        a.test(eax, eax)?;
        a.setne(bl)?;
        a.mov(eax, nr::EXIT)?;
        a.int(0x80)
    })
}

/// Builds an argv of `count` pointers to one `len`-byte string (on the heap, from brk) and
/// execs `/x` with it; exits with the negated execve result (7 = E2BIG).
pub fn argv_amplifier(len: u32, count: u32) -> Vec<u8> {
    crate::programs::build(0, move |a| {
        a.xor(ebx, ebx)?;
        a.mov(eax, nr::BRK)?;
        a.int(0x80)?;
        a.mov(esi, eax)?; // string at the old break
        a.lea(ebx, ptr(eax + (len + 1 + 4 * (count + 1) + 4096) as i32))?;
        a.mov(eax, nr::BRK)?;
        a.int(0x80)?;
        a.mov(edi, esi)?;
        a.mov(ecx, len)?;
        a.mov(al, b'A' as u32)?;
        a.cld()?;
        a.rep().stosb()?;
        a.mov(byte_ptr(edi), 0)?;
        a.lea(edi, ptr(esi + (len + 1 + 3) as i32))?;
        a.and(edi, -4i32)?;
        a.mov(ebp, edi)?; // argv
        a.mov(ecx, count)?;
        a.mov(eax, esi)?;
        a.rep().stosd()?;
        a.mov(dword_ptr(edi), 0)?;
        a.push(0x78_2f_u32)?; // "/x\0"
        a.mov(ebx, esp)?;
        a.mov(ecx, ebp)?;
        a.xor(edx, edx)?;
        a.mov(eax, nr::EXECVE)?;
        a.int(0x80)?;
        a.neg(eax)?;
        a.mov(ebx, eax)?;
        a.mov(eax, nr::EXIT)?;
        a.int(0x80)
    })
}

/// Forks `count` children one after another, each exiting at once and waited for (a run
/// of many short-lived processes, never more than two alive); exits with 0.
pub fn fork_exit_wait(count: u32) -> Vec<u8> {
    crate::programs::build(0, move |a| {
        let mut top = a.create_label();
        let mut parent = a.create_label();
        a.mov(edi, count)?;
        a.set_label(&mut top)?;
        a.mov(eax, nr::FORK)?;
        a.int(0x80)?;
        a.test(eax, eax)?;
        a.jne(parent)?;
        a.xor(ebx, ebx)?;
        a.mov(eax, nr::EXIT)?;
        a.int(0x80)?;
        a.set_label(&mut parent)?;
        a.mov(ebx, -1i32)?;
        a.xor(ecx, ecx)?;
        a.xor(edx, edx)?;
        a.mov(eax, nr::WAITPID)?;
        a.int(0x80)?;
        a.dec(edi)?;
        a.jne(top)?;
        exit(a, 0)
    })
}
