//! CALL RET JMP Jcc LOOP JECXZ, PUSHFD/POPFD, CMOVcc.

mod cpu_common;
use cpu_common::*;

fn call_ret_and_stack(e: EngineUnderTest) {
    let g = run(e, |a| {
        let mut f = a.create_label();
        let mut done = a.create_label();
        a.mov(eax, 1)?;
        a.call(f)?;
        a.add(eax, 100)?;
        a.jmp(done)?;
        a.set_label(&mut f)?;
        a.mov(ebx, dword_ptr(esp))?; // return address
        a.add(eax, 10)?;
        a.ret()?;
        a.set_label(&mut done)?;
        a.int(0x80)
    });
    assert_eq!(g.reg(EAX), 111);
    assert_eq!(g.reg(EBX), CODE + 10);
    assert_eq!(g.reg(ESP), INITIAL_ESP);
}

fn indirect_call_and_jump_and_ret_imm(e: EngineUnderTest) {
    // f sits right after a 2-byte short jmp, at CODE + 2.
    let code = asm(|a| {
        let mut start = a.create_label();
        let mut done = a.create_label();
        a.jmp(start)?;
        a.add(eax, 1)?; // f
        a.ret()?;
        a.set_label(&mut start)?;
        a.mov(ecx, CODE + 2)?;
        a.call(ecx)?;
        a.mov(dword_ptr(DATA), ecx)?;
        a.call(dword_ptr(DATA))?;
        a.mov(edx, dword_ptr(DATA))?;
        a.add(edx, 5)?; // past f: the int3 below is never reached
        a.mov(ebx, 0)?;
        a.jmp(ecx)?; // once more via a register jump: returns to `done` through the stack
        a.set_label(&mut done)?;
        a.int(0x80)
    });
    assert_eq!(code[0], 0xeb);
    let mut g = Guest::new(e, &code);
    // Make the final `jmp ecx` call f with `done` as the return address.
    let done = CODE + code.len() as u32 - 2;
    g.set_reg(ESP, INITIAL_ESP);
    g.mem.write_u32(INITIAL_ESP - 4, done).unwrap();
    g.mem.write_u32(INITIAL_ESP, 0).unwrap();
    // Run up to the jmp, then push the return address by hand.
    loop {
        let (_, text) = vm::cpu::disassemble(&g.mem, g.eip()).unwrap();
        if text == "jmp ecx" {
            let new_esp = g.reg(ESP) - 4;
            g.set_reg(ESP, new_esp);
            g.mem.write_u32(new_esp, done).unwrap();
        }
        if g.step(1) == Stop::Syscall {
            break;
        }
    }
    assert_eq!(g.reg(EAX), 3);
    assert_eq!(g.reg(ESP), INITIAL_ESP);
    let g = run(e, |a| {
        let mut f = a.create_label();
        let mut done = a.create_label();
        a.push(1)?;
        a.push(2)?;
        a.call(f)?;
        a.jmp(done)?;
        a.set_label(&mut f)?;
        a.ret_1(8)?;
        a.set_label(&mut done)?;
        a.int(0x80)
    });
    assert_eq!(g.reg(ESP), INITIAL_ESP);
}

fn loops_and_jecxz(e: EngineUnderTest) {
    let g = run(e, |a| {
        let mut top = a.create_label();
        a.mov(ecx, 10)?;
        a.xor(eax, eax)?;
        a.set_label(&mut top)?;
        a.add(eax, ecx)?;
        a.loop_(top)?;
        a.int(0x80)
    });
    assert_eq!((g.reg(EAX), g.reg(ECX)), (55, 0));
    // loopne: stop when ZF gets set (eax reaches 3) even though ECX is not 0.
    let g = run(e, |a| {
        let mut top = a.create_label();
        a.mov(ecx, 10)?;
        a.xor(eax, eax)?;
        a.set_label(&mut top)?;
        a.inc(eax)?;
        a.cmp(eax, 3)?;
        a.loopne(top)?;
        a.int(0x80)
    });
    assert_eq!((g.reg(EAX), g.reg(ECX)), (3, 7));
    // loope: continue while equal.
    let g = run(e, |a| {
        let mut top = a.create_label();
        a.mov(ecx, 10)?;
        a.xor(eax, eax)?;
        a.set_label(&mut top)?;
        a.inc(eax)?;
        a.cmp(eax, 1)?;
        a.loope(top)?;
        a.int(0x80)
    });
    assert_eq!((g.reg(EAX), g.reg(ECX)), (2, 8));
    let g = run(e, |a| {
        let mut skip = a.create_label();
        a.xor(ecx, ecx)?;
        a.mov(eax, 1)?;
        a.jecxz(skip)?;
        a.mov(eax, 2)?;
        a.set_label(&mut skip)?;
        a.int(0x80)
    });
    assert_eq!(g.reg(EAX), 1);
}

fn pushfd_popfd_round_trip(e: EngineUnderTest) {
    // M0's pattern: cmp; pushfd; call (clobbers flags); popfd; jne.
    let g = run(e, |a| {
        let mut f = a.create_label();
        let mut ne = a.create_label();
        let mut done = a.create_label();
        a.mov(eax, 5)?;
        a.cmp(al, 0)?;
        a.pushfd()?;
        a.call(f)?;
        a.popfd()?;
        a.jne(ne)?;
        a.mov(ebx, 1)?;
        a.jmp(done)?;
        a.set_label(&mut ne)?;
        a.mov(ebx, 2)?;
        a.jmp(done)?;
        a.set_label(&mut f)?;
        a.xor(ecx, ecx)?; // ZF = 1
        a.ret()?;
        a.set_label(&mut done)?;
        a.pushfd()?;
        a.pop(edx)?;
        a.int(0x80)
    });
    assert_eq!(g.reg(EBX), 2);
    // The flags of `cmp al, 0` with al = 5 came back: result 5 has even parity.
    assert_eq!(g.reg(EDX), 0x202 | PF);
}

fn popfd_sets_and_clears_the_user_flags(e: EngineUnderTest) {
    for value in [0x202 | ARITH | DF, 0x202] {
        let g = run(e, |a| {
            a.push(value)?;
            a.popfd()?;
            a.pushfd()?;
            a.pop(eax)?;
            a.int(0x80)
        });
        assert_eq!(g.reg(EAX), value);
        assert_eq!(g.eflags(), value);
    }
}

fn popfd_of_all_ones(e: EngineUnderTest) {
    let mut g = Guest::with(e, |a| {
        a.push(0xffff_ffffu32 as i32)?; // 2 bytes
        a.popfd()?;
        a.pushfd()?;
        a.pop(eax)?;
        a.int(0x80)
    });
    match e.popfd_all_ones() {
        // The interpreter keeps only the user-settable flags (`exec/stack.rs`, `popf`).
        PopfdAllOnes::KeepsUserFlags => {
            g.run_to_syscall();
            assert_eq!(g.reg(EAX), 0x202 | ARITH | DF);
            assert_eq!(g.eflags(), 0x202 | ARITH | DF);
        }
        // unicorn takes TF (and the other system flags) as a CPU does: the instruction
        // after `popfd` ends in a single-step trap, which Linux delivers as SIGTRAP.
        PopfdAllOnes::TrapsOnTf => {
            assert_eq!(
                g.run(),
                Stop::Fault(Fault {
                    kind: FaultKind::Breakpoint,
                    eip: CODE + 4
                }),
                "{}",
                g.describe()
            );
            assert_eq!(
                g.read32(INITIAL_ESP - 4) & (ARITH | DF | TF),
                ARITH | DF | TF
            );
        }
        // The cross-check sees the two engines part at the trap.
        PopfdAllOnes::Diverges => {
            let err = g.engine.run(&mut g.mem, 100).expect_err("a divergence");
            assert!(matches!(err, EngineError::Divergence(_)), "{err}");
        }
    }
}

fn eflags_api_round_trip(e: EngineUnderTest) {
    let mut engine = e.build(&Cpu::new());
    assert_eq!(engine.eflags(), 0x202);
    engine.set_eflags(CF | ZF | OF | DF | 0x0010_0000);
    assert_eq!(engine.eflags(), 0x202 | CF | ZF | OF | DF);
}

fn cmov_moves_on_condition_and_reads_memory_anyway(e: EngineUnderTest) {
    let g = run(e, |a| {
        a.mov(eax, 1)?;
        a.mov(ebx, 2)?;
        a.mov(ecx, 3)?;
        a.cmp(eax, ebx)?;
        a.cmovl(eax, ebx)?; // 1 < 2: eax = 2
        a.cmovg(ecx, ebx)?; // not taken
        a.int(0x80)
    });
    assert_eq!((g.reg(EAX), g.reg(ECX)), (2, 3));
    let mut g = Guest::with(e, |a| {
        a.xor(eax, eax)?;
        a.cmovne(eax, dword_ptr(UNMAPPED))?;
        a.int(0x80)
    });
    assert!(matches!(g.run(), Stop::Fault(f) if f.eip == CODE + 2));
}

fn jcc_short_and_near_forms(e: EngineUnderTest) {
    let g = run(e, |a| {
        let mut far = a.create_label();
        let mut done = a.create_label();
        a.mov(eax, 1)?;
        a.cmp(eax, 1)?;
        a.je(far)?; // near form: far is > 127 bytes away
        a.mov(eax, 2)?;
        a.jmp(done)?;
        for _ in 0..200 {
            a.nop()?;
        }
        a.set_label(&mut far)?;
        a.mov(eax, 3)?;
        a.set_label(&mut done)?;
        a.int(0x80)
    });
    assert_eq!(g.reg(EAX), 3);
}

fn recursive_factorial(e: EngineUnderTest) {
    let g = run(e, |a| {
        let mut fact = a.create_label();
        let mut base = a.create_label();
        let mut done = a.create_label();
        a.push(10)?;
        a.call(fact)?;
        a.add(esp, 4)?;
        a.jmp(done)?;
        a.set_label(&mut fact)?;
        a.push(ebp)?;
        a.mov(ebp, esp)?;
        a.mov(eax, dword_ptr(ebp + 8))?;
        a.cmp(eax, 1)?;
        a.jle(base)?;
        a.dec(eax)?;
        a.push(eax)?;
        a.call(fact)?;
        a.add(esp, 4)?;
        a.mul(dword_ptr(ebp + 8))?;
        a.set_label(&mut base)?;
        a.leave()?;
        a.ret()?;
        a.set_label(&mut done)?;
        a.int(0x80)
    });
    assert_eq!(g.reg(EAX), 3_628_800);
    assert_eq!(g.reg(ESP), INITIAL_ESP);
}

conformance! {
    call_ret_and_stack,
    indirect_call_and_jump_and_ret_imm,
    loops_and_jecxz,
    pushfd_popfd_round_trip,
    popfd_sets_and_clears_the_user_flags,
    popfd_of_all_ones,
    eflags_api_round_trip,
    cmov_moves_on_condition_and_reads_memory_anyway,
    jcc_short_and_near_forms,
    recursive_factorial,
}
