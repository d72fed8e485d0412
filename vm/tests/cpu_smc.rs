//! Self-modifying code: stores over decoded instructions take effect, stores next to
//! them (globals sharing the code's granule) do not disturb the cache.

mod cpu_common;
use cpu_common::*;

fn store_patches_the_next_instruction(e: EngineUnderTest) {
    // The patched instruction `mov eax, 1` becomes `mov eax, 2` before it executes; it is
    // in the same block as the store.
    let code = asm(|a| {
        let mut target = a.create_label();
        a.mov(ebx, 0)?; // patched below: ebx = address of the imm32
        a.mov(byte_ptr(ebx), 2)?;
        a.set_label(&mut target)?;
        a.mov(eax, 1)?;
        a.int(0x80)
    });
    // mov ebx, imm32 is 5 bytes; mov byte [ebx], imm8 is 3 bytes; target = CODE + 8,
    // its imm32 at CODE + 9.
    let mut code = code;
    code[1..5].copy_from_slice(&(CODE + 9).to_le_bytes());
    let mut g = Guest::new(e, &code);
    g.run_to_syscall();
    assert_eq!(g.reg(EAX), 2);
    assert_eq!(g.retired(), 4);
}

fn loop_patching_its_own_immediate(e: EngineUnderTest) {
    // Each iteration adds the immediate of `add eax, imm32` and then increments that
    // immediate in the code: eax = 1 + 2 + ... + 5.
    let code = asm(|a| {
        let mut top = a.create_label();
        a.mov(ecx, 5)?;
        a.xor(eax, eax)?;
        a.set_label(&mut top)?;
        a.add(eax, 0x1234_5678)?; // imm32 form: 05 imm32
        a.inc(dword_ptr(0x0804_8000 + 5 + 2 + 1))?; // the imm32 of the add
        a.dec(ecx)?;
        a.jne(top)?;
        a.int(0x80)
    });
    // mov ecx,5 = 5 bytes, xor eax,eax = 2 bytes: the add (05 imm32) sits at CODE+7, its
    // immediate at CODE+8.
    assert_eq!(code[7], 0x05);
    let mut code = code;
    code[8..12].copy_from_slice(&1u32.to_le_bytes());
    let mut g = Guest::new(e, &code);
    g.run_to_syscall();
    assert_eq!(g.reg(EAX), 1 + 2 + 3 + 4 + 5);
    assert_eq!(g.read32(CODE + 8), 6);
}

/// A loop storing to a "global" right after the code, in the same 64-byte granule.
fn store_next_to_code() -> Vec<u8> {
    asm(|a| {
        let mut top = a.create_label();
        a.mov(ecx, 1000)?;
        a.xor(eax, eax)?;
        a.set_label(&mut top)?;
        a.add(eax, 3)?;
        a.mov(dword_ptr(CODE + 0x20), eax)?;
        a.dec(ecx)?;
        a.jne(top)?;
        a.int(0x80)
    })
}

fn writes_next_to_code_keep_the_results(e: EngineUnderTest) {
    let code = store_next_to_code();
    assert!(code.len() < 0x20);
    let mut g = Guest::new(e, &code);
    g.run_to_syscall();
    assert_eq!(g.reg(EAX), 3000);
    assert_eq!(g.read32(CODE + 0x20), 3000);
    assert_eq!(g.retired(), 2 + 4 * 1000 + 1);
}

/// The interpreter's block cache (not part of the engine trait): a store next to code,
/// written every iteration, does not make the block be decoded again each time.
#[test]
fn interp_writes_next_to_code_keep_the_cache() {
    let mut mem = memory_with(&store_next_to_code());
    let mut cpu = start_cpu();
    assert_eq!(cpu.run(&mut mem, 1 << 20), Stop::Syscall);
    assert_eq!(cpu.regs[EAX], 3000);
    // Blocks: the setup+loop head, the loop body (after the first jne), the int.
    assert!(cpu.cached_blocks() <= 3, "{} blocks", cpu.cached_blocks());
}

/// The interpreter's flush leaves no decoded block.
#[test]
fn interp_flush_drops_every_block() {
    let mut mem = memory_with(&asm(|a| {
        a.mov(eax, 1)?;
        a.int(0x80)
    }));
    let mut cpu = start_cpu();
    assert_eq!(cpu.run(&mut mem, 100), Stop::Syscall);
    assert!(cpu.cached_blocks() > 0);
    cpu.flush_code_cache(&mut mem);
    assert_eq!(cpu.cached_blocks(), 0);
}

fn write_between_runs_invalidates(e: EngineUnderTest) {
    // The OS layer (e.g. read()) writes into code between two runs.
    let mut g = Guest::with(e, |a| {
        a.mov(eax, 1)?;
        a.int(0x80)?;
        a.jmp(CODE as u64)
    });
    g.run_to_syscall();
    assert_eq!(g.reg(EAX), 1);
    g.mem.write_u32(CODE + 1, 42).unwrap();
    g.run_to_syscall();
    assert_eq!(g.reg(EAX), 42);
}

fn rep_stos_over_following_code(e: EngineUnderTest) {
    // rep stosb overwrites the instructions that follow it with NOPs; the trailing
    // `mov eax, 99` must vanish.
    let code = asm(|a| {
        a.mov(edi, 0)?; // patched: address of the doomed instruction
        a.mov(ecx, 5)?;
        a.mov(eax, 0x90)?;
        a.rep().stosb()?;
        a.mov(eax, 99)?; // 5 bytes, overwritten by 5 NOPs
        a.int(0x80)
    });
    let mut code = code;
    // mov edi (5) + mov ecx (5) + mov eax (5) + rep stosb (2) = 17.
    code[1..5].copy_from_slice(&(CODE + 17).to_le_bytes());
    assert_eq!(code[17], 0xb8);
    let mut g = Guest::new(e, &code);
    g.run_to_syscall();
    assert_eq!(g.reg(EAX), 0x90);
    // Three setup instructions, the rep, five nops and the int.
    assert_eq!(g.retired(), e.retired_with_rep(3 + 5 + 1, 5, true));
}

fn flush_code_cache_after_new_image(e: EngineUnderTest) {
    let mut g = Guest::with(e, |a| {
        a.mov(eax, 1)?;
        a.int(0x80)
    });
    g.run_to_syscall();
    // "execve": clear and load another program at the same address.
    g.mem.clear();
    let code = asm(|a| {
        a.mov(eax, 2)?;
        a.int(0x80)
    });
    g.mem.map(CODE, 0x1000);
    g.mem.write_bytes(CODE, &code).unwrap();
    g.flush_code_cache();
    g.set_eip(CODE);
    g.run_to_syscall();
    assert_eq!(g.reg(EAX), 2);
}

conformance! {
    store_patches_the_next_instruction [unicorn = "engine bug: unicorn runs the stale translation after a store into code it has already translated (vm/src/engine/unicorn.rs, unicorn_lazy.rs)", unicorn_fast = "engine bug: unicorn runs the stale translation after a store into code it has already translated (vm/src/engine/unicorn.rs, unicorn_lazy.rs)", lockstep = "engine bug: unicorn runs the stale translation after a store into code it has already translated (vm/src/engine/unicorn.rs, unicorn_lazy.rs)"],
    loop_patching_its_own_immediate,
    writes_next_to_code_keep_the_results,
    write_between_runs_invalidates [unicorn = "engine bug: unicorn runs the stale translation after the kernel writes into code it has already translated (mem_write does not drop it)", unicorn_fast = "engine bug: unicorn runs the stale translation after the kernel writes into code it has already translated (mem_write does not drop it)", lockstep = "engine bug: unicorn runs the stale translation after the kernel writes into code it has already translated (mem_write does not drop it)"],
    rep_stos_over_following_code [unicorn = "engine bug: unicorn runs the stale translation after a store into code it has already translated (vm/src/engine/unicorn.rs, unicorn_lazy.rs)", unicorn_fast = "engine bug: unicorn runs the stale translation after a store into code it has already translated (vm/src/engine/unicorn.rs, unicorn_lazy.rs)", lockstep = "engine bug: unicorn runs the stale translation after a store into code it has already translated (vm/src/engine/unicorn.rs, unicorn_lazy.rs)"],
    flush_code_cache_after_new_image [unicorn = "engine bug: unicorn runs the stale translation after the kernel writes into code it has already translated (mem_write does not drop it)", unicorn_fast = "engine bug: unicorn runs the stale translation after the kernel writes into code it has already translated (mem_write does not drop it)", lockstep = "engine bug: unicorn runs the stale translation after the kernel writes into code it has already translated (mem_write does not drop it)"],
}
