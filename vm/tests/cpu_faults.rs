//! Fault kinds, the faulting EIP, and that a faulting instruction commits nothing.

mod cpu_common;
use cpu_common::*;

/// The address of the `n`-th instruction of the assembled code.
fn insn_addr(code: &[u8], n: usize) -> u32 {
    use iced_x86::{Decoder, DecoderOptions};
    let mut d = Decoder::with_ip(32, code, CODE as u64, DecoderOptions::NONE);
    let mut ip = CODE;
    for _ in 0..n {
        ip = d.decode().next_ip32();
    }
    ip
}

fn fault_at(
    e: EngineUnderTest,
    n: usize,
    kind: FaultKind,
    f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>,
) -> Guest {
    let code = asm(f);
    let mut g = Guest::new(e, &code);
    expect_fault(&mut g, kind, insn_addr(&code, n));
    g
}

fn unmapped_read_is_page_fault_and_commits_nothing(e: EngineUnderTest) {
    let g = fault_at(
        e,
        2,
        FaultKind::Page(MemFault {
            addr: UNMAPPED + 4,
            write: false,
        }),
        |a| {
            a.mov(eax, 7)?;
            a.mov(ebx, UNMAPPED)?;
            a.add(eax, dword_ptr(ebx + 4))?;
            a.int(0x80)
        },
    );
    assert_eq!(g.reg(EAX), 7);
    assert_eq!(g.retired(), 2);
}

fn read_modify_write_to_unmapped_reports_the_read(e: EngineUnderTest) {
    // add [m], imm reads before it writes: the first access is what faults.
    fault_at(
        e,
        2,
        FaultKind::Page(MemFault {
            addr: UNMAPPED,
            write: false,
        }),
        |a| {
            a.mov(ebx, UNMAPPED)?;
            a.mov(eax, 0)?;
            a.add(dword_ptr(ebx), 1)?;
            a.int(0x80)
        },
    );
}

fn unmapped_store_reports_write(e: EngineUnderTest) {
    let g = fault_at(
        e,
        2,
        FaultKind::Page(MemFault {
            addr: UNMAPPED + 0x10,
            write: true,
        }),
        |a| {
            a.mov(ebx, UNMAPPED)?;
            a.mov(eax, 5)?;
            a.mov(dword_ptr(ebx + 0x10), eax)?;
            a.int(0x80)
        },
    );
    assert_eq!(g.reg(EAX), 5);
}

fn push_to_unmapped_stack_leaves_esp(e: EngineUnderTest) {
    let mut g = Guest::with(e, |a| {
        a.push(eax)?;
        a.int(0x80)
    });
    g.set_reg(ESP, UNMAPPED + 8);
    expect_fault(
        &mut g,
        FaultKind::Page(MemFault {
            addr: UNMAPPED + 4,
            write: true,
        }),
        CODE,
    );
    assert_eq!(g.reg(ESP), UNMAPPED + 8);
}

fn jump_to_unmapped_faults_at_target(e: EngineUnderTest) {
    let mut g = Guest::with(e, |a| {
        a.mov(eax, UNMAPPED)?;
        a.jmp(eax)
    });
    match g.run() {
        Stop::Fault(f) => {
            assert_eq!(
                f.kind,
                FaultKind::Page(MemFault {
                    addr: UNMAPPED,
                    write: false
                })
            );
            assert_eq!(f.eip, UNMAPPED);
        }
        s => panic!("{s:?}"),
    }
    assert_eq!(g.retired(), 2);
}

fn call_through_unmapped_pointer_commits_nothing(e: EngineUnderTest) {
    let g = fault_at(
        e,
        1,
        FaultKind::Page(MemFault {
            addr: UNMAPPED,
            write: false,
        }),
        |a| {
            a.mov(ebx, UNMAPPED)?;
            a.call(dword_ptr(ebx))?;
            a.int(0x80)
        },
    );
    assert_eq!(g.reg(ESP), INITIAL_ESP);
}

fn ud2_is_invalid_opcode(e: EngineUnderTest) {
    fault_at(e, 1, FaultKind::InvalidOpcode, |a| {
        a.nop()?;
        a.ud2()
    });
}

fn undecodable_bytes_are_invalid_opcode(e: EngineUnderTest) {
    // 0F 04 is an undefined opcode.
    let mut g = Guest::new(e, &[0x90, 0x0f, 0x04]);
    expect_fault(&mut g, FaultKind::InvalidOpcode, CODE + 1);
}

fn int3_is_breakpoint(e: EngineUnderTest) {
    fault_at(e, 1, FaultKind::Breakpoint, |a| {
        a.mov(eax, 1)?;
        a.int3()
    });
}

fn other_int_is_general_protection(e: EngineUnderTest) {
    fault_at(e, 1, FaultKind::GeneralProtection, |a| {
        a.mov(eax, 1)?;
        a.int(0x81)
    });
}

fn privileged_instructions_are_general_protection(e: EngineUnderTest) {
    fault_at(e, 0, FaultKind::GeneralProtection, |a| a.hlt());
    fault_at(e, 0, FaultKind::GeneralProtection, |a| a.cli());
    fault_at(e, 0, FaultKind::GeneralProtection, |a| a.sti());
    fault_at(e, 0, FaultKind::GeneralProtection, |a| a.in_(al, dx));
    fault_at(e, 0, FaultKind::GeneralProtection, |a| a.out(dx, al));
}

fn divide_by_zero_and_overflow(e: EngineUnderTest) {
    let g = fault_at(e, 3, FaultKind::Divide, |a| {
        a.mov(eax, 10)?;
        a.xor(edx, edx)?;
        a.xor(ecx, ecx)?;
        a.div(ecx)?;
        a.int(0x80)
    });
    assert_eq!(g.reg(EAX), 10);
    // Quotient 0x1_0000_0000 does not fit 32 bits.
    fault_at(e, 3, FaultKind::Divide, |a| {
        a.mov(edx, 1)?;
        a.mov(eax, 0)?;
        a.mov(ecx, 1)?;
        a.div(ecx)?;
        a.int(0x80)
    });
    // idiv: INT_MIN / -1 overflows.
    fault_at(e, 3, FaultKind::Divide, |a| {
        a.mov(eax, 0x8000_0000u32)?;
        a.cdq()?;
        a.mov(ecx, -1)?;
        a.idiv(ecx)?;
        a.int(0x80)
    });
    // 8-bit: 0x1000 / 2 = 0x800 does not fit AL.
    fault_at(e, 2, FaultKind::Divide, |a| {
        a.mov(eax, 0x1000)?;
        a.mov(cl, 2)?;
        a.div(cl)?;
        a.int(0x80)
    });
}

fn address_size_prefix(e: EngineUnderTest) {
    // 67 8B 07 = mov eax, [bx]
    let mut g = Guest::new(e, &[0x67, 0x8b, 0x07]);
    match e {
        // The interpreter does not decode 16-bit addressing (cpu/decode/mod.rs, "Not
        // supported"): the instruction is invalid.
        EngineUnderTest::Interp => expect_fault(&mut g, FaultKind::InvalidOpcode, CODE),
        // The JIT tier decodes through the interpreter.
        #[cfg(feature = "jit")]
        EngineUnderTest::Jit | EngineUnderTest::JitLockstep => {
            expect_fault(&mut g, FaultKind::InvalidOpcode, CODE)
        }
        // unicorn reads [bx] = [0], which no page holds.
        #[cfg(feature = "unicorn")]
        EngineUnderTest::Unicorn | EngineUnderTest::UnicornFast => expect_fault(
            &mut g,
            FaultKind::Page(MemFault {
                addr: 0,
                write: false,
            }),
            CODE,
        ),
        // The two disagree, and the cross-check says so.
        #[cfg(feature = "unicorn")]
        EngineUnderTest::Lockstep => {
            let err = g.engine.run(&mut g.mem, 100).expect_err("a divergence");
            assert!(matches!(err, EngineError::Divergence(_)), "{err}");
        }
    }
}

fn code_running_off_the_mapping_faults_at_the_page_end(e: EngineUnderTest) {
    // Two nops in the last bytes of the only code page, then nothing mapped.
    let mut mem = GuestMemory::new();
    mem.map(CODE, 0x1000);
    mem.write_bytes(CODE + 0xffe, &[0x90, 0x90]).unwrap();
    let mut cpu = Cpu::new();
    cpu.eip = CODE + 0xffe;
    let mut engine = e.build(&cpu);
    match engine.run(&mut mem, 100).expect("engine") {
        Stop::Fault(f) => {
            assert_eq!(f.eip, CODE + 0x1000);
            assert_eq!(
                f.kind,
                FaultKind::Page(MemFault {
                    addr: CODE + 0x1000,
                    write: false
                })
            );
        }
        s => panic!("{s:?}"),
    }
    assert_eq!(engine.insns_retired(), 2);
}

fn instruction_straddling_into_unmapped_page_faults(e: EngineUnderTest) {
    // mov eax, imm32 (5 bytes) starting 2 bytes before the end of the page.
    let mut mem = GuestMemory::new();
    mem.map(CODE, 0x1000);
    mem.write_bytes(CODE + 0xffe, &[0xb8, 0x01]).unwrap();
    let mut cpu = Cpu::new();
    cpu.eip = CODE + 0xffe;
    let mut engine = e.build(&cpu);
    match engine.run(&mut mem, 100).expect("engine") {
        Stop::Fault(f) => {
            assert_eq!(f.eip, CODE + 0xffe);
            assert!(matches!(f.kind, FaultKind::Page(m) if m.addr == CODE + 0x1000));
        }
        s => panic!("{s:?}"),
    }
    // Mapping the next page makes it run.
    mem.map(CODE + 0x1000, 0x1000);
    mem.write_bytes(CODE + 0x1000, &[0, 0, 0, 0xcd, 0x80])
        .unwrap();
    assert_eq!(engine.run(&mut mem, 100).expect("engine"), Stop::Syscall);
    assert_eq!(engine.regs()[EAX], 1);
}

#[test]
fn disassemble_reports_bytes_and_text() {
    let g = Guest::with(EngineUnderTest::Interp, |a| a.add(eax, dword_ptr(ebx + 4)));
    let (bytes, text) = vm::cpu::disassemble(&g.mem, CODE).unwrap();
    assert_eq!(bytes, vec![0x03, 0x43, 0x04]);
    assert_eq!(text, "add eax,[ebx+4]");
    assert!(vm::cpu::disassemble(&g.mem, UNMAPPED).is_none());
}

conformance! {
    unmapped_read_is_page_fault_and_commits_nothing,
    read_modify_write_to_unmapped_reports_the_read,
    unmapped_store_reports_write,
    push_to_unmapped_stack_leaves_esp,
    jump_to_unmapped_faults_at_target,
    call_through_unmapped_pointer_commits_nothing,
    ud2_is_invalid_opcode [lockstep = "engine bug: unicorn with a budget of 1 (as the lockstep steps) does not report #UD for ud2"],
    undecodable_bytes_are_invalid_opcode [lockstep = "engine bug: unicorn with a budget of 1 (as the lockstep steps) does not report #UD for undecodable bytes"],
    int3_is_breakpoint [unicorn = "engine bug: unicorn reports the int3 fault with eip after the instruction, not at it", unicorn_fast = "engine bug: unicorn reports the int3 fault with eip after the instruction, not at it", lockstep = "engine bug: unicorn reports the int3 fault with eip after the instruction, not at it"],
    other_int_is_general_protection [unicorn = "engine bug: unicorn reports the int n fault with eip after the instruction, not at it", unicorn_fast = "engine bug: unicorn reports the int n fault with eip after the instruction, not at it", lockstep = "engine bug: unicorn reports the int n fault with eip after the instruction, not at it"],
    privileged_instructions_are_general_protection [unicorn = "engine bug: unicorn runs hlt, cli, sti, in and out in user code instead of faulting #GP", unicorn_fast = "engine bug: unicorn runs hlt, cli, sti, in and out in user code instead of faulting #GP", lockstep = "engine bug: unicorn runs hlt, cli, sti, in and out in user code instead of faulting #GP"],
    divide_by_zero_and_overflow,
    address_size_prefix,
    code_running_off_the_mapping_faults_at_the_page_end [unicorn = "engine bug: unicorn reports a fetch fault past the last mapped page at the start of the block (page end - 2) and retires neither nop", unicorn_fast = "engine bug: unicorn reports a fetch fault past the last mapped page at the start of the block (page end - 2) and retires neither nop", lockstep = "engine bug: unicorn reports a fetch fault past the last mapped page at the start of the block (page end - 2) and retires neither nop"],
    instruction_straddling_into_unmapped_page_faults,
}
