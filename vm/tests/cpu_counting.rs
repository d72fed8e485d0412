//! Exact instruction counting and instruction budgets.

mod cpu_common;
use cpu_common::*;

/// A loop of `n` iterations, 3 instructions each, plus 2 setup and the int.
fn counted_loop(e: EngineUnderTest, n: u32) -> Guest {
    Guest::with(e, |a| {
        let mut top = a.create_label();
        a.mov(ecx, n)?;
        a.xor(eax, eax)?;
        a.set_label(&mut top)?;
        a.add(eax, 2)?;
        a.dec(ecx)?;
        a.jne(top)?;
        a.int(0x80)
    })
}

fn counts_every_instruction(e: EngineUnderTest) {
    let mut g = counted_loop(e, 1000);
    g.run_to_syscall();
    assert_eq!(g.reg(EAX), 2000);
    assert_eq!(g.retired(), 2 + 3 * 1000 + 1);
}

fn single_steps_exactly_one(e: EngineUnderTest) {
    let mut g = counted_loop(e, 3);
    let mut steps = 0;
    loop {
        let before = g.retired();
        let stop = g.step(1);
        steps += 1;
        match stop {
            Stop::InsnLimit => assert_eq!(g.retired(), before + 1),
            Stop::Syscall => {
                assert_eq!(g.retired(), before + 1);
                break;
            }
            s => panic!("{s:?}"),
        }
    }
    assert_eq!(steps, 2 + 3 * 3 + 1);
    assert_eq!(g.reg(EAX), 6);
}

fn single_step_eip_sequence(e: EngineUnderTest) {
    let code = asm(|a| {
        a.mov(eax, 1)?; // 5 bytes
        a.mov(ebx, eax)?; // 2 bytes
        a.push(ebx)?; // 1 byte
        a.int(0x80)
    });
    let mut g = Guest::new(e, &code);
    let mut eips = vec![g.eip()];
    for _ in 0..3 {
        assert_eq!(g.step(1), Stop::InsnLimit);
        eips.push(g.eip());
    }
    assert_eq!(eips, vec![CODE, CODE + 5, CODE + 7, CODE + 8]);
    assert_eq!(g.step(1), Stop::Syscall);
    assert_eq!(g.eip(), CODE + 10);
}

fn budget_stops_mid_block_and_resumes(e: EngineUnderTest) {
    let mut g = counted_loop(e, 10);
    // Budgets of 4 land in the middle of blocks; the result must not change.
    let mut runs = 0;
    loop {
        let before = g.retired();
        match g.step(4) {
            Stop::InsnLimit => assert_eq!(g.retired(), before + 4),
            Stop::Syscall => break,
            s => panic!("{s:?}"),
        }
        runs += 1;
    }
    assert_eq!(g.reg(EAX), 20);
    assert_eq!(g.retired(), 2 + 30 + 1);
    assert_eq!(runs, 33 / 4);
}

fn zero_budget_runs_nothing(e: EngineUnderTest) {
    let mut g = counted_loop(e, 10);
    assert_eq!(g.step(0), Stop::InsnLimit);
    assert_eq!(g.retired(), 0);
    assert_eq!(g.eip(), CODE);
}

fn syscall_resumes_after_int(e: EngineUnderTest) {
    let mut g = Guest::with(e, |a| {
        a.mov(eax, 1)?;
        a.int(0x80)?;
        a.add(eax, 10)?;
        a.int(0x80)
    });
    assert_eq!(g.run(), Stop::Syscall);
    assert_eq!(g.eip(), CODE + 7);
    g.set_reg(EAX, 100); // the OS layer's result
    assert_eq!(g.run(), Stop::Syscall);
    assert_eq!(g.reg(EAX), 110);
    assert_eq!(g.retired(), 4);
}

fn long_straight_line_code_spans_several_blocks(e: EngineUnderTest) {
    // 300 increments: more than one block's worth, crossing no branch.
    let mut g = Guest::with(e, |a| {
        a.xor(eax, eax)?;
        for _ in 0..300 {
            a.inc(eax)?;
        }
        a.int(0x80)
    });
    g.run_to_syscall();
    assert_eq!(g.reg(EAX), 300);
    assert_eq!(g.retired(), 302);
}

fn fork_clone_runs_independently(e: EngineUnderTest) {
    let mut g = counted_loop(e, 5);
    assert_eq!(g.step(7), Stop::InsnLimit);
    let mut child = g.fork();
    assert_eq!(child.step(1000), Stop::Syscall);
    g.run_to_syscall();
    assert_eq!(child.regs(), g.regs());
    assert_eq!(child.retired(), g.retired());
}

conformance! {
    counts_every_instruction,
    single_steps_exactly_one,
    single_step_eip_sequence,
    budget_stops_mid_block_and_resumes,
    zero_budget_runs_nothing,
    syscall_resumes_after_int,
    long_straight_line_code_spans_several_blocks,
    fork_clone_runs_independently,
}
