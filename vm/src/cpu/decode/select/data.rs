//! Selectors for data movement: `mov`, `movzx`/`movsx`, `lea`, `xchg`, `cmovcc`, `setcc`,
//! `bswap`, `xlat`, `cbw`/`cwde`, `cwd`/`cdq`.

use super::{arg, by_cc, cc, fill_mem, reg_rm, w1632, wl, Arg, Selected, INVALID};
use crate::cpu::exec::{misc, mov, MemLoc, RegLoc};
use crate::cpu::insn::{Insn, Operand};
use crate::cpu::op::{threaded, Op};
use crate::cpu::width::{W16, W32, W8};

/// `mov r/m, r`, `mov r, r/m`, `mov r/m, imm`.
pub(crate) fn mov(insn: &Insn, op: &mut Op) -> Selected {
    Ok(match (arg(insn, 0, op)?, arg(insn, 1, op)?) {
        (Arg::Reg(d, w), Arg::Reg(s, _)) => {
            op.r1 = d;
            op.r2 = s;
            wl!(mov::load, w, false)
        }
        (Arg::Reg(d, w), Arg::Mem(_)) => {
            op.r1 = d;
            wl!(mov::load, w, true)
        }
        (Arg::Mem(w), Arg::Reg(s, _)) => {
            op.r1 = s;
            wl!(mov::store, w, true)
        }
        (Arg::Reg(d, w), Arg::Imm(v)) => {
            op.r2 = d;
            op.imm = v;
            wl!(mov::store_imm, w, false)
        }
        (Arg::Mem(w), Arg::Imm(v)) => {
            op.imm = v;
            wl!(mov::store_imm, w, true)
        }
        _ => return Err(INVALID),
    })
}

/// `movzx` (ZX) / `movsx` r16/r32, r/m8 or r/m16.
pub(crate) fn extend<const ZX: bool>(insn: &Insn, op: &mut Op) -> Selected {
    let Arg::Reg(d, wd) = arg(insn, 0, op)? else {
        return Err(INVALID);
    };
    op.r1 = d;
    let (ws, is_mem) = match arg(insn, 1, op)? {
        Arg::Reg(s, ws) => {
            op.r2 = s;
            (ws, false)
        }
        Arg::Mem(ws) => (ws, true),
        Arg::Imm(_) => return Err(INVALID),
    };
    Ok(match (wd, ws, is_mem, ZX) {
        (4, 1, false, true) => threaded(mov::movzx::<W32, W8, RegLoc>),
        (4, 1, true, true) => threaded(mov::movzx::<W32, W8, MemLoc>),
        (4, 2, false, true) => threaded(mov::movzx::<W32, W16, RegLoc>),
        (4, 2, true, true) => threaded(mov::movzx::<W32, W16, MemLoc>),
        (2, 1, false, true) => threaded(mov::movzx::<W16, W8, RegLoc>),
        (2, 1, true, true) => threaded(mov::movzx::<W16, W8, MemLoc>),
        (2, 2, false, true) => threaded(mov::movzx::<W16, W16, RegLoc>),
        (2, 2, true, true) => threaded(mov::movzx::<W16, W16, MemLoc>),
        (4, 1, false, false) => threaded(mov::movsx::<W32, W8, RegLoc>),
        (4, 1, true, false) => threaded(mov::movsx::<W32, W8, MemLoc>),
        (4, 2, false, false) => threaded(mov::movsx::<W32, W16, RegLoc>),
        (4, 2, true, false) => threaded(mov::movsx::<W32, W16, MemLoc>),
        (2, 1, false, false) => threaded(mov::movsx::<W16, W8, RegLoc>),
        (2, 1, true, false) => threaded(mov::movsx::<W16, W8, MemLoc>),
        (2, 2, false, false) => threaded(mov::movsx::<W16, W16, RegLoc>),
        (2, 2, true, false) => threaded(mov::movsx::<W16, W16, MemLoc>),
        _ => return Err(INVALID),
    })
}

/// `lea r16/r32, m`.
pub(crate) fn lea(insn: &Insn, op: &mut Op) -> Selected {
    let Arg::Reg(d, w) = arg(insn, 0, op)? else {
        return Err(INVALID);
    };
    op.r1 = d;
    let Operand::Mem(m) = insn.operand(1) else {
        return Err(INVALID);
    };
    fill_mem(&m, op);
    Ok(w1632!(mov::lea, w))
}

/// `xchg r/m, r` (either order).
pub(crate) fn xchg(insn: &Insn, op: &mut Op) -> Selected {
    Ok(match (arg(insn, 0, op)?, arg(insn, 1, op)?) {
        (Arg::Reg(a, w), Arg::Reg(b, _)) => {
            op.r2 = a;
            op.r1 = b;
            wl!(mov::xchg, w, false)
        }
        (Arg::Mem(w), Arg::Reg(r, _)) | (Arg::Reg(r, _), Arg::Mem(w)) => {
            op.r1 = r;
            wl!(mov::xchg, w, true)
        }
        _ => return Err(INVALID),
    })
}

/// `cmovcc r16/r32, r/m`.
pub(crate) fn cmov(insn: &Insn, op: &mut Op) -> Selected {
    let c = cc(insn)?;
    Ok(match reg_rm(insn, op)? {
        (2, false) => by_cc!(c, C => mov::cmov::<W16, RegLoc, C>),
        (4, false) => by_cc!(c, C => mov::cmov::<W32, RegLoc, C>),
        (2, true) => by_cc!(c, C => mov::cmov::<W16, MemLoc, C>),
        (4, true) => by_cc!(c, C => mov::cmov::<W32, MemLoc, C>),
        _ => return Err(INVALID),
    })
}

/// `setcc r/m8` (`op.aux` = the condition for a register, which the fast forms read).
pub(crate) fn setcc(insn: &Insn, op: &mut Op) -> Selected {
    let c = cc(insn)?;
    Ok(match arg(insn, 0, op)? {
        Arg::Reg(r, 1) => {
            op.r2 = r;
            op.aux = c;
            by_cc!(c, C => mov::setcc::<RegLoc, C>)
        }
        Arg::Mem(1) => by_cc!(c, C => mov::setcc::<MemLoc, C>),
        _ => return Err(INVALID),
    })
}

/// `bswap r32`.
pub(crate) fn bswap(insn: &Insn, op: &mut Op) -> Selected {
    match arg(insn, 0, op)? {
        Arg::Reg(r, 4) => {
            op.r1 = r;
            Ok(threaded(mov::bswap))
        }
        _ => Err(INVALID),
    }
}

/// `xlatb` (its memory operand `[ebx+al]` is implicit in the handler).
pub(crate) fn xlat(_insn: &Insn, _op: &mut Op) -> Selected {
    Ok(threaded(mov::xlat))
}

/// `cbw` / `cwde`.
pub(crate) fn cbw(insn: &Insn, _op: &mut Op) -> Selected {
    Ok(match insn.osize {
        2 => threaded(misc::cbw),
        _ => threaded(misc::cwde),
    })
}

/// `cwd` / `cdq`.
pub(crate) fn cwd(insn: &Insn, _op: &mut Op) -> Selected {
    Ok(match insn.osize {
        2 => threaded(misc::cwd),
        _ => threaded(misc::cdq),
    })
}
