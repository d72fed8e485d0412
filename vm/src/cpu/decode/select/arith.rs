//! Selectors for arithmetic, logic, multiply/divide, shifts and bit operations.

use super::{arg, reg_rm, w1632, wl, Arg, Selected, INVALID};
use crate::cpu::exec::arith::{self as ar, Alu, Unary};
use crate::cpu::exec::bit::{self, BitOp};
use crate::cpu::exec::shift::{self, Shift};
use crate::cpu::exec::{logic, muldiv, MemLoc, RegLoc};
use crate::cpu::insn::{Insn, Operand};
use crate::cpu::op::{threaded, Op};
use crate::cpu::width::{W16, W32, W8};
use crate::cpu::FaultKind;

/// `op r/m, r`, `op r, r/m`, `op r/m, imm` for an ALU operation `O`.
pub(crate) fn alu<O: Alu>(insn: &Insn, op: &mut Op) -> Selected {
    Ok(match (arg(insn, 0, op)?, arg(insn, 1, op)?) {
        (Arg::Reg(d, w), Arg::Reg(s, _)) => {
            op.r2 = d;
            op.r1 = s;
            wl!(ar::alu_rm_r, w, false, O)
        }
        (Arg::Mem(w), Arg::Reg(s, _)) => {
            op.r1 = s;
            wl!(ar::alu_rm_r, w, true, O)
        }
        (Arg::Reg(d, w), Arg::Mem(_)) => {
            op.r1 = d;
            wl!(ar::alu_r_rm, w, true, O)
        }
        (Arg::Reg(d, w), Arg::Imm(v)) => {
            op.r2 = d;
            op.imm = v;
            wl!(ar::alu_rm_i, w, false, O)
        }
        (Arg::Mem(w), Arg::Imm(v)) => {
            op.imm = v;
            wl!(ar::alu_rm_i, w, true, O)
        }
        _ => return Err(INVALID),
    })
}

/// `xor`: zeroing a 32-bit register (`xor r32, r32` of one register) has its own handler.
pub(crate) fn xor(insn: &Insn, op: &mut Op) -> Selected {
    match (arg(insn, 0, op)?, arg(insn, 1, op)?) {
        (Arg::Reg(d, 4), Arg::Reg(s, 4)) if d == s => {
            op.r1 = d;
            Ok(threaded(logic::zero_r32))
        }
        _ => alu::<logic::Xor>(insn, op),
    }
}

/// `inc`, `dec`, `neg`, `not` of r/m.
pub(crate) fn unary<U: Unary>(insn: &Insn, op: &mut Op) -> Selected {
    Ok(match arg(insn, 0, op)? {
        Arg::Reg(r, w) => {
            op.r2 = r;
            wl!(ar::unary, w, false, U)
        }
        Arg::Mem(w) => wl!(ar::unary, w, true, U),
        Arg::Imm(_) => return Err(INVALID),
    })
}

/// The r/m operand of a one-operand instruction: width and whether it is memory.
fn rm(insn: &Insn, op: &mut Op) -> Result<(u8, bool), FaultKind> {
    match arg(insn, 0, op)? {
        Arg::Reg(r, w) => {
            op.r2 = r;
            Ok((w, false))
        }
        Arg::Mem(w) => Ok((w, true)),
        Arg::Imm(_) => Err(INVALID),
    }
}

/// `mul r/m`.
pub(crate) fn mul(insn: &Insn, op: &mut Op) -> Selected {
    let (w, is_mem) = rm(insn, op)?;
    Ok(wl!(muldiv::mul, w, is_mem))
}

/// `div r/m`.
pub(crate) fn div(insn: &Insn, op: &mut Op) -> Selected {
    let (w, is_mem) = rm(insn, op)?;
    Ok(wl!(muldiv::div, w, is_mem))
}

/// `idiv r/m`.
pub(crate) fn idiv(insn: &Insn, op: &mut Op) -> Selected {
    let (w, is_mem) = rm(insn, op)?;
    Ok(wl!(muldiv::idiv, w, is_mem))
}

/// `imul r/m`, `imul r, r/m`, `imul r, r/m, imm`.
pub(crate) fn imul(insn: &Insn, op: &mut Op) -> Selected {
    if insn.count == 1 {
        let (w, is_mem) = rm(insn, op)?;
        return Ok(wl!(muldiv::imul1, w, is_mem));
    }
    if !matches!(insn.count, 2 | 3) {
        return Err(INVALID);
    }
    let (w, is_mem) = reg_rm(insn, op)?;
    Ok(if insn.count == 3 {
        let Arg::Imm(v) = arg(insn, 2, op)? else {
            return Err(INVALID);
        };
        op.imm = v;
        match (w, is_mem) {
            (2, false) => threaded(muldiv::imul3::<W16, RegLoc>),
            (2, true) => threaded(muldiv::imul3::<W16, MemLoc>),
            (4, false) => threaded(muldiv::imul3::<W32, RegLoc>),
            (4, true) => threaded(muldiv::imul3::<W32, MemLoc>),
            _ => return Err(INVALID),
        }
    } else {
        match (w, is_mem) {
            (2, false) => threaded(muldiv::imul2::<W16, RegLoc>),
            (2, true) => threaded(muldiv::imul2::<W16, MemLoc>),
            (4, false) => threaded(muldiv::imul2::<W32, RegLoc>),
            (4, true) => threaded(muldiv::imul2::<W32, MemLoc>),
            _ => return Err(INVALID),
        }
    })
}

/// Stores a shift count operand: an immediate in `op.imm`, or CL as `op.aux = 1`.
fn shift_count(insn: &Insn, i: usize, op: &mut Op) -> Result<(), FaultKind> {
    match insn.operand(i) {
        Operand::Reg(1, 1) => op.aux = 1,
        Operand::Imm(v) => op.imm = v,
        _ => return Err(INVALID),
    }
    Ok(())
}

/// `shl`/`shr`/`sar`/`rol`/`ror`/`rcl`/`rcr` r/m by an immediate or CL.
pub(crate) fn shift<S: Shift>(insn: &Insn, op: &mut Op) -> Selected {
    let dst = arg(insn, 0, op)?;
    shift_count(insn, 1, op)?;
    Ok(match dst {
        Arg::Reg(r, w) => {
            op.r2 = r;
            wl!(shift::shift, w, false, S)
        }
        Arg::Mem(w) => wl!(shift::shift, w, true, S),
        Arg::Imm(_) => return Err(INVALID),
    })
}

/// `shld` (LEFT) / `shrd` r/m, r, imm/CL.
pub(crate) fn shxd<const LEFT: bool>(insn: &Insn, op: &mut Op) -> Selected {
    let dst = arg(insn, 0, op)?;
    let Arg::Reg(s, _) = arg(insn, 1, op)? else {
        return Err(INVALID);
    };
    op.r1 = s;
    shift_count(insn, 2, op)?;
    let (w, is_mem) = match dst {
        Arg::Reg(d, w) => {
            op.r2 = d;
            (w, false)
        }
        Arg::Mem(w) => (w, true),
        Arg::Imm(_) => return Err(INVALID),
    };
    Ok(match (w, is_mem) {
        (2, false) => threaded(shift::shxd::<W16, RegLoc, LEFT>),
        (2, true) => threaded(shift::shxd::<W16, MemLoc, LEFT>),
        (4, false) => threaded(shift::shxd::<W32, RegLoc, LEFT>),
        (4, true) => threaded(shift::shxd::<W32, MemLoc, LEFT>),
        _ => return Err(INVALID),
    })
}

/// `bt`/`bts`/`btr`/`btc` r/m, r or imm.
pub(crate) fn bit_test<B: BitOp>(insn: &Insn, op: &mut Op) -> Selected {
    let dst = arg(insn, 0, op)?;
    let imm = match arg(insn, 1, op)? {
        Arg::Reg(s, _) => {
            op.r1 = s;
            false
        }
        Arg::Imm(v) => {
            op.imm = v;
            true
        }
        Arg::Mem(_) => return Err(INVALID),
    };
    Ok(match (dst, imm) {
        (Arg::Reg(d, w), false) => {
            op.r2 = d;
            w1632!(bit::bt_reg, w, B, false)
        }
        (Arg::Reg(d, w), true) => {
            op.r2 = d;
            w1632!(bit::bt_reg, w, B, true)
        }
        (Arg::Mem(w), false) => w1632!(bit::bt_mem, w, B, false),
        (Arg::Mem(w), true) => w1632!(bit::bt_mem, w, B, true),
        _ => return Err(INVALID),
    })
}

/// `bsf` (!REV) / `bsr` (REV) r, r/m.
pub(crate) fn bsf<const REV: bool>(insn: &Insn, op: &mut Op) -> Selected {
    let (w, is_mem) = reg_rm(insn, op)?;
    Ok(match (w, is_mem) {
        (2, false) => threaded(bit::bsf::<W16, RegLoc, REV>),
        (2, true) => threaded(bit::bsf::<W16, MemLoc, REV>),
        (4, false) => threaded(bit::bsf::<W32, RegLoc, REV>),
        (4, true) => threaded(bit::bsf::<W32, MemLoc, REV>),
        _ => return Err(INVALID),
    })
}
