//! Small i386 guest programs, assembled with iced-x86's code assembler, for tests and benches.
//!
//! Each returns a complete static ELF executable (see [`crate::minimal_elf`]).

use iced_x86::code_asm::*;

use crate::{minimal_elf, ENTRY};

/// Where [`build_with_data`] places its data blobs: code stays below this.
pub const DATA: u32 = ENTRY + 0x400;

/// Assembles what `body` emits at [`ENTRY`] and wraps it in an executable with `bss` bytes
/// of zeroed memory after the code.
pub fn build(bss: u32, body: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Vec<u8> {
    build_with_data(&[], bss, |a, _| body(a))
}

/// Like [`build`], with `data` blobs placed one after another from [`DATA`]; `body` gets
/// their guest addresses. (iced's label memory operands are RIP-relative, which 32-bit code
/// has not, so data is addressed absolutely.)
pub fn build_with_data(
    data: &[&[u8]],
    bss: u32,
    body: impl FnOnce(&mut CodeAssembler, &[u32]) -> Result<(), IcedError>,
) -> Vec<u8> {
    let mut addrs = Vec::new();
    let mut blob = Vec::new();
    for d in data {
        addrs.push(DATA + blob.len() as u32);
        blob.extend_from_slice(d);
    }
    let mut a = CodeAssembler::new(32).expect("32-bit assembler");
    body(&mut a, &addrs).expect("test program assembles");
    let mut code = a.assemble(ENTRY as u64).expect("test program assembles");
    assert!(
        code.len() <= (DATA - ENTRY) as usize,
        "test program code too long"
    );
    code.resize((DATA - ENTRY) as usize, 0xcc);
    code.extend_from_slice(&blob);
    minimal_elf(&code, bss)
}

/// `int 0x80` with eax = `nr`.
pub fn sys(a: &mut CodeAssembler, nr: u32) -> Result<(), IcedError> {
    a.mov(eax, nr)?;
    a.int(0x80)
}

/// exit(ebx).
pub fn exit_with_ebx(a: &mut CodeAssembler) -> Result<(), IcedError> {
    sys(a, 1)
}

/// exit(code).
pub fn exit(a: &mut CodeAssembler, code: u32) -> Result<(), IcedError> {
    a.mov(ebx, code)?;
    sys(a, 1)
}

/// Writes `msg` to stdout, then exits with `code`.
pub fn hello(msg: &[u8], code: u32) -> Vec<u8> {
    build_with_data(&[msg], 0, move |a, d| {
        a.mov(ebx, 1u32)?;
        a.mov(ecx, d[0])?;
        a.mov(edx, msg.len() as u32)?;
        sys(a, 4)?;
        exit(a, code)
    })
}

/// Copies file `src` to `dst` (created 0644) one byte per syscall, then exits 0. Exits
/// with 10 + errno if an open fails.
pub fn copy(src: &str, dst: &str) -> Vec<u8> {
    let (src, dst) = (cstr(src), cstr(dst));
    build_with_data(&[&src, &dst, &[0; 4]], 16, move |a, m| {
        let (s, d, buf) = (m[0], m[1], m[2]);
        let (mut lp, mut done, mut fail) = (a.create_label(), a.create_label(), a.create_label());
        a.mov(ebx, s)?;
        a.xor(ecx, ecx)?;
        sys(a, 5)?;
        a.test(eax, eax)?;
        a.js(fail)?;
        a.mov(esi, eax)?;
        a.mov(ebx, d)?;
        a.mov(ecx, 0x241u32)?;
        a.mov(edx, 0o644u32)?;
        sys(a, 5)?;
        a.test(eax, eax)?;
        a.js(fail)?;
        a.mov(edi, eax)?;
        a.set_label(&mut lp)?;
        a.mov(ebx, esi)?;
        a.mov(ecx, buf)?;
        a.mov(edx, 1u32)?;
        sys(a, 3)?;
        a.cmp(eax, 1)?;
        a.jne(done)?;
        a.mov(ebx, edi)?;
        a.mov(ecx, buf)?;
        a.mov(edx, 1u32)?;
        sys(a, 4)?;
        a.jmp(lp)?;
        a.set_label(&mut done)?;
        a.mov(ebx, edi)?;
        sys(a, 6)?;
        exit(a, 0)?;
        a.set_label(&mut fail)?;
        a.neg(eax)?;
        a.lea(ebx, ptr(eax + 10))?;
        exit_with_ebx(a)
    })
}

/// Forks; the child execs `path` with argv `[path, arg]` and the inherited environment
/// pointer 0; the parent waits and exits with the child's exit code plus 1 (so the test sees
/// both ran). If execve fails the child exits 100 + errno.
pub fn fork_exec_wait(path: &str, arg: &str) -> Vec<u8> {
    fork_exec_wait_plus(path, arg, 1)
}

/// Like [`fork_exec_wait`], exiting with the child's exit code plus `bias`.
pub fn fork_exec_wait_plus(path: &str, arg: &str, bias: u32) -> Vec<u8> {
    let (p, g) = (cstr(path), cstr(arg));
    build_with_data(&[&p, &g, &[0; 12], &[0; 4]], 64, move |a, m| {
        let (lp, la, argv, status) = (m[0], m[1], m[2], m[3]);
        let mut child = a.create_label();
        sys(a, 2)?; // fork
        a.test(eax, eax)?;
        a.je(child)?;
        a.mov(ebx, eax)?; // waitpid(pid, &status, 0)
        a.mov(ecx, status)?;
        a.xor(edx, edx)?;
        sys(a, 7)?;
        a.mov(ebx, dword_ptr(status))?;
        a.shr(ebx, 8)?;
        a.add(ebx, bias)?;
        exit_with_ebx(a)?;
        a.set_label(&mut child)?;
        a.mov(ecx, argv)?;
        a.mov(dword_ptr(ecx), lp)?;
        a.mov(dword_ptr(ecx + 4), la)?;
        a.mov(ebx, lp)?;
        a.xor(edx, edx)?;
        sys(a, 11)?;
        a.neg(eax)?;
        a.lea(ebx, ptr(eax + 100))?;
        exit_with_ebx(a)
    })
}

/// Grows the break by `n` bytes with brk, writes the last new byte, reads it back, and
/// exits 0; exits 1 if brk refused, 2 if the byte did not read back.
pub fn brk_grow(n: u32) -> Vec<u8> {
    build(0, move |a| {
        let (mut refused, mut bad) = (a.create_label(), a.create_label());
        a.xor(ebx, ebx)?;
        sys(a, 45)?;
        a.lea(ebx, ptr(eax + n as i32))?;
        a.mov(esi, ebx)?;
        sys(a, 45)?;
        a.cmp(eax, esi)?;
        a.jne(refused)?;
        a.mov(byte_ptr(esi - 1), 0x5a)?;
        a.cmp(byte_ptr(esi - 1), 0x5a)?;
        a.jne(bad)?;
        exit(a, 0)?;
        a.set_label(&mut refused)?;
        exit(a, 1)?;
        a.set_label(&mut bad)?;
        exit(a, 2)
    })
}

/// Opens `path` read-only and exits with the negated result: 0 when it opened, the errno
/// otherwise.
pub fn try_open(path: &str) -> Vec<u8> {
    let p = cstr(path);
    build_with_data(&[&p], 0, move |a, m| {
        let mut ok = a.create_label();
        a.mov(ebx, m[0])?;
        a.xor(ecx, ecx)?;
        sys(a, 5)?;
        a.test(eax, eax)?;
        a.jns(ok)?;
        a.neg(eax)?;
        a.mov(ebx, eax)?;
        exit_with_ebx(a)?;
        a.set_label(&mut ok)?;
        exit(a, 0)
    })
}

/// Makes syscall `nr` and exits with the negated result (38 = ENOSYS for unknown ones).
pub fn syscall_then_exit(nr: u32) -> Vec<u8> {
    build(0, move |a| {
        sys(a, nr)?;
        a.neg(eax)?;
        a.mov(ebx, eax)?;
        exit_with_ebx(a)
    })
}

/// A program whose first instruction is whatever `emit` assembles (for fault tests).
pub fn just(emit: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Vec<u8> {
    build(0, emit)
}

/// Loops forever.
pub fn spin() -> Vec<u8> {
    build(0, |a| {
        let mut l = a.create_label();
        a.set_label(&mut l)?;
        a.add(eax, 1)?;
        a.jmp(l)
    })
}

/// A pure-compute loop of `iterations` × 4 instructions, then exit(0) (for benches).
pub fn count_loop(iterations: u32) -> Vec<u8> {
    build(0, move |a| {
        let mut l = a.create_label();
        a.mov(ecx, iterations)?;
        a.xor(eax, eax)?;
        a.set_label(&mut l)?;
        a.add(eax, ecx)?;
        a.xor(edx, eax)?;
        a.dec(ecx)?;
        a.jne(l)?;
        exit(a, 0)
    })
}

fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}
