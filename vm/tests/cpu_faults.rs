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
    n: usize,
    kind: FaultKind,
    f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>,
) -> Guest {
    let code = asm(f);
    let mut g = Guest::new(&code);
    expect_fault(&mut g, kind, insn_addr(&code, n));
    g
}

#[test]
fn unmapped_read_is_page_fault_and_commits_nothing() {
    let g = fault_at(
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
    assert_eq!(g.cpu.insns_retired(), 2);
}

#[test]
fn read_modify_write_to_unmapped_reports_the_read() {
    // add [m], imm reads before it writes: the first access is what faults.
    fault_at(
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

#[test]
fn unmapped_store_reports_write() {
    let g = fault_at(
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

#[test]
fn push_to_unmapped_stack_leaves_esp() {
    let mut g = Guest::with(|a| {
        a.push(eax)?;
        a.int(0x80)
    });
    g.cpu.regs[ESP] = UNMAPPED + 8;
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

#[test]
fn jump_to_unmapped_faults_at_target() {
    let mut g = Guest::with(|a| {
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
    assert_eq!(g.cpu.insns_retired(), 2);
}

#[test]
fn call_through_unmapped_pointer_commits_nothing() {
    let g = fault_at(
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

#[test]
fn ud2_is_invalid_opcode() {
    fault_at(1, FaultKind::InvalidOpcode, |a| {
        a.nop()?;
        a.ud2()
    });
}

#[test]
fn undecodable_bytes_are_invalid_opcode() {
    // 0F 04 is an undefined opcode.
    let mut g = Guest::new(&[0x90, 0x0f, 0x04]);
    expect_fault(&mut g, FaultKind::InvalidOpcode, CODE + 1);
}

#[test]
fn int3_is_breakpoint() {
    fault_at(1, FaultKind::Breakpoint, |a| {
        a.mov(eax, 1)?;
        a.int3()
    });
}

#[test]
fn other_int_is_general_protection() {
    fault_at(1, FaultKind::GeneralProtection, |a| {
        a.mov(eax, 1)?;
        a.int(0x81)
    });
}

#[test]
fn privileged_instructions_are_general_protection() {
    fault_at(0, FaultKind::GeneralProtection, |a| a.hlt());
    fault_at(0, FaultKind::GeneralProtection, |a| a.cli());
    fault_at(0, FaultKind::GeneralProtection, |a| a.sti());
    fault_at(0, FaultKind::GeneralProtection, |a| a.in_(al, dx));
    fault_at(0, FaultKind::GeneralProtection, |a| a.out(dx, al));
}

#[test]
fn divide_by_zero_and_overflow() {
    let g = fault_at(3, FaultKind::Divide, |a| {
        a.mov(eax, 10)?;
        a.xor(edx, edx)?;
        a.xor(ecx, ecx)?;
        a.div(ecx)?;
        a.int(0x80)
    });
    assert_eq!(g.reg(EAX), 10);
    // Quotient 0x1_0000_0000 does not fit 32 bits.
    fault_at(3, FaultKind::Divide, |a| {
        a.mov(edx, 1)?;
        a.mov(eax, 0)?;
        a.mov(ecx, 1)?;
        a.div(ecx)?;
        a.int(0x80)
    });
    // idiv: INT_MIN / -1 overflows.
    fault_at(3, FaultKind::Divide, |a| {
        a.mov(eax, 0x8000_0000u32)?;
        a.cdq()?;
        a.mov(ecx, -1)?;
        a.idiv(ecx)?;
        a.int(0x80)
    });
    // 8-bit: 0x1000 / 2 = 0x800 does not fit AL.
    fault_at(2, FaultKind::Divide, |a| {
        a.mov(eax, 0x1000)?;
        a.mov(cl, 2)?;
        a.div(cl)?;
        a.int(0x80)
    });
}

#[test]
fn address_size_prefix_is_invalid_opcode() {
    // 67 8B 07 = mov eax, [bx]
    let mut g = Guest::new(&[0x67, 0x8b, 0x07]);
    expect_fault(&mut g, FaultKind::InvalidOpcode, CODE);
}

#[test]
fn code_running_off_the_mapping_faults_at_the_page_end() {
    // Two nops in the last bytes of the only code page, then nothing mapped.
    let mut mem = GuestMemory::new();
    mem.map(CODE, 0x1000);
    mem.write_bytes(CODE + 0xffe, &[0x90, 0x90]).unwrap();
    let mut cpu = Cpu::new();
    cpu.eip = CODE + 0xffe;
    match cpu.run(&mut mem, 100) {
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
    assert_eq!(cpu.insns_retired(), 2);
}

#[test]
fn instruction_straddling_into_unmapped_page_faults() {
    // mov eax, imm32 (5 bytes) starting 2 bytes before the end of the page.
    let mut mem = GuestMemory::new();
    mem.map(CODE, 0x1000);
    mem.write_bytes(CODE + 0xffe, &[0xb8, 0x01]).unwrap();
    let mut cpu = Cpu::new();
    cpu.eip = CODE + 0xffe;
    match cpu.run(&mut mem, 100) {
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
    assert_eq!(cpu.run(&mut mem, 100), Stop::Syscall);
    assert_eq!(cpu.regs[EAX], 1);
}

#[test]
fn disassemble_reports_bytes_and_text() {
    let g = Guest::with(|a| a.add(eax, dword_ptr(ebx + 4)));
    let (bytes, text) = vm::cpu::disassemble(&g.mem, CODE).unwrap();
    assert_eq!(bytes, vec![0x03, 0x43, 0x04]);
    assert_eq!(text, "add eax,[ebx+4]");
    assert!(vm::cpu::disassemble(&g.mem, UNMAPPED).is_none());
}
