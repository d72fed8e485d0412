//! BT BTS BTR BTC (register and immediate bit offsets) and BSF BSR.

use super::Loc;
use crate::cpu::flags::{bit, kind, LazyFlags};
use crate::cpu::op::{after_store, Flow, Op};
use crate::cpu::width::Width;
use crate::cpu::Cpu;
use crate::memory::GuestMemory;

/// What a bit-test instruction does to the tested bit.
pub trait BitOp: 'static {
    const WRITES: bool;
    fn apply(v: u32, m: u32) -> u32;
}

pub struct Bt;
pub struct Bts;
pub struct Btr;
pub struct Btc;

impl BitOp for Bt {
    const WRITES: bool = false;
    #[inline(always)]
    fn apply(v: u32, _m: u32) -> u32 {
        v
    }
}
impl BitOp for Bts {
    const WRITES: bool = true;
    #[inline(always)]
    fn apply(v: u32, m: u32) -> u32 {
        v | m
    }
}
impl BitOp for Btr {
    const WRITES: bool = true;
    #[inline(always)]
    fn apply(v: u32, m: u32) -> u32 {
        v & !m
    }
}
impl BitOp for Btc {
    const WRITES: bool = true;
    #[inline(always)]
    fn apply(v: u32, m: u32) -> u32 {
        v ^ m
    }
}

/// CF = the tested bit; the other flags keep their values (OF SF AF PF are undefined).
#[inline(always)]
fn set_cf(cpu: &mut Cpu, cf: u32) {
    let rest = cpu.flags.bits() & !bit::CF;
    cpu.flags = LazyFlags::fixed(rest | (cf & 1));
}

/// `btx r, r|imm8`: the offset is taken modulo the width.
pub fn bt_reg<W: Width, B: BitOp, const IMM: bool>(
    cpu: &mut Cpu,
    _mem: &mut GuestMemory,
    op: &Op,
) -> Flow {
    let off = if IMM {
        op.imm
    } else {
        W::get(&cpu.regs, op.r1)
    } & (W::BITS - 1);
    let v = W::get(&cpu.regs, op.r2);
    if B::WRITES {
        W::set(&mut cpu.regs, op.r2, B::apply(v, 1 << off));
    }
    set_cf(cpu, v >> off);
    Ok(())
}

/// `btx [m], r|imm8`. A register offset is signed and addresses a bit string starting at
/// the operand (so it can reach memory below and above it); an immediate is taken modulo
/// the width.
pub fn bt_mem<W: Width, B: BitOp, const IMM: bool>(
    cpu: &mut Cpu,
    mem: &mut GuestMemory,
    op: &Op,
) -> Flow {
    let mut addr = op.ea(cpu);
    let off;
    if IMM {
        off = op.imm & (W::BITS - 1);
    } else {
        let raw = W::sext(W::get(&cpu.regs, op.r1)) as i32;
        let units = raw >> W::BITS.trailing_zeros();
        addr = addr.wrapping_add((units as u32).wrapping_mul(W::BITS / 8));
        off = raw as u32 & (W::BITS - 1);
    }
    let v = W::load(mem, addr)?;
    if B::WRITES {
        W::store(mem, addr, B::apply(v, 1 << off))?;
    }
    set_cf(cpu, v >> off);
    if B::WRITES {
        after_store(mem)
    } else {
        Ok(())
    }
}

/// `bsf` (!REV) / `bsr` (REV): a zero source sets ZF and leaves the destination unchanged.
pub fn bsf<W: Width, S: Loc, const REV: bool>(
    cpu: &mut Cpu,
    mem: &mut GuestMemory,
    op: &Op,
) -> Flow {
    let v = S::read::<W>(cpu, mem, S::at(cpu, op))?;
    if v != 0 {
        let i = if REV {
            31 - v.leading_zeros()
        } else {
            v.trailing_zeros()
        };
        W::set(&mut cpu.regs, op.r1, i);
    }
    // ZF = (source == 0); CF OF AF = 0, SF PF from the source (undefined in the SDM).
    cpu.flags = LazyFlags {
        kind: kind::RES | W::IDX,
        a: 0,
        b: 0,
        res: v,
    };
    Ok(())
}
