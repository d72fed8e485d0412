//! MUL IMUL (one, two and three operands) DIV IDIV.
//!
//! MUL/IMUL set CF = OF = "the high half is significant"; SF ZF PF come from the low half
//! and AF = 0 (undefined in the SDM; QEMU does the same). DIV/IDIV leave the flags alone.

use super::Loc;
use crate::cpu::flags::{bit, kind, LazyFlags};
use crate::cpu::op::{Exit, Flow, Op};
use crate::cpu::reg::{EAX, EDX};
use crate::cpu::width::Width;
use crate::cpu::{Cpu, FaultKind};
use crate::memory::GuestMemory;

#[inline(always)]
fn mul_flags<W: Width>(cpu: &mut Cpu, low: u32, overflow: bool) {
    cpu.flags = LazyFlags {
        kind: kind::RES | W::IDX,
        a: if overflow { bit::CF | bit::OF } else { 0 },
        b: 0,
        res: low & W::MASK,
    };
}

/// Splits a double-width product into the accumulator registers (AX, DX:AX or EDX:EAX).
#[inline(always)]
fn put_wide<W: Width>(cpu: &mut Cpu, p: u64) {
    if W::BITS == 8 {
        W::set(&mut cpu.regs, 0, p as u32);
        W::set(&mut cpu.regs, 4, (p >> 8) as u32);
    } else {
        W::set(&mut cpu.regs, EAX as u8, p as u32);
        W::set(&mut cpu.regs, EDX as u8, (p >> W::BITS) as u32);
    }
}

/// The dividend: AX, DX:AX or EDX:EAX.
#[inline(always)]
fn get_wide<W: Width>(cpu: &Cpu) -> u64 {
    if W::BITS == 8 {
        (cpu.regs[EAX] & 0xffff) as u64
    } else {
        ((W::get(&cpu.regs, EDX as u8) as u64) << W::BITS) | W::get(&cpu.regs, EAX as u8) as u64
    }
}

/// `mul r/m`.
pub fn mul<W: Width, S: Loc>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Flow {
    let b = S::read::<W>(cpu, mem, S::at(cpu, op))? as u64;
    let a = W::get(&cpu.regs, EAX as u8) as u64;
    let p = a * b;
    put_wide::<W>(cpu, p);
    mul_flags::<W>(cpu, p as u32, p >> W::BITS != 0);
    Ok(())
}

/// `imul r/m` (one operand).
pub fn imul1<W: Width, S: Loc>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Flow {
    let b = W::sext(S::read::<W>(cpu, mem, S::at(cpu, op))?) as i32 as i64;
    let a = W::sext(W::get(&cpu.regs, EAX as u8)) as i32 as i64;
    let p = a * b;
    put_wide::<W>(cpu, p as u64);
    let low = p as u32 & W::MASK;
    mul_flags::<W>(cpu, low, W::sext(low) as i32 as i64 != p);
    Ok(())
}

#[inline(always)]
fn imul_into<W: Width>(cpu: &mut Cpu, r: u8, a: u32, b: u32) {
    let p = (W::sext(a) as i32 as i64) * (W::sext(b) as i32 as i64);
    let low = p as u32 & W::MASK;
    W::set(&mut cpu.regs, r, low);
    mul_flags::<W>(cpu, low, W::sext(low) as i32 as i64 != p);
}

/// `imul r, r/m`.
pub fn imul2<W: Width, S: Loc>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Flow {
    let b = S::read::<W>(cpu, mem, S::at(cpu, op))?;
    let a = W::get(&cpu.regs, op.r1);
    imul_into::<W>(cpu, op.r1, a, b);
    Ok(())
}

/// `imul r, r/m, imm`.
pub fn imul3<W: Width, S: Loc>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Flow {
    let a = S::read::<W>(cpu, mem, S::at(cpu, op))?;
    imul_into::<W>(cpu, op.r1, a, op.imm);
    Ok(())
}

const DIVIDE: Exit = Exit::Fault(FaultKind::Divide);

/// `div r/m`: divide by zero or a quotient that does not fit raise a divide fault.
pub fn div<W: Width, S: Loc>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Flow {
    let d = S::read::<W>(cpu, mem, S::at(cpu, op))? as u64;
    if d == 0 {
        return Err(DIVIDE);
    }
    let n = get_wide::<W>(cpu);
    let q = n / d;
    if q > W::MASK as u64 {
        return Err(DIVIDE);
    }
    let r = n % d;
    put_wide::<W>(cpu, q | (r << W::BITS));
    Ok(())
}

/// `idiv r/m`: quotients truncate toward zero; the remainder has the dividend's sign.
pub fn idiv<W: Width, S: Loc>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Flow {
    let d = W::sext(S::read::<W>(cpu, mem, S::at(cpu, op))?) as i32 as i64;
    if d == 0 {
        return Err(DIVIDE);
    }
    let raw = get_wide::<W>(cpu);
    let sh = 64 - 2 * W::BITS;
    let n = ((raw << sh) as i64) >> sh;
    let (q, r) = match (n.checked_div(d), n.checked_rem(d)) {
        (Some(q), Some(r)) => (q, r),
        _ => return Err(DIVIDE),
    };
    let min = -(1i64 << (W::BITS - 1));
    let max = (1i64 << (W::BITS - 1)) - 1;
    if q < min || q > max {
        return Err(DIVIDE);
    }
    let q = q as u64 & W::MASK as u64;
    let r = r as u64 & W::MASK as u64;
    put_wide::<W>(cpu, q | (r << W::BITS));
    Ok(())
}
