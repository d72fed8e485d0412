//! Small guest programs run on every engine through the same kernel: unicorn, the JIT and
//! both lockstep cross-checks must give the interpreter's exit status, output and files. These
//! exercise the engine <-> kernel memory sync: syscall results, read() into guest buffers,
//! brk growth, fork and execve.

use stage0_testkit::{programs, run_guest, Sandbox};
use vm::{EngineKind, ExitStatus};

/// Whether this build has the unicorn engine.
fn have_unicorn() -> bool {
    let counts = vm::engine::lockstep::SharedCounts::default();
    vm::AnyEngine::start(EngineKind::Unicorn, 0, 0, &counts).is_ok()
}

/// Runs `program` with `argv` in a fresh sandbox holding `files` on `kind`; returns the
/// status, the output, the file at `read_back` (if any) and the cross-check counts.
fn run_on(
    kind: EngineKind,
    files: &[(&str, Vec<u8>)],
    argv: &[&str],
    read_back: Option<&str>,
) -> (
    ExitStatus,
    Vec<u8>,
    Option<Vec<u8>>,
    vm::engine::lockstep::Counts,
) {
    let sb = Sandbox::new("engines");
    for (path, bytes) in files {
        sb.put(path, bytes);
    }
    let (k, r, out) = run_guest(&sb, argv[0], argv, |c| c.engine = kind);
    let status = r.unwrap_or_else(|e| panic!("{kind:?}: {e}"));
    let file = read_back.map(|p| sb.get(p));
    (status, out, file, k.cross_check_counts())
}

fn same_on_every_engine(files: &[(&str, Vec<u8>)], argv: &[&str], read_back: Option<&str>) {
    if !have_unicorn() {
        panic!("missing input: engines_guest_programs needs the `unicorn` feature (vm/unicorn) (this test is ignored unless run with --ignored; README, 'Tests and the upstream tree')");
    }
    let reference = run_on(EngineKind::Interp, files, argv, read_back);
    for kind in [
        EngineKind::Unicorn,
        EngineKind::CrossCheck,
        EngineKind::Jit,
        EngineKind::JitCrossCheck,
    ] {
        let got = run_on(kind, files, argv, read_back);
        assert_eq!(got.0, reference.0, "{kind:?}: exit status");
        assert_eq!(got.1, reference.1, "{kind:?}: output");
        assert_eq!(got.2, reference.2, "{kind:?}: file written");
        if matches!(kind, EngineKind::CrossCheck | EngineKind::JitCrossCheck) {
            assert!(got.3.instructions > 0 && got.3.syscalls > 0, "{:?}", got.3);
        }
    }
}

#[test]
#[ignore = "needs the unicorn engine (--features stage0-testkit/unicorn)"]
fn hello_writes_and_exits() {
    same_on_every_engine(
        &[("/hello", programs::hello(b"hi there\n", 7))],
        &["/hello"],
        None,
    );
}

#[test]
#[ignore = "needs the unicorn engine (--features stage0-testkit/unicorn)"]
fn byte_by_byte_copy_reads_into_guest_memory() {
    let data: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
    same_on_every_engine(
        &[("/copy", programs::copy("/in", "/out")), ("/in", data)],
        &["/copy"],
        Some("/out"),
    );
}

#[test]
#[ignore = "needs the unicorn engine (--features stage0-testkit/unicorn)"]
fn brk_growth_is_visible_to_the_engine() {
    same_on_every_engine(&[("/brk", programs::brk_grow(5 << 20))], &["/brk"], None);
}

#[test]
#[ignore = "needs the unicorn engine (--features stage0-testkit/unicorn)"]
fn fork_exec_wait_runs_the_child_on_the_same_engine() {
    same_on_every_engine(
        &[
            ("/parent", programs::fork_exec_wait("/child", "x")),
            ("/child", programs::hello(b"child\n", 3)),
        ],
        &["/parent"],
        None,
    );
}

/// Grows the break one page at a time (the unicorn engine maps and merges a region per
/// growth), stores into every new page, shrinks it and grows it again (the pages must come
/// back zeroed), pushes 2 MiB onto the stack (hundreds of stack-growth faults, each in the
/// middle of a `dec`/`jnz` whose flags must survive it), writes a checksum to stdout and
/// finally touches the page above the break (SIGSEGV on every engine).
fn heap_and_stack_workout() -> Vec<u8> {
    use iced_x86::code_asm::*;
    use stage0_testkit::programs::{build_with_data, sys};
    const PAGES: i32 = 300;
    build_with_data(&[&[0; 4]], 0, |a, d| {
        let out = d[0];
        let (mut grow, mut sum, mut deep, mut undo) = (
            a.create_label(),
            a.create_label(),
            a.create_label(),
            a.create_label(),
        );
        a.xor(ebx, ebx)?;
        sys(a, 45)?;
        a.mov(esi, eax)?; // esi = base
        a.mov(edi, eax)?; // edi = current break
        a.xor(ebp, ebp)?; // ebp = page counter
        a.set_label(&mut grow)?;
        a.lea(ebx, ptr(edi + 4096))?;
        sys(a, 45)?;
        a.mov(edi, eax)?;
        a.mov(eax, ebp)?;
        a.imul_3(eax, eax, 37)?;
        a.mov(byte_ptr(edi - 4096), al)?;
        a.mov(byte_ptr(edi - 1), al)?;
        a.inc(ebp)?;
        a.cmp(ebp, PAGES)?;
        a.jne(grow)?;
        // Shrink to 100 pages, grow back to 300: pages 100.. must read zero again.
        a.lea(ebx, ptr(esi + 100 * 4096))?;
        sys(a, 45)?;
        a.lea(ebx, ptr(esi + PAGES * 4096))?;
        sys(a, 45)?;
        a.mov(edi, eax)?;
        // Checksum: the first and last byte of every page.
        a.xor(edx, edx)?;
        a.xor(ecx, ecx)?;
        a.set_label(&mut sum)?;
        a.mov(eax, ecx)?;
        a.shl(eax, 12)?;
        a.movzx(ebx, byte_ptr(esi + eax))?;
        a.add(edx, ebx)?;
        a.movzx(ebx, byte_ptr(esi + eax + 4095))?;
        a.imul_3(edx, edx, 3)?;
        a.add(edx, ebx)?;
        a.inc(ecx)?;
        a.cmp(ecx, PAGES)?;
        a.jne(sum)?;
        // 2 MiB of pushes; the flags of each dec are read after the push that faults.
        a.mov(ecx, 512 * 1024)?;
        a.set_label(&mut deep)?;
        a.dec(ecx)?;
        a.push(ecx)?;
        a.jnz(deep)?;
        a.mov(ecx, 512 * 1024)?;
        a.set_label(&mut undo)?;
        a.pop(ebx)?;
        a.add(edx, ebx)?;
        a.dec(ecx)?;
        a.jnz(undo)?;
        a.mov(dword_ptr(out), edx)?;
        a.mov(ebx, 1u32)?;
        a.mov(ecx, out)?;
        a.mov(edx, 4u32)?;
        sys(a, 4)?;
        // The page at the break is not mapped.
        a.mov(byte_ptr(edi), 1)?;
        a.mov(ebx, 0u32)?;
        sys(a, 1)
    })
}

#[test]
#[ignore = "needs the unicorn engine (--features stage0-testkit/unicorn)"]
fn heap_grown_page_by_page_shrunk_regrown_and_a_deep_stack() {
    let files = [("/work", heap_and_stack_workout())];
    // The program itself works: it gets to its checksum and to the final fault.
    let (status, out, _, _) = run_on(EngineKind::Interp, &files, &["/work"], None);
    assert_eq!(status, ExitStatus::Signal(11));
    assert_eq!(out.len(), 4);
    same_on_every_engine(&files, &["/work"], None);
}
