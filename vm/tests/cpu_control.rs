//! CALL RET JMP Jcc LOOP JECXZ, PUSHFD/POPFD, CMOVcc.

mod cpu_common;
use cpu_common::*;

#[test]
fn call_ret_and_stack() {
    let g = run(|a| {
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

#[test]
fn indirect_call_and_jump_and_ret_imm() {
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
    let mut g = Guest::new(&code);
    // Make the final `jmp ecx` call f with `done` as the return address.
    let done = CODE + code.len() as u32 - 2;
    g.cpu.regs[ESP] = INITIAL_ESP;
    g.mem.write_u32(INITIAL_ESP - 4, done).unwrap();
    g.mem.write_u32(INITIAL_ESP, 0).unwrap();
    // Run up to the jmp, then push the return address by hand.
    loop {
        let (_, text) = vm::cpu::disassemble(&g.mem, g.cpu.eip).unwrap();
        if text == "jmp ecx" {
            g.cpu.regs[ESP] -= 4;
            g.mem.write_u32(g.cpu.regs[ESP], done).unwrap();
        }
        if g.cpu.run(&mut g.mem, 1) == Stop::Syscall {
            break;
        }
    }
    assert_eq!(g.reg(EAX), 3);
    assert_eq!(g.reg(ESP), INITIAL_ESP);
    let g = run(|a| {
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

#[test]
fn loops_and_jecxz() {
    let g = run(|a| {
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
    let g = run(|a| {
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
    let g = run(|a| {
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
    let g = run(|a| {
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

#[test]
fn pushfd_popfd_round_trip() {
    // M0's pattern: cmp; pushfd; call (clobbers flags); popfd; jne.
    let g = run(|a| {
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

#[test]
fn popfd_sets_only_user_flags() {
    let g = run(|a| {
        a.push(0xffff_ffffu32 as i32)?;
        a.popfd()?;
        a.pushfd()?;
        a.pop(eax)?;
        a.int(0x80)
    });
    assert_eq!(g.reg(EAX), 0x202 | ARITH | DF);
    assert_eq!(g.cpu.eflags(), 0x202 | ARITH | DF);
}

#[test]
fn eflags_api_round_trip() {
    let mut cpu = Cpu::new();
    assert_eq!(cpu.eflags(), 0x202);
    cpu.set_eflags(CF | ZF | OF | DF | 0x0010_0000);
    assert_eq!(cpu.eflags(), 0x202 | CF | ZF | OF | DF);
}

#[test]
fn cmov_moves_on_condition_and_reads_memory_anyway() {
    let g = run(|a| {
        a.mov(eax, 1)?;
        a.mov(ebx, 2)?;
        a.mov(ecx, 3)?;
        a.cmp(eax, ebx)?;
        a.cmovl(eax, ebx)?; // 1 < 2: eax = 2
        a.cmovg(ecx, ebx)?; // not taken
        a.int(0x80)
    });
    assert_eq!((g.reg(EAX), g.reg(ECX)), (2, 3));
    let mut g = Guest::with(|a| {
        a.xor(eax, eax)?;
        a.cmovne(eax, dword_ptr(UNMAPPED))?;
        a.int(0x80)
    });
    assert!(matches!(g.run(), Stop::Fault(f) if f.eip == CODE + 2));
}

#[test]
fn jcc_short_and_near_forms() {
    let g = run(|a| {
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

#[test]
fn recursive_factorial() {
    let g = run(|a| {
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
