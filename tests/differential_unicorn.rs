//! Differential tests: the interpreter against unicorn-engine (QEMU's TCG) on random and
//! hand-picked straight-line i386 code. Needs `--features unicorn`.
//!
//! `PROPTEST_CASES` overrides the number of random cases (default 10,000);
//! `DIFF_COMPARE_UNDEFINED=1` also compares the flags the SDM leaves undefined.
#![cfg(feature = "unicorn")]

mod differential_common;

use differential_common::compare::{compare, undefined_flags};
use differential_common::engines::{
    run_interpreter, run_unicorn, trace_unicorn, unicorn_for, Case, MAX_INSNS,
};
use differential_common::gen;
use differential_common::layout::{
    flag, InitialState, CODE, DATA, DATA_RANDOM, ESP_INIT, STACK, STACK_RANDOM,
};
use differential_common::program::Program;
use iced_x86::code_asm::*;
use proptest::prelude::*;
use vm::{Fault, FaultKind, MemFault, Stop};

fn config(default_cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    ProptestConfig {
        cases,
        max_shrink_iters: 4096,
        ..ProptestConfig::default()
    }
}

/// Assembles `body` at [`CODE`] with iced's CodeAssembler.
fn asm(body: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Program {
    let mut a = CodeAssembler::new(32).expect("32-bit assembler");
    body(&mut a).expect("assembling");
    Program::from_bytes(a.assemble(CODE as u64).expect("assemble"))
}

/// A state with the given registers (ESP/EBP are pinned anyway), a recognisable data
/// pattern and a zero stack.
fn state(regs: [u32; 8], eflags: u32) -> InitialState {
    InitialState {
        regs,
        eflags,
        data: (0..DATA_RANDOM).map(|i| (i * 37 + 11) as u8).collect(),
        stack: vec![0; STACK_RANDOM],
    }
}

/// Runs `case` on both engines and compares them. Unicorn is stepped one instruction per
/// `emu_start`: that gives the ECX values the flag mask needs, and exact EFLAGS at faults
/// (one multi-instruction run can report stale flags there, see
/// `unicorn_alone_runs_generated_programs`).
fn check(case: &Case) -> Result<(), String> {
    let (steps, uc) = trace_unicorn(case).map_err(|e| format!("unicorn: {e}"))?;
    let interp = run_interpreter(case);
    // DIFF_COMPARE_UNDEFINED=1 compares undefined flags too (the interpreter means to
    // match QEMU there; a divergence is then a choice, not a bug).
    let undefined = match std::env::var_os("DIFF_COMPARE_UNDEFINED") {
        Some(v) if v == "1" => 0,
        _ => undefined_flags(case, &steps),
    };
    compare(case, &interp, &uc, undefined)
}

// ---- The harness on unicorn alone --------------------------------------------------------

#[test]
fn unicorn_runs_a_tiny_program() {
    let program = asm(|a| {
        a.mov(eax, 6)?;
        a.mov(ecx, 7)?;
        a.imul_2(eax, ecx)?; // 42
        a.push(eax)?;
        a.pop(ebx)?;
        a.lea(esi, dword_ptr(ebx + ebx * 2 + 1))?; // 127
        a.mov(edi, DATA + 16)?;
        a.mov(ecx, 3)?;
        a.rep().stosd()?; // three copies of 42 at DATA+16
        a.mov(dword_ptr(ebp + 4), esi)?;
        a.cmp(esi, 200)?; // 127 - 200: borrow, negative
        a.int(0x80)?;
        a.mov(eax, 1)?; // never reached
        Ok(())
    });
    let end_of_int = program
        .insns
        .iter()
        .find(|i| i.mnemonic() == iced_x86::Mnemonic::Int)
        .unwrap()
        .next_ip() as u32;
    let case = Case {
        program,
        init: state([0; 8], 0),
    };
    let out = run_unicorn(&case).expect("unicorn runs");
    assert_eq!(out.stop, Stop::Syscall);
    assert_eq!(out.eip, end_of_int, "eip points past int 0x80");
    assert_eq!(out.regs, [42, 0, 0, 42, ESP_INIT, DATA, 127, DATA + 28]);
    // 0x7f - 0xc8 = 0xffffffb7: borrow, negative, no nibble borrow, even parity.
    assert_eq!(out.eflags & flag::STATUS, flag::CF | flag::SF | flag::PF);
    let word = |off: usize| u32::from_le_bytes(out.data[off..off + 4].try_into().unwrap());
    assert_eq!([word(4), word(16), word(20), word(24)], [127, 42, 42, 42]);
    assert_eq!(
        word(28),
        u32::from_le_bytes(case.init.data[28..32].try_into().unwrap())
    );
    // The push left 42 just below the initial stack pointer.
    let slot = (ESP_INIT - 4 - STACK) as usize;
    assert_eq!(
        u32::from_le_bytes(out.stack[slot..slot + 4].try_into().unwrap()),
        42
    );
}

#[test]
fn unicorn_stops_at_faults_and_budgets() {
    // Division by zero: a fault at the div, with the state from before it.
    let program = asm(|a| {
        a.mov(eax, 10)?;
        a.xor(ecx, ecx)?;
        a.div(ecx)?;
        a.int(0x80)
    });
    let div_eip = program.insns[2].ip() as u32;
    let out = run_unicorn(&Case {
        program,
        init: state([0; 8], 0),
    })
    .unwrap();
    assert_eq!(
        out.stop,
        Stop::Fault(Fault {
            kind: FaultKind::Divide,
            eip: div_eip
        })
    );
    assert_eq!((out.eip, out.regs[0]), (div_eip, 10));

    // A store to an unmapped page, straddling from the data page's end.
    let program = asm(|a| {
        a.mov(dword_ptr(ebp + 0xffe), eax)?;
        a.int(0x80)
    });
    let out = run_unicorn(&Case {
        program,
        init: state([0; 8], 0),
    })
    .unwrap();
    let page = MemFault {
        addr: DATA + 0x1000,
        write: true,
    };
    assert_eq!(
        out.stop,
        Stop::Fault(Fault {
            kind: FaultKind::Page(page),
            eip: CODE
        })
    );

    // A budget of 2 stops before the third instruction; running on reaches the syscall.
    let program = asm(|a| {
        a.mov(eax, 1)?;
        a.mov(ebx, 2)?;
        a.mov(ecx, 3)?;
        a.int(0x80)
    });
    let third = program.insns[2].ip() as u32;
    let mut uc = unicorn_for(&Case {
        program,
        init: state([0; 8], 0),
    })
    .unwrap();
    assert_eq!(uc.run(2).unwrap(), Stop::InsnLimit);
    assert_eq!((uc.eip(), uc.regs()[1], uc.regs()[3]), (third, 0, 2));
    assert_eq!(uc.run(MAX_INSNS).unwrap(), Stop::Syscall);
    assert_eq!(uc.regs()[1], 3);
}

proptest! {
    #![proptest_config(config(500).clone())]

    /// Generated programs stay inside their memory and end at `int 0x80` (or a divide
    /// fault), and stepping unicorn one instruction at a time gives the same result as one
    /// run — except EFLAGS at a fault: a fault inside a multi-instruction run can leave
    /// unicorn's flags stale (seen: `sar si,1; div bl` faulting reports OF=1, stepping
    /// gives the correct OF=0), which is why the differential tests step.
    #[test]
    fn unicorn_alone_runs_generated_programs(case in gen::case(1, 12)) {
        let (steps, stepped) = trace_unicorn(&case).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut whole = run_unicorn(&case).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let ok_stop = matches!(whole.stop, Stop::Syscall | Stop::Fault(Fault { kind: FaultKind::Divide, .. }));
        prop_assert!(ok_stop, "unexpected stop {:?}", whole.stop);
        prop_assert!(steps.len() >= case.program.insns.len() - 1 || whole.stop != Stop::Syscall);
        if matches!(whole.stop, Stop::Fault(_)) {
            whole.eflags = stepped.eflags;
        }
        prop_assert!(stepped == whole, "stepping and one run differ: {:?}", compare(&case, &stepped, &whole, 0).err());
    }
}

// ---- The interpreter against unicorn ------------------------------------------------------

proptest! {
    #![proptest_config(config(10_000))]

    #[test]
    fn interpreter_matches_unicorn_on_random_sequences(case in gen::case(1, 12)) {
        check(&case).map_err(TestCaseError::fail)?;
    }
}

type Body = fn(&mut CodeAssembler) -> Result<(), IcedError>;

/// Hand-picked sequences whose flag or edge behaviour is easy to get wrong.
fn tricky() -> Vec<(&'static str, [u32; 8], u32, Body)> {
    let cf = flag::CF;
    vec![
        (
            "shl by cl=0 keeps flags",
            [0x8000_0001, 0, 0, 0, 0, 0, 0, 0],
            0,
            |a| {
                a.cmp(eax, 0x8000_0002u32 as i32)?; // sets CF SF
                a.shl(eax, cl)
            },
        ),
        (
            "shl/shr/sar by cl=32 and 33",
            [0x8000_0001, 32, 0x8000_0001, 0x8000_0001, 0, 0, 0, 0],
            0,
            |a| {
                a.shl(eax, cl)?;
                a.inc(ecx)?;
                a.shr(edx, cl)?;
                a.sar(ebx, cl)
            },
        ),
        (
            "8- and 16-bit shifts past the width",
            [0xff, 9, 0xffff, 0x80, 0, 0, 0, 0],
            0,
            |a| {
                a.shl(al, cl)?;
                a.mov(ecx, 17)?;
                a.shr(dx, cl)?;
                a.sar(bl, 7)
            },
        ),
        (
            "rcl/rcr by 1 with CF",
            [0x8000_0000, 0, 1, 0x80, 0, 0, 0, 0],
            cf,
            |a| {
                a.rcl(eax, 1)?;
                a.rcr(edx, 1)?;
                a.rcl(bl, 1)
            },
        ),
        (
            "rcl/rcr by many (mod 9/17)",
            [0x1234_5678, 9, 0xabcd, 0x81, 0, 0, 0, 0],
            cf,
            |a| {
                a.rcl(al, cl)?; // 9 mod 9 = 0: nothing changes
                a.rcr(bl, cl)?;
                a.mov(ecx, 17)?;
                a.rcl(dx, cl)?; // 17 mod 17 = 0
                a.mov(ecx, 31)?;
                a.rcr(eax, cl)?;
                a.rcl(bx, 5)
            },
        ),
        (
            "rol/ror by width",
            [0x81, 8, 0x8001, 0, 0, 0, 0, 0],
            0,
            |a| {
                a.rol(al, cl)?;
                a.ror(dx, 16)?;
                a.ror(ebx, 1)
            },
        ),
        (
            "imul/mul overflow",
            [0x1_0000, 0x1_0000, 0, 0x7fff, 0, 0, 0, 0x80],
            0,
            |a| {
                a.imul_2(eax, ecx)?;
                a.imul_3(bx, bx, 3)?;
                a.mov(eax, 0xffff_ffffu32 as i32)?;
                a.mul(ecx)?;
                a.mov(eax, 0x80)?;
                a.imul(al)
            },
        ),
        (
            "neg 0 and neg INT_MIN",
            [0, 0x8000_0000, 0x80, 0, 0, 0, 0, 0],
            cf,
            |a| {
                a.neg(eax)?;
                a.setc(bl)?;
                a.neg(ecx)?;
                a.seto(bh)?;
                a.neg(dl)
            },
        ),
        (
            "adc/sbb with CF",
            [0xffff_ffff, 0, 0x7fff_ffff, 0, 0, 0, 0, 0],
            cf,
            |a| {
                a.adc(eax, 0)?;
                a.adc(edx, ecx)?;
                a.stc()?;
                a.sbb(ecx, 0)?;
                a.sbb(bl, 0xff)
            },
        ),
        (
            "shld/shrd",
            [0x1234_5678, 31, 0x9abc_def0, 0xdead_beef, 0, 0, 0, 0],
            0,
            |a| {
                a.shld(eax, edx, 4)?;
                a.shrd(ebx, eax, cl)?;
                a.shld(ax, dx, 16)?;
                a.mov(ecx, 0)?;
                a.shrd(dx, bx, cl)?;
                a.shld(dword_ptr(ebp + 8), eax, 1)
            },
        ),
        (
            "bsf/bsr of 0 (destination not compared)",
            [0, 0, 0x8000_0000, 0x10, 0, 0, 0, 0],
            0,
            |a| {
                a.bsf(ebx, eax)?;
                a.setz(cl)?;
                a.mov(ebx, 0)?;
                a.bsr(esi, edx)?;
                a.bsf(di, word_ptr(ebp + 32))
            },
        ),
        (
            "inc/dec keep CF",
            [0xffff_ffff, 0x80, 0, 0, 0, 0, 0, 0],
            cf,
            |a| {
                a.inc(eax)?;
                a.dec(cl)?;
                a.inc(dx)
            },
        ),
        (
            "sign extensions",
            [0x80, 0x8000, 0xffff_8000, 0, 0, 0, 0, 0],
            0,
            |a| {
                a.cbw()?;
                a.cwde()?;
                a.cdq()?;
                a.mov(eax, ecx)?;
                a.cwd()?;
                a.movsx(ebx, ah)?;
                a.movzx(esi, ch)
            },
        ),
        ("div and idiv", [7, 0, 0, 0xffff_fffe, 0, 0, 0, 0], 0, |a| {
            a.mov(eax, -7)?;
            a.cdq()?;
            a.mov(ecx, 2)?;
            a.idiv(ecx)?; // -3 rem -1
            a.mov(eax, 1000)?;
            a.mov(bl, 7)?;
            a.div(bl)
        }),
        (
            "idiv INT_MIN / -1 faults",
            [0x8000_0000, 0xffff_ffff, 0, 0, 0, 0, 0, 0],
            0,
            |a| {
                a.cdq()?;
                a.idiv(ecx)
            },
        ),
        (
            "string ops with DF set",
            [0, 3, 0, 0, DATA + 96, 0, DATA + 100, DATA + 200],
            0,
            |a| {
                a.std()?;
                a.mov(esi, DATA + 96)?;
                a.mov(edi, DATA + 200)?;
                a.rep().movsd()?;
                a.mov(ecx, 0)?;
                a.rep().stosb()?;
                a.cld()?;
                a.mov(ecx, 8)?;
                a.mov(al, (11 + 37 * 5) as u8 as i32)?;
                a.mov(edi, DATA)?;
                a.repne().scasb()?;
                a.mov(esi, DATA)?;
                a.mov(edi, DATA + 1)?;
                a.mov(ecx, 4)?;
                a.repe().cmpsb()
            },
        ),
        ("stack forms", [1, 2, 3, 4, 0, 0, 7, 8], 0, |a| {
            a.pushad()?;
            a.push(esp)?;
            a.pop(dword_ptr(esp))?;
            a.pushfd()?;
            a.pop(eax)?;
            a.popad()?;
            a.mov(ebp, DATA)?;
            a.push(0x0ed5)?;
            a.popfd()
        }),
        (
            "16-bit ops keep upper halves",
            [0x1234_ffff, 0x5678_0001, 0, 0, 0, 0, 0, 0],
            0,
            |a| {
                a.add(ax, cx)?;
                a.inc(cx)?;
                a.mov(dx, -1)?;
                a.xchg(al, ch)?;
                a.lea(si, ptr(eax + ecx * 4 + 0x7fff))
            },
        ),
        (
            "setcc and cmovcc after cmp",
            [5, 7, 0, 0, 0, 0, 0, 0],
            0,
            |a| {
                a.cmp(eax, ecx)?;
                a.setl(bl)?;
                a.setb(bh)?;
                a.setg(dl)?;
                a.seta(dh)?;
                a.cmovle(esi, ecx)?;
                a.cmovge(edi, ecx)
            },
        ),
        (
            "bit strings in memory",
            [100, 0xffff_fff0, 0, 0, 0, 0, 0, 0],
            0,
            |a| {
                a.bt(dword_ptr(ebp), eax)?;
                a.bts(dword_ptr(ebp + 4), 35)?;
                a.btr(word_ptr(ebp + 8), ax)?;
                a.btc(ecx, 31)
            },
        ),
    ]
}

#[test]
fn interpreter_matches_unicorn_on_tricky_sequences() {
    let mut failures = Vec::new();
    for (name, regs, eflags, body) in tricky() {
        let program = asm(|a| {
            body(a)?;
            a.int(0x80)
        });
        let case = Case {
            program,
            init: state(regs, eflags),
        };
        if let Err(report) = check(&case) {
            failures.push(format!("=== {name}{report}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} tricky sequences diverge:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn unicorn_alone_runs_the_tricky_sequences() {
    for (name, regs, eflags, body) in tricky() {
        let program = asm(|a| {
            body(a)?;
            a.int(0x80)
        });
        let case = Case {
            program,
            init: state(regs, eflags),
        };
        let out = run_unicorn(&case).unwrap_or_else(|e| panic!("{name}: {e}"));
        let ok = matches!(
            out.stop,
            Stop::Syscall
                | Stop::Fault(Fault {
                    kind: FaultKind::Divide,
                    ..
                })
        );
        assert!(ok, "{name}: unexpected stop {:?}", out.stop);
    }
}

#[test]
fn unicorn_mirrors_a_cpu_and_copies_memory_back() {
    let program = asm(|a| {
        a.mov(dword_ptr(ebp + 8), 0x1122_3344)?;
        a.add(eax, ebx)?;
        a.int(0x80)
    });
    let init = state([0xffff_ffff, 0, 0, 1, 0, 0, 0, 0], 0);
    let mut mem = init.memory(&program.bytes);
    let mut cpu = vm::Cpu::new();
    cpu.regs = init.regs();
    cpu.eip = CODE;
    cpu.set_eflags(init.eflags());

    // `new` finds the mapped pages itself: code (2), data (1) and stack (2).
    let mut uc = vm::engine::unicorn::UnicornCpu::new(&cpu, &mem).expect("unicorn mirrors the cpu");
    assert_eq!(uc.pages().len(), 5);
    assert_eq!((uc.regs(), uc.eip()), (cpu.regs, cpu.eip));
    assert_eq!(uc.eflags() & flag::COMPARED, init.eflags() & flag::COMPARED);
    assert!(uc.diff_pages(&mem).unwrap().is_empty());

    assert_eq!(uc.run(MAX_INSNS).unwrap(), Stop::Syscall);
    assert_eq!(uc.regs()[0], 0);
    assert_eq!(uc.eflags() & (flag::CF | flag::ZF), flag::CF | flag::ZF);
    let mut word = [0; 4];
    uc.read_mem(DATA + 8, &mut word).unwrap();
    assert_eq!(u32::from_le_bytes(word), 0x1122_3344);
    let diffs = uc.diff_pages(&mem).unwrap();
    assert_eq!(diffs.len(), 1);
    assert_eq!(diffs[0].page_addr, DATA);
    // The pattern byte there was 0x33, so the very first stored byte differs.
    assert_eq!(init.data[8], 0x33);
    assert_eq!(diffs[0].first_diff, Some(DATA + 8));

    uc.copy_back(&mut mem).unwrap();
    assert!(uc.diff_pages(&mem).unwrap().is_empty());
    assert_eq!(mem.read_u32(DATA + 8).unwrap(), 0x1122_3344);
}
