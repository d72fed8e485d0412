//! A guest parent for exec-hook tests.

use iced_x86::code_asm::*;
use stage0_testkit::programs::{build_with_data, exit_with_ebx, sys};

fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// Forks; the child execs `path` with argv `[path, args...]` and no environment; the
/// parent exits with the child's exit code plus 1 (100 + errno if execve failed).
pub fn fork_exec(path: &str, args: &[&str]) -> Vec<u8> {
    let strings: Vec<Vec<u8>> = std::iter::once(path)
        .chain(args.iter().copied())
        .map(cstr)
        .collect();
    let argv_table = vec![0u8; 4 * (strings.len() + 1)];
    let mut data: Vec<&[u8]> = strings.iter().map(Vec::as_slice).collect();
    data.push(&argv_table);
    data.push(&[0; 4]);
    let n = strings.len();
    build_with_data(&data, 64, move |a, m| {
        let (argv, status) = (m[n], m[n + 1]);
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
        a.add(ebx, 1)?;
        exit_with_ebx(a)?;
        a.set_label(&mut child)?;
        a.mov(ecx, argv)?;
        for (i, &addr) in m[..n].iter().enumerate() {
            a.mov(dword_ptr(ecx + 4 * i as u32), addr)?;
        }
        a.mov(ebx, m[0])?;
        a.xor(edx, edx)?;
        sys(a, 11)?;
        a.neg(eax)?;
        a.lea(ebx, ptr(eax + 100))?;
        exit_with_ebx(a)
    })
}
