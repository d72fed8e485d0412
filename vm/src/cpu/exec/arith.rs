//! ADD ADC SUB SBB CMP, INC DEC NEG, and the generic two-operand ALU handlers.

use super::Loc;
use crate::cpu::flags::{kind, LazyFlags};
use crate::cpu::op::{Flow, Op};
use crate::cpu::width::Width;
use crate::cpu::Cpu;
use crate::memory::GuestMemory;

/// A two-operand ALU operation `a op b`, recording its flags.
pub trait Alu: 'static {
    /// False for CMP and TEST, which only set flags.
    const WRITES: bool;
    /// Returns the result masked to the width; `f` holds the flags before and after.
    fn apply<W: Width>(f: &mut LazyFlags, a: u32, b: u32) -> u32;
}

pub struct Add;
pub struct Adc;
pub struct Sub;
pub struct Sbb;
pub struct Cmp;

#[inline(always)]
fn record<W: Width>(f: &mut LazyFlags, k: u8, a: u32, b: u32, res: u32) -> u32 {
    *f = LazyFlags {
        kind: k | W::IDX,
        a,
        b,
        res,
    };
    res & W::MASK
}

impl Alu for Add {
    const WRITES: bool = true;
    #[inline(always)]
    fn apply<W: Width>(f: &mut LazyFlags, a: u32, b: u32) -> u32 {
        record::<W>(f, kind::ADD, a, b, a.wrapping_add(b))
    }
}

impl Alu for Adc {
    const WRITES: bool = true;
    #[inline(always)]
    fn apply<W: Width>(f: &mut LazyFlags, a: u32, b: u32) -> u32 {
        if f.cf() {
            record::<W>(f, kind::ADC, a, b, a.wrapping_add(b).wrapping_add(1))
        } else {
            record::<W>(f, kind::ADD, a, b, a.wrapping_add(b))
        }
    }
}

impl Alu for Sub {
    const WRITES: bool = true;
    #[inline(always)]
    fn apply<W: Width>(f: &mut LazyFlags, a: u32, b: u32) -> u32 {
        record::<W>(f, kind::SUB, a, b, a.wrapping_sub(b))
    }
}

impl Alu for Sbb {
    const WRITES: bool = true;
    #[inline(always)]
    fn apply<W: Width>(f: &mut LazyFlags, a: u32, b: u32) -> u32 {
        if f.cf() {
            record::<W>(f, kind::SBB, a, b, a.wrapping_sub(b).wrapping_sub(1))
        } else {
            record::<W>(f, kind::SUB, a, b, a.wrapping_sub(b))
        }
    }
}

impl Alu for Cmp {
    const WRITES: bool = false;
    #[inline(always)]
    fn apply<W: Width>(f: &mut LazyFlags, a: u32, b: u32) -> u32 {
        record::<W>(f, kind::SUB, a, b, a.wrapping_sub(b))
    }
}

/// `op r/m, r` (also `op r, r` with the destination in `r2`).
pub fn alu_rm_r<W: Width, O: Alu, D: Loc>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Flow {
    let at = D::at(cpu, op);
    let a = D::read::<W>(cpu, mem, at)?;
    let b = W::get(&cpu.regs, op.r1);
    let mut f = cpu.flags;
    let r = O::apply::<W>(&mut f, a, b);
    if O::WRITES {
        D::write::<W>(cpu, mem, at, r)?;
        cpu.flags = f;
        return D::done(mem);
    }
    cpu.flags = f;
    Ok(())
}

/// `op r, r/m`.
pub fn alu_r_rm<W: Width, O: Alu, S: Loc>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Flow {
    let b = S::read::<W>(cpu, mem, S::at(cpu, op))?;
    let a = W::get(&cpu.regs, op.r1);
    let r = O::apply::<W>(&mut cpu.flags, a, b);
    if O::WRITES {
        W::set(&mut cpu.regs, op.r1, r);
    }
    Ok(())
}

/// `op r/m, imm`.
pub fn alu_rm_i<W: Width, O: Alu, D: Loc>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Flow {
    let at = D::at(cpu, op);
    let a = D::read::<W>(cpu, mem, at)?;
    let mut f = cpu.flags;
    let r = O::apply::<W>(&mut f, a, op.imm & W::MASK);
    if O::WRITES {
        D::write::<W>(cpu, mem, at, r)?;
        cpu.flags = f;
        return D::done(mem);
    }
    cpu.flags = f;
    Ok(())
}

/// A one-operand read-modify-write operation.
pub trait Unary: 'static {
    fn apply<W: Width>(f: &mut LazyFlags, a: u32) -> u32;
}

pub struct Inc;
pub struct Dec;
pub struct Neg;

impl Unary for Inc {
    #[inline(always)]
    fn apply<W: Width>(f: &mut LazyFlags, a: u32) -> u32 {
        let cf = f.cf() as u32;
        record::<W>(f, kind::INC, a, cf, a.wrapping_add(1))
    }
}

impl Unary for Dec {
    #[inline(always)]
    fn apply<W: Width>(f: &mut LazyFlags, a: u32) -> u32 {
        let cf = f.cf() as u32;
        record::<W>(f, kind::DEC, a, cf, a.wrapping_sub(1))
    }
}

impl Unary for Neg {
    #[inline(always)]
    fn apply<W: Width>(f: &mut LazyFlags, a: u32) -> u32 {
        record::<W>(f, kind::SUB, 0, a, 0u32.wrapping_sub(a))
    }
}

/// `op r/m` for INC DEC NEG NOT.
pub fn unary<W: Width, U: Unary, D: Loc>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Flow {
    let at = D::at(cpu, op);
    let a = D::read::<W>(cpu, mem, at)?;
    let mut f = cpu.flags;
    let r = U::apply::<W>(&mut f, a);
    D::write::<W>(cpu, mem, at, r)?;
    cpu.flags = f;
    D::done(mem)
}
