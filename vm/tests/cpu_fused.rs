//! Fused instruction sequences (the M2-Planet idioms `cpu/exec/fast.rs` runs under one
//! dispatch) behave exactly like the instructions one by one: the same results, the same
//! instruction counts at every budget, faults at the right instruction with everything
//! before it committed, and stores into the sequence's own code seen.

mod cpu_common;
use cpu_common::*;

/// The compare-and-branch idiom, a local load and the operand-stack idioms, with a loop so
/// every block runs more than once.
fn idioms(a: &mut CodeAssembler) -> Result<(), IcedError> {
    let mut top = a.create_label();
    let mut skip = a.create_label();
    a.mov(ebp, DATA + 0x100)?;
    a.mov(dword_ptr(DATA + 0x100 - 4), 5u32)?;
    a.mov(esi, 0u32)?;
    a.mov(ecx, 5u32)?;
    a.set_label(&mut top)?;
    // push eax; lea eax,[ebp-4]; mov eax,[eax]  (push + local load)
    a.push(eax)?;
    a.lea(eax, dword_ptr(ebp - 4))?;
    a.mov(eax, dword_ptr(eax))?;
    // push eax; mov eax,N; pop ebx; add eax,ebx
    a.push(eax)?;
    a.mov(eax, 7u32)?;
    a.pop(ebx)?;
    a.add(eax, ebx)?;
    // pop ebx; cmp ebx,eax; setl al; movzx eax,al; test eax,eax; je skip
    a.push(ecx)?;
    a.mov(eax, 3u32)?;
    a.pop(ebx)?;
    a.cmp(ebx, eax)?;
    a.setl(al)?;
    a.movzx(eax, al)?;
    a.test(eax, eax)?;
    a.je(skip)?;
    a.add(esi, 100)?;
    a.set_label(&mut skip)?;
    a.add(esi, 1)?;
    // lea eax,[ebp-4]; mov eax,[eax]; pop ebx (the first push)
    a.lea(eax, dword_ptr(ebp - 4))?;
    a.mov(eax, dword_ptr(eax))?;
    a.pop(ebx)?;
    a.dec(ecx)?;
    a.jne(top)?;
    a.int(0x80)
}

fn state(g: &Guest) -> ([u32; 8], u32, u32, u64) {
    g.state()
}

fn fused_idioms_compute_what_the_instructions_do(e: EngineUnderTest) {
    let mut g = Guest::with(e, idioms);
    g.run_to_syscall();
    // `setl` is ecx < 3: false for ecx = 5, 4, 3 (`je` skips the +100), true for 2, 1.
    assert_eq!(g.reg(ESI), 2 * 100 + 5);
    assert_eq!(g.reg(EAX), 5);
    assert_eq!(g.reg(ESP), INITIAL_ESP);
}

fn every_budget_gives_the_same_state_as_single_steps(e: EngineUnderTest) {
    // Reference: one instruction at a time (every block cut, every fusion undone).
    let mut stepped = Guest::with(e, idioms);
    let mut trace = vec![state(&stepped)];
    while stepped.step(1) == Stop::InsnLimit {
        trace.push(state(&stepped));
    }
    let total = stepped.retired();
    assert_eq!(total, 4 + 5 * 21 + 2 + 1, "every instruction retired once");
    // Any budget stops at exactly that instruction with the single-stepped state.
    for budget in 1..total {
        let mut g = Guest::with(e, idioms);
        assert_eq!(g.step(budget), Stop::InsnLimit, "budget {budget}");
        assert_eq!(state(&g), trace[budget as usize], "budget {budget}");
    }
    // And in two runs split anywhere.
    for first in [3, 7, 9, 12, 17, 23] {
        let mut g = Guest::with(e, idioms);
        assert_eq!(g.step(first), Stop::InsnLimit);
        assert_eq!(g.run(), Stop::Syscall);
        assert_eq!(g.regs(), stepped.regs(), "split at {first}");
        assert_eq!(g.retired(), total, "split at {first}");
    }
}

fn fault_in_a_later_part_commits_the_earlier_parts(e: EngineUnderTest) {
    // lea eax,[ebp-4]; mov eax,[eax] with ebp pointing at no page: the lea retires, the
    // load faults at its own address.
    let code = asm(|a| {
        a.mov(ebp, UNMAPPED + 4)?;
        a.push(ecx)?;
        a.lea(eax, dword_ptr(ebp - 4))?;
        a.mov(eax, dword_ptr(eax))?;
        a.int(0x80)
    });
    let mut g = Guest::new(e, &code);
    let stop = g.run();
    let load_at = CODE + 5 + 1 + 3;
    assert_eq!(
        stop,
        Stop::Fault(Fault {
            kind: FaultKind::Page(MemFault {
                addr: UNMAPPED,
                write: false
            }),
            eip: load_at
        })
    );
    assert_eq!(g.reg(EAX), UNMAPPED, "the lea retired");
    assert_eq!(g.reg(ESP), INITIAL_ESP - 4, "the push retired");
    assert_eq!(g.retired(), 3);
}

fn pop_then_store_into_the_next_instruction_is_seen(e: EngineUnderTest) {
    // pop ebx; mov [ebx],eax overwrites the `mov eax,1` that follows with `mov eax,2`'s
    // immediate: the stored bytes, not the decoded ones, must run.
    let code = asm(|a| {
        let mut patch = a.create_label();
        a.mov(eax, 2u32)?;
        a.push(0x1234_5678u32)?; // push imm32; replaced below by the immediate's address
        a.pop(ebx)?;
        a.mov(dword_ptr(ebx), eax)?;
        a.set_label(&mut patch)?;
        a.mov(eax, 1u32)?;
        a.int(0x80)
    });
    // The immediate of the final `mov eax, imm32` sits 4 bytes before `int 0x80`.
    let imm_at = CODE + code.len() as u32 - 2 - 4;
    let mut code = code;
    code[5 + 1..5 + 5].copy_from_slice(&imm_at.to_le_bytes());
    let mut g = Guest::new(e, &code);
    g.run_to_syscall();
    assert_eq!(g.reg(EAX), 2, "the patched immediate ran");
    assert_eq!(g.retired(), 6);
}

conformance! {
    fused_idioms_compute_what_the_instructions_do,
    every_budget_gives_the_same_state_as_single_steps,
    fault_in_a_later_part_commits_the_earlier_parts,
    pop_then_store_into_the_next_instruction_is_seen [unicorn = "engine bug: unicorn runs the stale translation after a store into code it has already translated (vm/src/engine/unicorn.rs, unicorn_lazy.rs)", unicorn_fast = "engine bug: unicorn runs the stale translation after a store into code it has already translated (vm/src/engine/unicorn.rs, unicorn_lazy.rs)", lockstep = "engine bug: unicorn runs the stale translation after a store into code it has already translated (vm/src/engine/unicorn.rs, unicorn_lazy.rs)"],
}
