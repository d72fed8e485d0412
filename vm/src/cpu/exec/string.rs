//! MOVS STOS LODS CMPS SCAS in byte/word/dword forms, with REP / REPE / REPNE.
//!
//! `REP` is 0 (no prefix), 1 (F3: rep / repe) or 2 (F2: repne; on MOVS STOS LODS it acts
//! as rep, as on hardware). A repeated instruction counts as one retired instruction.
//! Each iteration commits ESI/EDI/ECX after its memory access, so a fault mid-way leaves
//! the registers as of the last completed iteration with EIP at the instruction, exactly
//! what hardware does; resuming finishes the job.

use super::arith::{Alu, Cmp};
use crate::cpu::op::{after_store, Flow, Op};
use crate::cpu::reg::{EAX, ECX, EDI, ESI};
use crate::cpu::width::Width;
use crate::cpu::Cpu;
use crate::memory::GuestMemory;

#[inline(always)]
fn step<W: Width>(cpu: &Cpu) -> u32 {
    if cpu.df {
        0u32.wrapping_sub(W::BITS / 8)
    } else {
        W::BITS / 8
    }
}

/// `movs`.
pub fn movs<W: Width, const REP: u8>(cpu: &mut Cpu, mem: &mut GuestMemory, _op: &Op) -> Flow {
    let d = step::<W>(cpu);
    loop {
        if REP != 0 && cpu.regs[ECX] == 0 {
            break;
        }
        let v = W::load(mem, cpu.regs[ESI])?;
        W::store(mem, cpu.regs[EDI], v)?;
        cpu.regs[ESI] = cpu.regs[ESI].wrapping_add(d);
        cpu.regs[EDI] = cpu.regs[EDI].wrapping_add(d);
        if REP == 0 {
            break;
        }
        cpu.regs[ECX] -= 1;
    }
    after_store(mem)
}

/// `stos`.
pub fn stos<W: Width, const REP: u8>(cpu: &mut Cpu, mem: &mut GuestMemory, _op: &Op) -> Flow {
    let d = step::<W>(cpu);
    let v = W::get(&cpu.regs, EAX as u8);
    loop {
        if REP != 0 && cpu.regs[ECX] == 0 {
            break;
        }
        W::store(mem, cpu.regs[EDI], v)?;
        cpu.regs[EDI] = cpu.regs[EDI].wrapping_add(d);
        if REP == 0 {
            break;
        }
        cpu.regs[ECX] -= 1;
    }
    after_store(mem)
}

/// `lods`.
pub fn lods<W: Width, const REP: u8>(cpu: &mut Cpu, mem: &mut GuestMemory, _op: &Op) -> Flow {
    let d = step::<W>(cpu);
    loop {
        if REP != 0 && cpu.regs[ECX] == 0 {
            break;
        }
        let v = W::load(mem, cpu.regs[ESI])?;
        W::set(&mut cpu.regs, EAX as u8, v);
        cpu.regs[ESI] = cpu.regs[ESI].wrapping_add(d);
        if REP == 0 {
            break;
        }
        cpu.regs[ECX] -= 1;
    }
    Ok(())
}

/// Whether a REPE/REPNE loop stops after a comparison.
#[inline(always)]
fn cmp_stops<const REP: u8>(cpu: &Cpu) -> bool {
    match REP {
        1 => !cpu.flags.zf(),
        2 => cpu.flags.zf(),
        _ => true,
    }
}

/// `cmps`: compares [ESI] with [EDI] (flags of [ESI] - [EDI]).
pub fn cmps<W: Width, const REP: u8>(cpu: &mut Cpu, mem: &mut GuestMemory, _op: &Op) -> Flow {
    let d = step::<W>(cpu);
    loop {
        if REP != 0 && cpu.regs[ECX] == 0 {
            break;
        }
        let a = W::load(mem, cpu.regs[ESI])?;
        let b = W::load(mem, cpu.regs[EDI])?;
        Cmp::apply::<W>(&mut cpu.flags, a, b);
        cpu.regs[ESI] = cpu.regs[ESI].wrapping_add(d);
        cpu.regs[EDI] = cpu.regs[EDI].wrapping_add(d);
        if REP == 0 {
            break;
        }
        cpu.regs[ECX] -= 1;
        if cmp_stops::<REP>(cpu) {
            break;
        }
    }
    Ok(())
}

/// `scas`: compares the accumulator with [EDI].
pub fn scas<W: Width, const REP: u8>(cpu: &mut Cpu, mem: &mut GuestMemory, _op: &Op) -> Flow {
    let d = step::<W>(cpu);
    let a = W::get(&cpu.regs, EAX as u8);
    loop {
        if REP != 0 && cpu.regs[ECX] == 0 {
            break;
        }
        let b = W::load(mem, cpu.regs[EDI])?;
        Cmp::apply::<W>(&mut cpu.flags, a, b);
        cpu.regs[EDI] = cpu.regs[EDI].wrapping_add(d);
        if REP == 0 {
            break;
        }
        cpu.regs[ECX] -= 1;
        if cmp_stops::<REP>(cpu) {
            break;
        }
    }
    Ok(())
}
