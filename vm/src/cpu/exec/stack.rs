//! PUSH POP PUSHA(D) POPA(D) PUSHF(D) POPF(D) LEAVE ENTER.

use super::Loc;
use crate::cpu::op::{after_store, Exit, Flow, Op};
use crate::cpu::reg::{EBP, ESP};
use crate::cpu::width::Width;
use crate::cpu::Cpu;
use crate::memory::GuestMemory;

/// Pushes `v` as a `W`-sized value.
#[inline(always)]
pub fn push_value<W: Width>(cpu: &mut Cpu, mem: &mut GuestMemory, v: u32) -> Result<(), Exit> {
    let sp = cpu.regs[ESP].wrapping_sub(W::BITS / 8);
    W::store(mem, sp, v)?;
    cpu.regs[ESP] = sp;
    Ok(())
}

/// `push r/m` (`push esp` pushes the value before the decrement).
pub fn push<W: Width, S: Loc>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Flow {
    let v = S::read::<W>(cpu, mem, S::at(cpu, op))?;
    push_value::<W>(cpu, mem, v)?;
    after_store(mem)
}

/// `push imm`.
pub fn push_imm<W: Width>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Flow {
    push_value::<W>(cpu, mem, op.imm)?;
    after_store(mem)
}

/// `pop r/m`. A memory destination's address uses ESP after the increment; `pop esp`
/// leaves ESP = the popped value.
pub fn pop<W: Width, D: Loc>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Flow {
    let sp = cpu.regs[ESP];
    let v = W::load(mem, sp)?;
    cpu.regs[ESP] = sp.wrapping_add(W::BITS / 8);
    let at = D::at(cpu, op);
    if let Err(e) = D::write::<W>(cpu, mem, at, v) {
        cpu.regs[ESP] = sp;
        return Err(e.into());
    }
    D::done(mem)
}

/// `pusha` / `pushad`: all eight registers, ESP as it was before the instruction.
pub fn pusha<W: Width>(cpu: &mut Cpu, mem: &mut GuestMemory, _op: &Op) -> Flow {
    let size = W::BITS / 8;
    let sp = cpu.regs[ESP];
    let low = sp.wrapping_sub(8 * size);
    mem.check_range(low, 8 * size, true)?;
    for (i, &r) in cpu.regs.iter().enumerate() {
        W::store(mem, sp.wrapping_sub((i as u32 + 1) * size), r)?;
    }
    cpu.regs[ESP] = low;
    after_store(mem)
}

/// `popa` / `popad`: the saved ESP slot is skipped.
pub fn popa<W: Width>(cpu: &mut Cpu, mem: &mut GuestMemory, _op: &Op) -> Flow {
    let size = W::BITS / 8;
    let sp = cpu.regs[ESP];
    let mut vals = [0u32; 8];
    for (i, v) in vals.iter_mut().enumerate() {
        *v = W::load(mem, sp.wrapping_add((7 - i as u32) * size))?;
    }
    for (i, &v) in vals.iter().enumerate() {
        if i != ESP {
            W::set(&mut cpu.regs, i as u8, v);
        }
    }
    cpu.regs[ESP] = sp.wrapping_add(8 * size);
    Ok(())
}

/// `pushf` / `pushfd`.
pub fn pushf<W: Width>(cpu: &mut Cpu, mem: &mut GuestMemory, _op: &Op) -> Flow {
    let v = cpu.eflags();
    push_value::<W>(cpu, mem, v)?;
    after_store(mem)
}

/// `popf` / `popfd`: only the user-settable flags change (see [`Cpu::set_eflags`]).
pub fn popf<W: Width>(cpu: &mut Cpu, mem: &mut GuestMemory, _op: &Op) -> Flow {
    let sp = cpu.regs[ESP];
    let v = W::load(mem, sp)?;
    cpu.regs[ESP] = sp.wrapping_add(W::BITS / 8);
    let keep = cpu.eflags() & !W::MASK;
    cpu.set_eflags(keep | v);
    Ok(())
}

/// `leave`: ESP = EBP, then pop EBP.
pub fn leave<W: Width>(cpu: &mut Cpu, mem: &mut GuestMemory, _op: &Op) -> Flow {
    let fp = cpu.regs[EBP];
    let v = W::load(mem, fp)?;
    cpu.regs[ESP] = fp.wrapping_add(W::BITS / 8);
    W::set(&mut cpu.regs, EBP as u8, v);
    Ok(())
}

/// `enter imm16, imm8` (32-bit): `op.imm` = frame size, `op.aux` = nesting level.
pub fn enter(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Flow {
    let level = (op.aux & 31) as u32;
    let sp = cpu.regs[ESP];
    let ebp = cpu.regs[EBP];
    // Everything written lies in [new_sp, sp): check it all first so a fault commits nothing.
    let pushes = 1 + if level > 0 { level } else { 0 };
    let frame = sp.wrapping_sub(4);
    mem.check_range(sp.wrapping_sub(4 * pushes), 4 * pushes, true)?;
    let mut copies = Vec::new();
    for i in 1..level {
        copies.push(mem.read_u32(ebp.wrapping_sub(4 * i))?);
    }
    mem.write_u32(frame, ebp)?;
    let mut p = frame;
    for v in copies {
        p = p.wrapping_sub(4);
        mem.write_u32(p, v)?;
    }
    if level > 0 {
        p = p.wrapping_sub(4);
        mem.write_u32(p, frame)?;
    }
    cpu.regs[EBP] = frame;
    cpu.regs[ESP] = p.wrapping_sub(op.imm);
    after_store(mem)
}
