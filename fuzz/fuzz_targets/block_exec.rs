//! Decode and execution of arbitrary code: the interpreter runs up to 64 instructions of
//! the input as code (with a stack and a data page) and stops at a syscall, a fault or the
//! budget, never a panic; a second run from the same state with budget 1 at a time retires
//! exactly as many instructions (budgets are exact).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vm::cpu::reg;
use vm::{Cpu, GuestMemory, Stop};

const CODE: u32 = 0x0804_8000;
const STACK: u32 = 0xbfff_0000;

fn setup(code: &[u8]) -> (Cpu, GuestMemory) {
    let mut mem = GuestMemory::new();
    mem.map(CODE, 0x2000);
    mem.map(STACK, 0x1_0000);
    mem.write_bytes(CODE, code).expect("mapped");
    let mut cpu = Cpu::new();
    cpu.eip = CODE;
    cpu.regs[reg::ESP] = STACK + 0x8000;
    cpu.regs[reg::EBX] = CODE + 0x1000;
    (cpu, mem)
}

fuzz_target!(|data: &[u8]| {
    let code = &data[..data.len().min(0x1000)];
    let (mut cpu, mut mem) = setup(code);
    let stop = cpu.run(&mut mem, 64);
    let whole = cpu.insns_retired();
    // The same code single-stepped stops at the same place after the same count.
    let (mut step, mut mem2) = setup(code);
    let mut last = Stop::InsnLimit;
    while step.insns_retired() < whole && matches!(last, Stop::InsnLimit) {
        last = step.run(&mut mem2, 1);
    }
    if matches!(last, Stop::InsnLimit) && !matches!(stop, Stop::InsnLimit) {
        last = step.run(&mut mem2, 1);
    }
    assert_eq!(step.insns_retired(), whole, "retired counts differ");
    assert_eq!(format!("{last:?}"), format!("{stop:?}"));
    assert_eq!(step.regs, cpu.regs);
    assert_eq!(step.eip, cpu.eip);
});
