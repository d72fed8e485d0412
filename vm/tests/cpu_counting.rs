//! Exact instruction counting and instruction budgets.

mod cpu_common;
use cpu_common::*;

/// A loop of `n` iterations, 3 instructions each, plus 2 setup and the int.
fn counted_loop(n: u32) -> Guest {
    Guest::with(|a| {
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

#[test]
fn counts_every_instruction() {
    let mut g = counted_loop(1000);
    g.run_to_syscall();
    assert_eq!(g.reg(EAX), 2000);
    assert_eq!(g.cpu.insns_retired(), 2 + 3 * 1000 + 1);
}

#[test]
fn single_steps_exactly_one() {
    let mut g = counted_loop(3);
    let mut steps = 0;
    loop {
        let before = g.cpu.insns_retired();
        let stop = g.cpu.run(&mut g.mem, 1);
        steps += 1;
        match stop {
            Stop::InsnLimit => assert_eq!(g.cpu.insns_retired(), before + 1),
            Stop::Syscall => {
                assert_eq!(g.cpu.insns_retired(), before + 1);
                break;
            }
            s => panic!("{s:?}"),
        }
    }
    assert_eq!(steps, 2 + 3 * 3 + 1);
    assert_eq!(g.reg(EAX), 6);
}

#[test]
fn single_step_eip_sequence() {
    let code = asm(|a| {
        a.mov(eax, 1)?; // 5 bytes
        a.mov(ebx, eax)?; // 2 bytes
        a.push(ebx)?; // 1 byte
        a.int(0x80)
    });
    let mut g = Guest::new(&code);
    let mut eips = vec![g.cpu.eip];
    for _ in 0..3 {
        assert_eq!(g.cpu.run(&mut g.mem, 1), Stop::InsnLimit);
        eips.push(g.cpu.eip);
    }
    assert_eq!(eips, vec![CODE, CODE + 5, CODE + 7, CODE + 8]);
    assert_eq!(g.cpu.run(&mut g.mem, 1), Stop::Syscall);
    assert_eq!(g.cpu.eip, CODE + 10);
}

#[test]
fn budget_stops_mid_block_and_resumes() {
    let mut g = counted_loop(10);
    // Budgets of 4 land in the middle of blocks; the result must not change.
    let mut runs = 0;
    loop {
        let before = g.cpu.insns_retired();
        match g.cpu.run(&mut g.mem, 4) {
            Stop::InsnLimit => assert_eq!(g.cpu.insns_retired(), before + 4),
            Stop::Syscall => break,
            s => panic!("{s:?}"),
        }
        runs += 1;
    }
    assert_eq!(g.reg(EAX), 20);
    assert_eq!(g.cpu.insns_retired(), 2 + 30 + 1);
    assert_eq!(runs, 33 / 4);
}

#[test]
fn zero_budget_runs_nothing() {
    let mut g = counted_loop(10);
    assert_eq!(g.cpu.run(&mut g.mem, 0), Stop::InsnLimit);
    assert_eq!(g.cpu.insns_retired(), 0);
    assert_eq!(g.cpu.eip, CODE);
}

#[test]
fn syscall_resumes_after_int() {
    let mut g = Guest::with(|a| {
        a.mov(eax, 1)?;
        a.int(0x80)?;
        a.add(eax, 10)?;
        a.int(0x80)
    });
    assert_eq!(g.run(), Stop::Syscall);
    assert_eq!(g.cpu.eip, CODE + 7);
    g.cpu.regs[EAX] = 100; // the OS layer's result
    assert_eq!(g.run(), Stop::Syscall);
    assert_eq!(g.reg(EAX), 110);
    assert_eq!(g.cpu.insns_retired(), 4);
}

#[test]
fn long_straight_line_code_spans_several_blocks() {
    // 300 increments: more than one block's worth, crossing no branch.
    let mut g = Guest::with(|a| {
        a.xor(eax, eax)?;
        for _ in 0..300 {
            a.inc(eax)?;
        }
        a.int(0x80)
    });
    g.run_to_syscall();
    assert_eq!(g.reg(EAX), 300);
    assert_eq!(g.cpu.insns_retired(), 302);
}

#[test]
fn fork_clone_runs_independently() {
    let mut g = counted_loop(5);
    assert_eq!(g.cpu.run(&mut g.mem, 7), Stop::InsnLimit);
    let mut child_cpu = g.cpu.clone();
    let mut child_mem = g.mem.clone();
    assert_eq!(child_cpu.run(&mut child_mem, 1000), Stop::Syscall);
    g.run_to_syscall();
    assert_eq!(child_cpu.regs, g.cpu.regs);
    assert_eq!(child_cpu.insns_retired(), g.cpu.insns_retired());
}
