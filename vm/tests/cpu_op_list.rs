//! The op list's description of decoded instructions (`vm::cpu::describe`): kinds and
//! operands, the flags each kind declares against iced-x86's tables, and the store ranges
//! against the bytes the interpreter actually changes and against iced-x86's memory info.

use iced_x86::code_asm::*;
use iced_x86::{Decoder, DecoderOptions, InstructionInfoFactory, OpAccess, Register, RflagsBits};
use vm::cpu::reg::*;
use vm::cpu::{describe, stores_at, Kind, MemRef, Operand};
use vm::{Cpu, FaultKind, GuestMemory};

const CODE: u32 = 0x0804_8000;
const DATA: u32 = 0x0806_0000;
const DATA_LEN: u32 = 0x1_0000;
const STACK_BASE: u32 = 0xBFFF_0000;
const STACK_TOP: u32 = 0xC000_0000;

const CF: u32 = 1;
const PF: u32 = 1 << 2;
const AF: u32 = 1 << 4;
const ZF: u32 = 1 << 6;
const SF: u32 = 1 << 7;
const DF: u32 = 1 << 10;
const OF: u32 = 1 << 11;

fn asm(f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Vec<u8> {
    let mut a = CodeAssembler::new(32).expect("32-bit assembler");
    f(&mut a).expect("assembling test code");
    a.assemble(CODE as u64).expect("assembling test code")
}

/// Code, data (filled with a pattern) and stack mapped; registers pointing into data.
fn guest(code: &[u8]) -> (Cpu, GuestMemory) {
    let mut mem = GuestMemory::new();
    mem.map(CODE, 0x1000);
    mem.write_bytes(CODE, code).expect("code fits");
    mem.map(DATA, DATA_LEN);
    let pattern: Vec<u8> = (0..DATA_LEN)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    mem.write_bytes(DATA, &pattern).expect("data fits");
    mem.map(STACK_BASE, STACK_TOP - STACK_BASE);
    let mut cpu = Cpu::new();
    cpu.eip = CODE;
    cpu.regs = [
        3,                 // eax
        5,                 // ecx
        DATA + 0x800,      // edx
        DATA + 0x1000,     // ebx
        STACK_TOP - 0x200, // esp
        DATA + 0x2000,     // ebp
        DATA + 0x3000,     // esi
        DATA + 0x4000,     // edi
    ];
    (cpu, mem)
}

fn snapshot(mem: &GuestMemory) -> Vec<u8> {
    let mut all = vec![0u8; (DATA_LEN + (STACK_TOP - STACK_BASE)) as usize];
    let (data, stack) = all.split_at_mut(DATA_LEN as usize);
    mem.read_bytes(DATA, data).expect("data mapped");
    mem.read_bytes(STACK_BASE, stack).expect("stack mapped");
    all
}

fn address_of(index: usize) -> u32 {
    if index < DATA_LEN as usize {
        DATA + index as u32
    } else {
        STACK_BASE + (index - DATA_LEN as usize) as u32
    }
}

/// iced-x86's write ranges for the instruction at CODE (as the lockstep computes them).
fn iced_stores(code: &[u8], regs: &[u32; 8]) -> Vec<(u32, u32)> {
    let mut d = Decoder::with_ip(32, code, CODE as u64, DecoderOptions::NONE);
    let insn = d.decode();
    let mut info = InstructionInfoFactory::new();
    let value = |r: Register, _: usize, _: usize| -> Option<u64> {
        let i = match r {
            Register::EAX => 0,
            Register::ECX => 1,
            Register::EDX => 2,
            Register::EBX => 3,
            Register::ESP => 4,
            Register::EBP => 5,
            Register::ESI => 6,
            Register::EDI => 7,
            Register::ES | Register::CS | Register::SS | Register::DS => return Some(0),
            _ => return None,
        };
        Some(regs[i] as u64)
    };
    let mut v: Vec<(u32, u32)> = info
        .info(&insn)
        .used_memory()
        .iter()
        .filter(|m| {
            matches!(
                m.access(),
                OpAccess::Write
                    | OpAccess::CondWrite
                    | OpAccess::ReadWrite
                    | OpAccess::ReadCondWrite
            )
        })
        .filter_map(|m| {
            let addr = m.virtual_address(0, value)? as u32;
            Some((addr, m.memory_size().size().max(1) as u32))
        })
        .collect();
    v.sort();
    v
}

/// Instructions that store (or not), each run once: the bytes that changed lie in the
/// declared ranges, and (for one-shot stores) the ranges are iced-x86's.
fn store_cases() -> Vec<(&'static str, Vec<u8>, bool)> {
    // (name, code, compare with iced-x86's ranges exactly)
    vec![
        (
            "add [ebx+8], eax",
            asm(|a| a.add(dword_ptr(ebx + 8), eax)),
            true,
        ),
        ("add eax, [ebx]", asm(|a| a.add(eax, dword_ptr(ebx))), true),
        ("cmp [ebx], eax", asm(|a| a.cmp(dword_ptr(ebx), eax)), true),
        (
            "mov [ebp-4], eax",
            asm(|a| a.mov(dword_ptr(ebp - 4), eax)),
            true,
        ),
        (
            "mov byte [ebx+ecx*4+1], al",
            asm(|a| a.mov(byte_ptr(ebx + ecx * 4 + 1), al)),
            true,
        ),
        (
            "mov word [edx], 0x1234",
            asm(|a| a.mov(word_ptr(edx), 0x1234u32)),
            true,
        ),
        ("inc dword [edx]", asm(|a| a.inc(dword_ptr(edx))), true),
        ("not byte [edx+3]", asm(|a| a.not(byte_ptr(edx + 3))), true),
        (
            "shl dword [ebx], 3",
            asm(|a| a.shl(dword_ptr(ebx), 3)),
            true,
        ),
        (
            "shld [ebx], eax, 4",
            asm(|a| a.shld(dword_ptr(ebx), eax, 4)),
            true,
        ),
        ("sete byte [ebx]", asm(|a| a.sete(byte_ptr(ebx))), true),
        (
            "xchg [ebx], ecx",
            asm(|a| a.xchg(dword_ptr(ebx), ecx)),
            true,
        ),
        ("push eax", asm(|a| a.push(eax)), true),
        ("push dword [ebx]", asm(|a| a.push(dword_ptr(ebx))), true),
        ("push 0x12", asm(|a| a.push(0x12)), true),
        ("pop dword [ebx]", asm(|a| a.pop(dword_ptr(ebx))), true),
        ("pushfd", asm(|a| a.pushfd()), true),
        ("pushad", asm(|a| a.pushad()), false),
        ("call rel", asm(|a| a.call(CODE as u64 + 0x40)), true),
        ("call [ebx]", asm(|a| a.call(dword_ptr(ebx))), true),
        ("enter 16, 0", asm(|a| a.enter(16u32, 0u32)), false),
        ("enter 8, 3", asm(|a| a.enter(8u32, 3u32)), false),
        ("bts [ebx], 35", asm(|a| a.bts(dword_ptr(ebx), 35)), true),
        (
            "bts [ebx], eax (eax=3)",
            asm(|a| a.bts(dword_ptr(ebx), eax)),
            false,
        ),
        ("stosd", asm(|a| a.stosd()), true),
        ("movsb", asm(|a| a.movsb()), true),
        ("rep stosb (ecx=5)", asm(|a| a.rep().stosb()), false),
        ("rep movsd (ecx=5)", asm(|a| a.rep().movsd()), false),
        (
            "lea eax, [ebx+4]",
            asm(|a| a.lea(eax, dword_ptr(ebx + 4))),
            true,
        ),
        (
            "movzx eax, byte [ebx]",
            asm(|a| a.movzx(eax, byte_ptr(ebx))),
            true,
        ),
        ("cmpsb", asm(|a| a.cmpsb()), true),
    ]
}

fn sorted(mut v: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    v.sort();
    v
}

#[test]
fn store_ranges_cover_what_the_interpreter_writes() {
    for (name, code, exact) in store_cases() {
        let (mut cpu, mut mem) = guest(&code);
        let insn = describe(&mem, CODE).unwrap_or_else(|f| panic!("{name}: {f:?}"));
        let ranges = insn.stores(&cpu.regs, false);
        if exact {
            assert_eq!(
                sorted(ranges.clone()),
                iced_stores(&code, &cpu.regs),
                "{name}: ranges vs iced-x86's"
            );
        }
        let before = snapshot(&mem);
        // A branch's target may be unmapped: the stop is then a fault there.
        let stop = cpu.run(&mut mem, 1);
        assert_eq!(cpu.insns_retired(), 1, "{name}: ran to {stop:?}");
        let after = snapshot(&mem);
        let changed: Vec<u32> = (0..before.len())
            .filter(|&i| before[i] != after[i])
            .map(address_of)
            .collect();
        for a in &changed {
            assert!(
                ranges.iter().any(|&(s, l)| a.wrapping_sub(s) < l),
                "{name}: wrote {a:#x} outside {ranges:x?}"
            );
        }
        let declared: u32 = ranges.iter().map(|r| r.1).sum();
        if declared > 0 {
            assert!(
                !changed.is_empty() || name.starts_with("bts"),
                "{name}: wrote nothing"
            );
        }
    }
}

#[test]
fn rep_and_backwards_string_stores_cover_every_iteration() {
    let code = asm(|a| a.rep().stosd());
    let (cpu, mem) = guest(&code);
    let insn = describe(&mem, CODE).expect("rep stosd decodes");
    let dest = cpu.regs[EDI];
    assert_eq!(insn.stores(&cpu.regs, false), vec![(dest, 20)]);
    assert_eq!(insn.stores(&cpu.regs, true), vec![(dest - 16, 20)]);
    assert_eq!(
        stores_at(&mem, CODE, &cpu.regs, 0x202 | DF),
        Some(vec![(dest - 16, 20)])
    );
    let mut zero = cpu.regs;
    zero[ECX] = 0;
    assert_eq!(insn.stores(&zero, false), vec![]);
}

#[test]
fn enter_stores_the_frame_pointers_its_level_copies() {
    let code = asm(|a| a.enter(8u32, 3u32));
    let (cpu, mem) = guest(&code);
    let insn = describe(&mem, CODE).expect("enter decodes");
    let top = cpu.regs[ESP];
    // ebp, two copied frame pointers, the new frame pointer.
    assert_eq!(insn.stores(&cpu.regs, false), vec![(top - 16, 16)]);
}

#[test]
fn describe_gives_kind_operands_and_size() {
    let code = asm(|a| a.mov(eax, dword_ptr(ebp - 8)));
    let (_, mem) = guest(&code);
    let insn = describe(&mem, CODE).expect("decodes");
    assert_eq!(insn.kind, Kind::Mov);
    assert_eq!(insn.count, 2);
    assert_eq!(insn.operand(0), Operand::Reg(EAX as u8, 4));
    assert_eq!(
        insn.operand(1),
        Operand::Mem(MemRef {
            base: Some(EBP as u8),
            index: None,
            scale: 0,
            disp: (-8i32) as u32,
            size: 4,
        })
    );
    assert_eq!(insn.len as usize, code.len());
    assert_eq!(insn.next(), CODE + code.len() as u32);
    assert!(!insn.ends_block());

    let code = asm(|a| a.je(CODE as u64 + 0x100));
    let (_, mem) = guest(&code);
    let insn = describe(&mem, CODE).expect("decodes");
    assert_eq!(insn.kind, Kind::Jcc);
    assert_eq!(insn.cond, Some(4));
    assert_eq!(insn.operand(0), Operand::Rel(CODE + 0x100));
    assert!(insn.ends_block());

    let code = [0x66, 0x6a, 0x05]; // push word 5
    let (_, mem) = guest(&code);
    let insn = describe(&mem, CODE).expect("decodes");
    assert_eq!((insn.kind, insn.osize), (Kind::Push, 2));
}

#[test]
fn describe_reports_the_fault_an_instruction_raises() {
    let cases: &[(&str, &[u8], FaultKind)] = &[
        (
            "addr-size prefix",
            &[0x67, 0x8b, 0x07],
            FaultKind::InvalidOpcode,
        ),
        ("fld st0 (x87)", &[0xd9, 0xc0], FaultKind::InvalidOpcode),
        ("ud2", &[0x0f, 0x0b], FaultKind::InvalidOpcode),
        ("ret with 0x66", &[0x66, 0xc3], FaultKind::InvalidOpcode),
        ("hlt", &[0xf4], FaultKind::GeneralProtection),
        ("int 0x21", &[0xcd, 0x21], FaultKind::GeneralProtection),
        ("int3", &[0xcc], FaultKind::Breakpoint),
        (
            "movsd xmm0, xmm1 (SSE)",
            &[0xf2, 0x0f, 0x10, 0xc1],
            FaultKind::InvalidOpcode,
        ),
    ];
    for (name, code, want) in cases {
        let (cpu, mem) = guest(code);
        assert_eq!(describe(&mem, CODE).err(), Some(*want), "{name}");
        assert_eq!(stores_at(&mem, CODE, &cpu.regs, 0x202), None, "{name}");
    }
}

/// iced-x86's flag set as EFLAGS bits.
fn eflags_bits(f: u32) -> u32 {
    [
        (RflagsBits::OF, OF),
        (RflagsBits::SF, SF),
        (RflagsBits::ZF, ZF),
        (RflagsBits::AF, AF),
        (RflagsBits::CF, CF),
        (RflagsBits::PF, PF),
        (RflagsBits::DF, DF),
    ]
    .iter()
    .filter(|(theirs, _)| f & theirs != 0)
    .fold(0, |acc, (_, b)| acc | b)
}

/// The instruction `code` as we describe it and as iced-x86 decodes it, with the flags
/// iced's tables say it writes and leaves undefined.
fn with_iced(code: &[u8]) -> (vm::cpu::Insn, iced_x86::Instruction, u32, u32) {
    let tracked = OF | SF | ZF | AF | CF | PF | DF;
    let (_, mem) = guest(code);
    let insn = describe(&mem, CODE).expect("decodes");
    let iced = Decoder::with_ip(32, code, CODE as u64, DecoderOptions::NONE).decode();
    let written = eflags_bits(iced.rflags_modified()) & tracked;
    let undefined = eflags_bits(iced.rflags_undefined()) & tracked;
    (insn, iced, written, undefined)
}

/// An immediate shift count narrows the undefined flags as iced-x86's per-encoding tables
/// do (by 1: OF is defined).
#[test]
fn undefined_flags_of_immediate_shifts_match_iced_x86s_tables() {
    let cases: Vec<Vec<u8>> = vec![
        asm(|a| a.shl(eax, 1)),
        asm(|a| a.shl(eax, 5)),
        asm(|a| a.shr(byte_ptr(ebx), 1)),
        asm(|a| a.sar(eax, 31)),
        asm(|a| a.rol(eax, 1)),
        asm(|a| a.ror(ax, 3)),
        asm(|a| a.rcl(eax, 1)),
        asm(|a| a.rcr(eax, 7)),
        asm(|a| a.shld(eax, ebx, 1)),
        asm(|a| a.shrd(eax, ebx, 9)),
        asm(|a| a.shl(eax, cl)),
        asm(|a| a.add(eax, 1)),
    ];
    let mut mismatches = Vec::new();
    for code in cases {
        let (insn, iced, _, undefined) = with_iced(&code);
        if insn.flags_undefined() != undefined {
            mismatches.push(format!(
                "{iced}: undefined {:#x}, iced-x86 {undefined:#x}",
                insn.flags_undefined()
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn declared_flags_match_iced_x86s_tables() {
    let cases: Vec<Vec<u8>> = vec![
        asm(|a| a.add(eax, ebx)),
        asm(|a| a.adc(eax, ebx)),
        asm(|a| a.sub(eax, 1)),
        asm(|a| a.sbb(eax, ebx)),
        asm(|a| a.cmp(eax, ebx)),
        asm(|a| a.and(eax, ebx)),
        asm(|a| a.or(eax, ebx)),
        asm(|a| a.xor(eax, ebx)),
        asm(|a| a.test(eax, ebx)),
        asm(|a| a.inc(eax)),
        asm(|a| a.dec(eax)),
        asm(|a| a.neg(eax)),
        asm(|a| a.not(eax)),
        asm(|a| a.mul(ebx)),
        asm(|a| a.imul_2(eax, ebx)),
        asm(|a| a.div(ebx)),
        asm(|a| a.idiv(ebx)),
        asm(|a| a.shl(eax, cl)),
        asm(|a| a.shr(eax, cl)),
        asm(|a| a.sar(eax, cl)),
        asm(|a| a.rol(eax, cl)),
        asm(|a| a.ror(eax, cl)),
        asm(|a| a.rcl(eax, cl)),
        asm(|a| a.rcr(eax, cl)),
        asm(|a| a.shld(eax, ebx, cl)),
        asm(|a| a.shrd(eax, ebx, cl)),
        asm(|a| a.bt(eax, ebx)),
        asm(|a| a.bts(eax, ebx)),
        asm(|a| a.bsf(eax, ebx)),
        asm(|a| a.bsr(eax, ebx)),
        asm(|a| a.mov(eax, ebx)),
        asm(|a| a.lea(eax, dword_ptr(ebx + 4))),
        asm(|a| a.sete(al)),
        asm(|a| a.cmove(eax, ebx)),
        asm(|a| a.push(eax)),
        asm(|a| a.popfd()),
        asm(|a| a.cmpsb()),
        asm(|a| a.scasb()),
        asm(|a| a.stosb()),
        asm(|a| a.cld()),
        asm(|a| a.std()),
        asm(|a| a.clc()),
        asm(|a| a.stc()),
        asm(|a| a.cmc()),
        asm(|a| a.sahf()),
        asm(|a| a.lahf()),
    ];
    let mut mismatches = Vec::new();
    for code in cases {
        let (insn, iced, written, undefined) = with_iced(&code);
        let k = insn.kind;
        if k.flags_written() != written || k.flags_undefined() != undefined {
            mismatches.push(format!(
                "{iced}: {} declares written {:#x} undefined {:#x}, iced-x86 {written:#x} {undefined:#x}",
                k.name(),
                k.flags_written(),
                k.flags_undefined()
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn every_kind_has_a_name_and_undefined_flags_are_written_ones() {
    for &k in Kind::ALL {
        assert!(!k.name().is_empty());
        assert_eq!(
            k.flags_undefined() & !k.flags_written(),
            0,
            "{}: undefined flags it does not write",
            k.name()
        );
    }
}
