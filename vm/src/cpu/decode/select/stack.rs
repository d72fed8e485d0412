//! Selectors for the stack: `push`, `pop`, `pusha`, `popa`, `pushf`, `popf`, `leave`,
//! `enter`. Those without an explicit operand take their width from the operand size.

use super::{arg, Arg, Selected, INVALID};
use crate::cpu::exec::{stack, MemLoc, RegLoc};
use crate::cpu::insn::{Insn, Operand};
use crate::cpu::op::{threaded, Op};
use crate::cpu::width::{W16, W32};

/// `push r/m16/32` or `push imm`.
pub(crate) fn push(insn: &Insn, op: &mut Op) -> Selected {
    Ok(match arg(insn, 0, op)? {
        Arg::Reg(r, w) => {
            op.r2 = r;
            match w {
                2 => threaded(stack::push::<W16, RegLoc>),
                4 => threaded(stack::push::<W32, RegLoc>),
                _ => return Err(INVALID),
            }
        }
        Arg::Mem(w) => match w {
            2 => threaded(stack::push::<W16, MemLoc>),
            4 => threaded(stack::push::<W32, MemLoc>),
            _ => return Err(INVALID),
        },
        Arg::Imm(v) => {
            op.imm = v;
            match insn.osize {
                2 => threaded(stack::push_imm::<W16>),
                _ => threaded(stack::push_imm::<W32>),
            }
        }
    })
}

/// `pop r/m16/32`.
pub(crate) fn pop(insn: &Insn, op: &mut Op) -> Selected {
    Ok(match arg(insn, 0, op)? {
        Arg::Reg(r, w) => {
            op.r2 = r;
            match w {
                2 => threaded(stack::pop::<W16, RegLoc>),
                4 => threaded(stack::pop::<W32, RegLoc>),
                _ => return Err(INVALID),
            }
        }
        Arg::Mem(w) => match w {
            2 => threaded(stack::pop::<W16, MemLoc>),
            4 => threaded(stack::pop::<W32, MemLoc>),
            _ => return Err(INVALID),
        },
        Arg::Imm(_) => return Err(INVALID),
    })
}

/// `pusha` / `pushad`.
pub(crate) fn pusha(insn: &Insn, _op: &mut Op) -> Selected {
    Ok(match insn.osize {
        2 => threaded(stack::pusha::<W16>),
        _ => threaded(stack::pusha::<W32>),
    })
}

/// `popa` / `popad`.
pub(crate) fn popa(insn: &Insn, _op: &mut Op) -> Selected {
    Ok(match insn.osize {
        2 => threaded(stack::popa::<W16>),
        _ => threaded(stack::popa::<W32>),
    })
}

/// `pushf` / `pushfd`.
pub(crate) fn pushf(insn: &Insn, _op: &mut Op) -> Selected {
    Ok(match insn.osize {
        2 => threaded(stack::pushf::<W16>),
        _ => threaded(stack::pushf::<W32>),
    })
}

/// `popf` / `popfd`.
pub(crate) fn popf(insn: &Insn, _op: &mut Op) -> Selected {
    Ok(match insn.osize {
        2 => threaded(stack::popf::<W16>),
        _ => threaded(stack::popf::<W32>),
    })
}

/// `leave` (16- or 32-bit).
pub(crate) fn leave(insn: &Insn, _op: &mut Op) -> Selected {
    Ok(match insn.osize {
        2 => threaded(stack::leave::<W16>),
        _ => threaded(stack::leave::<W32>),
    })
}

/// `enter imm16, imm8`, 32-bit only (`op.imm` = frame size, `op.aux` = nesting level).
pub(crate) fn enter(insn: &Insn, op: &mut Op) -> Selected {
    match (insn.osize, insn.operand(0), insn.operand(1)) {
        (4, Operand::Imm(size), Operand::Imm(level)) => {
            op.imm = size;
            op.aux = level as u8;
            Ok(threaded(stack::enter))
        }
        _ => Err(INVALID),
    }
}
