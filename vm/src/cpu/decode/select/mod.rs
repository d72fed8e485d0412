//! Handler selection: the op list's selectors ([`crate::cpu::ops`]), by family. Each takes
//! a decoded [`Insn`], checks that its operand form is one the interpreter runs, fills the
//! [`Op`]'s slots the way the handler reads them, and returns the handler (or the fault
//! the instruction raises).
//!
//! Op layout convention: `r1` = the destination or ModRM.reg register, `r2` = the source
//! or ModRM.rm register, `base/index/scale/disp` = the memory operand, `imm` = the
//! immediate or branch target; for branches `disp` = the fall-through address.

mod arith;
mod control;
mod data;
mod stack;

pub(crate) use arith::*;
pub(crate) use control::*;
pub(crate) use data::*;
pub(crate) use stack::*;

use crate::cpu::insn::{Insn, MemRef, Operand};
use crate::cpu::op::{Op, NO_REG};
use crate::cpu::FaultKind;

/// What a selector returns.
type Selected = Result<crate::cpu::op::Handler, FaultKind>;

const INVALID: FaultKind = FaultKind::InvalidOpcode;

/// An operand as the handlers see it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Arg {
    /// Register number (8-bit: 4-7 = AH CH DH BH) and width in bytes.
    Reg(u8, u8),
    /// The memory operand (already stored in the op), width in bytes.
    Mem(u8),
    Imm(u32),
}

/// Stores a memory operand in the op's slots.
fn fill_mem(m: &MemRef, op: &mut Op) {
    op.base = m.base.unwrap_or(NO_REG);
    op.index = m.index.unwrap_or(NO_REG);
    op.scale = m.scale;
    op.disp = m.disp;
}

/// Operand `i` as a register, memory (stored in `op`) or immediate; anything else does not
/// decode.
fn arg(insn: &Insn, i: usize, op: &mut Op) -> Result<Arg, FaultKind> {
    match insn.operand(i) {
        Operand::Reg(r, w) => Ok(Arg::Reg(r, w)),
        Operand::Mem(m) => {
            fill_mem(&m, op);
            Ok(Arg::Mem(m.size))
        }
        Operand::Imm(v) => Ok(Arg::Imm(v)),
        _ => Err(INVALID),
    }
}

/// `r, r/m` operands: the destination register into `op.r1`, a register source into
/// `op.r2` (a memory source into the address slots); returns the destination's width and
/// whether the source is memory.
fn reg_rm(insn: &Insn, op: &mut Op) -> Result<(u8, bool), FaultKind> {
    let Arg::Reg(d, w) = arg(insn, 0, op)? else {
        return Err(INVALID);
    };
    op.r1 = d;
    match arg(insn, 1, op)? {
        Arg::Reg(s, _) => {
            op.r2 = s;
            Ok((w, false))
        }
        Arg::Mem(_) => Ok((w, true)),
        Arg::Imm(_) => Err(INVALID),
    }
}

/// The condition nibble of a Jcc/SETcc/CMOVcc.
fn cc(insn: &Insn) -> Result<u8, FaultKind> {
    insn.cond.ok_or(INVALID)
}

/// Handler of `$m::$f::<W, extra.., Loc>` for a width in bytes and a register/memory r/m.
macro_rules! wl {
    ($m:ident::$f:ident, $w:expr, $mem:expr $(, $t:ty)*) => {
        match ($w, $mem) {
            (1, false) => threaded($m::$f::<W8 $(, $t)*, RegLoc>),
            (1, true) => threaded($m::$f::<W8 $(, $t)*, MemLoc>),
            (2, false) => threaded($m::$f::<W16 $(, $t)*, RegLoc>),
            (2, true) => threaded($m::$f::<W16 $(, $t)*, MemLoc>),
            (4, false) => threaded($m::$f::<W32 $(, $t)*, RegLoc>),
            (4, true) => threaded($m::$f::<W32 $(, $t)*, MemLoc>),
            _ => return Err(INVALID),
        }
    };
}

/// Handler of `$m::$f::<W, extra..>` for 16- or 32-bit operands.
macro_rules! w1632 {
    ($m:ident::$f:ident, $w:expr $(, $t:tt)*) => {
        match $w {
            2 => threaded($m::$f::<W16 $(, $t)*>),
            4 => threaded($m::$f::<W32 $(, $t)*>),
            _ => return Err(INVALID),
        }
    };
}

/// Handler of `$e` with the const `$c` bound to the condition code `$cc` (0..=15).
macro_rules! by_cc {
    ($cc:expr, $c:ident => $e:expr) => {
        by_cc!(@arms $cc, $c => $e; 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14)
    };
    (@arms $cc:expr, $c:ident => $e:expr; $($n:literal)*) => {
        match $cc & 15 {
            $($n => {
                const $c: u8 = $n;
                threaded($e)
            })*
            _ => {
                const $c: u8 = 15;
                threaded($e)
            }
        }
    };
}

use {by_cc, w1632, wl};
