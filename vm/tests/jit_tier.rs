//! The JIT tier beyond the conformance suite (which runs every CPU test on it): host code
//! actually runs, translations are shared by bytes and never across different code, budgets
//! and faults are exact inside host code and regions, a store into any block of a region
//! drops it, the block-wise cross-check catches a disagreement, and random programs end
//! as on the interpreter.
#![cfg(feature = "jit")]

mod cpu_common;

use std::sync::Arc;

use cpu_common::*;
use proptest::prelude::*;
use vm::cpu::tier::{Heat, Translator};
use vm::engine::lockstep::Lockstep;

fn jit() -> Arc<dyn Translator> {
    vm::engine::registry::new_jit().expect("the JIT runs on this host")
}

/// The interpreter with `jit` as its tier, at [`CODE`], blocks translated at `heat`.
fn tiered(jit: &Arc<dyn Translator>, heat: Heat) -> Cpu {
    let mut c = Cpu::with_tier_at(jit.clone(), heat);
    c.eip = CODE;
    c.regs[ESP] = INITIAL_ESP;
    c
}

/// Sums 1..=n in a loop of two blocks, then `int 0x80`.
fn sum_loop(n: u32) -> Vec<u8> {
    asm(|a| {
        let mut top = a.create_label();
        let mut done = a.create_label();
        a.mov(ecx, n)?;
        a.xor(eax, eax)?;
        a.set_label(&mut top)?;
        a.add(eax, ecx)?;
        a.mov(dword_ptr(DATA), eax)?;
        a.dec(ecx)?;
        a.jz(done)?;
        a.jmp(top)?;
        a.set_label(&mut done)?;
        a.int(0x80)
    })
}

#[test]
fn hot_blocks_run_as_host_code() {
    let j = jit();
    let mut mem = memory_with(&sum_loop(10_000));
    let mut cpu = tiered(&j, Heat::DEFAULT);
    assert_eq!(cpu.run(&mut mem, u64::MAX), Stop::Syscall);
    assert_eq!(cpu.regs[EAX], 50_005_000);
    assert_eq!(mem.read_u32(DATA).unwrap(), 50_005_000);
    // 2 + 5 per iteration (the last one skips the jmp) + int.
    assert_eq!(cpu.insns_retired(), 2 + 5 * 10_000 - 1 + 1);
    let s = j.stats();
    assert!(s.compiled >= 1, "{s:?}");
    // Blocks compile at their 1000th start: most iterations ran as host code.
    assert!(cpu.native_retired() > 40_000, "{}", cpu.native_retired());
}

#[test]
fn translations_are_shared_by_bytes_and_only_by_bytes() {
    let j = jit();
    let run = |code: &[u8]| {
        let mut mem = memory_with(code);
        let mut cpu = tiered(&j, Heat::AT_ONCE);
        assert_eq!(cpu.run(&mut mem, u64::MAX), Stop::Syscall);
        cpu.regs[EAX]
    };
    assert_eq!(run(&sum_loop(100)), 5050);
    let first = j.stats();
    // The same program in another address space: nothing compiled, everything reused.
    assert_eq!(run(&sum_loop(100)), 5050);
    let second = j.stats();
    assert_eq!(second.compiled, first.compiled);
    assert!(second.cache_hits > first.cache_hits, "{second:?}");
    // Other code at the same addresses (another immediate): compiled anew, right answer.
    assert_eq!(run(&sum_loop(10)), 55);
    assert!(j.stats().compiled > second.compiled);
}

#[test]
fn budgets_end_exactly_where_the_interpreter_ends() {
    let code = sum_loop(50);
    let j = jit();
    for n in [1u64, 2, 3, 6, 7, 8, 50, 99, 100, 101, 177, 250] {
        let mut mem_i = memory_with(&code);
        let mut interp = start_cpu();
        let stop_i = interp.run(&mut mem_i, n);
        let mut mem_j = memory_with(&code);
        let mut cpu = tiered(&j, Heat::AT_ONCE);
        let stop_j = cpu.run(&mut mem_j, n);
        assert_eq!(stop_j, stop_i, "budget {n}");
        assert_eq!(
            (cpu.regs, cpu.eip, cpu.eflags(), cpu.insns_retired()),
            (
                interp.regs,
                interp.eip,
                interp.eflags(),
                interp.insns_retired()
            ),
            "budget {n}"
        );
    }
}

#[test]
fn a_fault_in_host_code_leaves_the_state_before_the_instruction() {
    let code = asm(|a| {
        a.mov(eax, 1)?;
        a.push(eax)?;
        a.add(ebx, 7)?;
        a.mov(ecx, dword_ptr(UNMAPPED))?;
        a.mov(edx, 3)?;
        a.int(0x80)
    });
    let mut mem = memory_with(&code);
    let mut cpu = tiered(&jit(), Heat::AT_ONCE);
    let stop = cpu.run(&mut mem, u64::MAX);
    // mov eax (5) + push (1) + add ebx, imm8 (3).
    let at = CODE + 9;
    assert_eq!(
        stop,
        Stop::Fault(Fault {
            kind: FaultKind::Page(MemFault {
                addr: UNMAPPED,
                write: false
            }),
            eip: at
        })
    );
    assert_eq!(cpu.eip, at);
    assert_eq!(cpu.insns_retired(), 3);
    assert_eq!(cpu.regs[EAX], 1);
    assert_eq!(cpu.regs[EBX], 7);
    assert_eq!(cpu.regs[ECX], 0);
    assert_eq!(cpu.regs[ESP], INITIAL_ESP - 4);
    assert_eq!(mem.read_u32(INITIAL_ESP - 4).unwrap(), 1);
    // The flags of the add: not zero, not negative.
    assert_eq!(cpu.eflags() & (ZF | SF | CF), 0);
    assert_eq!(cpu.native_retired(), 3);
}

#[test]
fn a_store_into_another_block_of_a_region_drops_the_region() {
    // Block A loops back through block B, which adds an immediate; between two runs the
    // kernel (here: the test) rewrites B's immediate. A's host code covers B.
    let code = asm(|a| {
        let mut top = a.create_label();
        let mut body = a.create_label();
        let mut done = a.create_label();
        a.mov(ecx, 4)?;
        a.set_label(&mut top)?;
        a.dec(ecx)?;
        a.js(done)?;
        a.jmp(body)?;
        a.set_label(&mut done)?;
        a.int(0x80)?;
        a.set_label(&mut body)?;
        a.add(eax, 0x1122_3344)?;
        a.jmp(top)
    });
    // The immediate of `add eax, 0x11223344`.
    let at = code
        .windows(4)
        .position(|w| w == [0x44, 0x33, 0x22, 0x11])
        .expect("add eax, imm32");
    let mut mem = memory_with(&code);
    let mut cpu = tiered(&jit(), Heat::AT_ONCE);
    assert_eq!(cpu.run(&mut mem, u64::MAX), Stop::Syscall);
    assert_eq!(cpu.regs[EAX], 4 * 0x1122_3344);
    // add eax, 0x11223344 -> add eax, 0x11223345; run the loop again.
    mem.write_u8(CODE + at as u32, 0x45).unwrap();
    cpu.regs[EAX] = 0;
    cpu.regs[ECX] = 4;
    cpu.eip = CODE + 5;
    assert_eq!(cpu.run(&mut mem, u64::MAX), Stop::Syscall);
    assert_eq!(cpu.regs[EAX], 4 * 0x1122_3345);
}

#[test]
fn the_block_wise_cross_check_reports_a_disagreement() {
    let code = sum_loop(100);
    let j = jit();
    let a = tiered(&j, Heat::AT_ONCE);
    // B starts with another EBX (which the program never writes): the first block's
    // compare must fail.
    let mut b = start_cpu();
    b.regs[EBX] = 1;
    let mut mem = memory_with(&code);
    let mut pair = Lockstep::new(Box::new(a), Box::new(b), Default::default()).by_blocks();
    let err = pair.run(&mut mem, u64::MAX).expect_err("a divergence");
    assert!(matches!(err, EngineError::Divergence(_)), "{err}");
    // And the same pair in one state agrees to the end.
    let mut mem = memory_with(&code);
    let mut pair = Lockstep::new(
        Box::new(tiered(&j, Heat::AT_ONCE)),
        Box::new(start_cpu()),
        Default::default(),
    )
    .by_blocks();
    assert_eq!(pair.run(&mut mem, u64::MAX).expect("agree"), Stop::Syscall);
}

/// One instruction of the random programs (all in the translated set, or near it).
#[derive(Debug, Clone)]
enum Op {
    AluRr(u8, u8, u8),
    AluRi(u8, u8, i32),
    AluRm(u8, u8, u16),
    AluMr(u8, u16, u8),
    Mov8(u8, u8),
    Movzx(u8, u16),
    Movsx(u8, u16),
    Lea(u8, u8, i32),
    Push(u8),
    Pop(u8),
    IncDec(bool, u8),
    NegNot(bool, u8),
    Setcc(u8, u8),
    Shl(u8, u8),
    Imul(u8, u8),
    /// A forward Jcc over the next instruction.
    Skip(u8),
}

/// Registers the programs use: not ESP.
const REGS: [AsmRegister32; 7] = [eax, ecx, edx, ebx, ebp, esi, edi];

fn op() -> impl Strategy<Value = Op> {
    let r = 0u8..7;
    let off = (0u16..256).prop_map(|o| o * 4);
    prop_oneof![
        (0u8..7, r.clone(), r.clone()).prop_map(|(k, a, b)| Op::AluRr(k, a, b)),
        (0u8..7, r.clone(), any::<i32>()).prop_map(|(k, a, v)| Op::AluRi(k, a, v)),
        (0u8..7, r.clone(), off.clone()).prop_map(|(k, a, o)| Op::AluRm(k, a, o)),
        (0u8..7, off.clone(), r.clone()).prop_map(|(k, o, a)| Op::AluMr(k, o, a)),
        (0u8..4, 0u8..4).prop_map(|(a, b)| Op::Mov8(a, b)),
        (r.clone(), off.clone()).prop_map(|(a, o)| Op::Movzx(a, o)),
        (r.clone(), off.clone()).prop_map(|(a, o)| Op::Movsx(a, o)),
        (r.clone(), r.clone(), -64i32..64).prop_map(|(a, b, d)| Op::Lea(a, b, d)),
        r.clone().prop_map(Op::Push),
        r.clone().prop_map(Op::Pop),
        (any::<bool>(), r.clone()).prop_map(|(i, a)| Op::IncDec(i, a)),
        (any::<bool>(), r.clone()).prop_map(|(n, a)| Op::NegNot(n, a)),
        (0u8..16, 0u8..4).prop_map(|(c, a)| Op::Setcc(c, a)),
        (r.clone(), 0u8..32).prop_map(|(a, n)| Op::Shl(a, n)),
        (r.clone(), r.clone()).prop_map(|(a, b)| Op::Imul(a, b)),
        (0u8..16).prop_map(Op::Skip),
    ]
}

fn alu(a: &mut CodeAssembler, k: u8, d: AsmRegister32, s: AsmRegister32) -> Result<(), IcedError> {
    match k {
        0 => a.add(d, s),
        1 => a.sub(d, s),
        2 => a.cmp(d, s),
        3 => a.and(d, s),
        4 => a.or(d, s),
        5 => a.xor(d, s),
        _ => a.test(d, s),
    }
}

fn emit(a: &mut CodeAssembler, ops: &[Op]) -> Result<(), IcedError> {
    let low8 = [al, cl, dl, bl];
    let mem = |o: u16| dword_ptr(DATA + o as u32);
    let mut pushed = 0;
    for op in ops {
        match *op {
            Op::AluRr(k, x, y) => alu(a, k, REGS[x as usize], REGS[y as usize])?,
            Op::AluRi(k, x, v) => match k {
                0 => a.add(REGS[x as usize], v)?,
                1 => a.sub(REGS[x as usize], v)?,
                2 => a.cmp(REGS[x as usize], v)?,
                3 => a.and(REGS[x as usize], v)?,
                4 => a.or(REGS[x as usize], v)?,
                5 => a.xor(REGS[x as usize], v)?,
                _ => a.test(REGS[x as usize], v)?,
            },
            Op::AluRm(k, x, o) => match k {
                0 => a.add(REGS[x as usize], mem(o))?,
                1 => a.sub(REGS[x as usize], mem(o))?,
                2 => a.cmp(REGS[x as usize], mem(o))?,
                3 => a.and(REGS[x as usize], mem(o))?,
                4 => a.or(REGS[x as usize], mem(o))?,
                5 => a.xor(REGS[x as usize], mem(o))?,
                _ => a.mov(REGS[x as usize], mem(o))?,
            },
            Op::AluMr(k, o, x) => match k {
                0 => a.add(mem(o), REGS[x as usize])?,
                1 => a.sub(mem(o), REGS[x as usize])?,
                2 => a.cmp(mem(o), REGS[x as usize])?,
                3 => a.and(mem(o), REGS[x as usize])?,
                4 => a.or(mem(o), REGS[x as usize])?,
                5 => a.xor(mem(o), REGS[x as usize])?,
                _ => a.mov(mem(o), REGS[x as usize])?,
            },
            Op::Mov8(x, y) => a.mov(low8[x as usize], low8[y as usize])?,
            Op::Movzx(x, o) => a.movzx(REGS[x as usize], byte_ptr(DATA + o as u32 + 1))?,
            Op::Movsx(x, o) => a.movsx(REGS[x as usize], word_ptr(DATA + o as u32))?,
            Op::Lea(x, y, d) => a.lea(REGS[x as usize], ptr(REGS[y as usize] + d))?,
            Op::Push(x) => {
                a.push(REGS[x as usize])?;
                pushed += 1;
            }
            Op::Pop(x) if pushed > 0 => {
                a.pop(REGS[x as usize])?;
                pushed -= 1;
            }
            Op::Pop(_) => a.nop()?,
            Op::IncDec(true, x) => a.inc(REGS[x as usize])?,
            Op::IncDec(false, x) => a.dec(REGS[x as usize])?,
            Op::NegNot(true, x) => a.neg(REGS[x as usize])?,
            Op::NegNot(false, x) => a.not(REGS[x as usize])?,
            Op::Setcc(c, x) => {
                let r = low8[x as usize];
                match c {
                    0 => a.seto(r)?,
                    1 => a.setno(r)?,
                    2 => a.setb(r)?,
                    3 => a.setae(r)?,
                    4 => a.sete(r)?,
                    5 => a.setne(r)?,
                    6 => a.setbe(r)?,
                    7 => a.seta(r)?,
                    8 => a.sets(r)?,
                    9 => a.setns(r)?,
                    10 => a.setp(r)?,
                    11 => a.setnp(r)?,
                    12 => a.setl(r)?,
                    13 => a.setge(r)?,
                    14 => a.setle(r)?,
                    _ => a.setg(r)?,
                }
            }
            Op::Shl(x, n) => a.shl(REGS[x as usize], n as u32)?,
            Op::Imul(x, y) => a.imul_2(REGS[x as usize], REGS[y as usize])?,
            Op::Skip(c) => {
                let mut over = a.create_label();
                match c {
                    0 => a.jo(over)?,
                    1 => a.jno(over)?,
                    2 => a.jb(over)?,
                    3 => a.jae(over)?,
                    4 => a.je(over)?,
                    5 => a.jne(over)?,
                    6 => a.jbe(over)?,
                    7 => a.ja(over)?,
                    8 => a.js(over)?,
                    9 => a.jns(over)?,
                    10 => a.jp(over)?,
                    11 => a.jnp(over)?,
                    12 => a.jl(over)?,
                    13 => a.jge(over)?,
                    14 => a.jle(over)?,
                    _ => a.jg(over)?,
                }
                a.add(eax, 0x1234)?;
                a.set_label(&mut over)?;
            }
        }
    }
    a.int(0x80)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Random programs run three times over (so the JIT's blocks are hot and its
    /// regions loop) end as on the interpreter: registers, EFLAGS, eip, count, memory.
    #[test]
    fn random_programs_end_as_on_the_interpreter(
        ops in proptest::collection::vec(op(), 1..60),
        seed in proptest::array::uniform8(any::<u32>()),
    ) {
        let code = asm(|a| {
            let mut top = a.create_label();
            a.mov(dword_ptr(DATA + 0x800), 3u32)?;
            a.set_label(&mut top)?;
            emit(a, &ops)?;
            a.dec(dword_ptr(DATA + 0x800))?;
            a.jnz(top)?;
            a.int(0x80)
        });
        let prepare = |cpu: &mut Cpu| {
            for (i, r) in [EAX, ECX, EDX, EBX, EBP, ESI, EDI].iter().enumerate() {
                cpu.regs[*r] = seed[i];
            }
        };
        let data: Vec<u8> = (0..0x400u32).map(|i| (i.wrapping_mul(seed[7]) >> 5) as u8).collect();
        let mut mem_i = memory_with(&code);
        mem_i.write_bytes(DATA, &data).unwrap();
        let mut mem_j = memory_with(&code);
        mem_j.write_bytes(DATA, &data).unwrap();
        let mut interp = start_cpu();
        prepare(&mut interp);
        let mut cpu = tiered(&jit(), Heat::AT_ONCE);
        prepare(&mut cpu);
        // The loop's int 0x80 at the end of each pass stops the run: go on three times.
        for _ in 0..4 {
            let stop_i = interp.run(&mut mem_i, 100_000);
            let stop_j = cpu.run(&mut mem_j, 100_000);
            prop_assert_eq!(stop_j, stop_i);
            prop_assert_eq!(
                (cpu.regs, cpu.eip, cpu.eflags(), cpu.insns_retired()),
                (interp.regs, interp.eip, interp.eflags(), interp.insns_retired())
            );
        }
        let mut a = vec![0u8; 0x900];
        let mut b = vec![0u8; 0x900];
        mem_i.read_bytes(DATA, &mut a).unwrap();
        mem_j.read_bytes(DATA, &mut b).unwrap();
        prop_assert_eq!(a, b);
        let mut sa = vec![0u8; 0x100];
        let mut sb = vec![0u8; 0x100];
        mem_i.read_bytes(INITIAL_ESP - 0x100, &mut sa).unwrap();
        mem_j.read_bytes(INITIAL_ESP - 0x100, &mut sb).unwrap();
        prop_assert_eq!(sa, sb);
        prop_assert!(cpu.native_retired() > 0);
    }
}
