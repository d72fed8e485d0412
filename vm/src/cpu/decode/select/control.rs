//! Selectors for control transfer (`jmp`, `jcc`, `call`, `ret`, `loop`, `jecxz`, `int`),
//! string instructions, the flag instructions and the ones that only fault.

use super::{arg, by_cc, cc, Arg, Selected, INVALID};
use crate::cpu::exec::{control, fast, misc, string, MemLoc, RegLoc};
use crate::cpu::insn::{Insn, Operand, Rep};
use crate::cpu::op::{threaded, Op};
use crate::cpu::ops::Kind;
use crate::cpu::width::{W16, W32, W8};
use crate::cpu::FaultKind;

/// `jmp rel32` or `jmp r/m32`.
pub(crate) fn jmp(insn: &Insn, op: &mut Op) -> Selected {
    if let Operand::Rel(target) = insn.operand(0) {
        op.imm = target;
        return Ok(threaded(control::jmp));
    }
    match arg(insn, 0, op)? {
        Arg::Reg(r, 4) => {
            op.r2 = r;
            Ok(threaded(control::jmp_rm::<RegLoc>))
        }
        Arg::Mem(4) => Ok(threaded(control::jmp_rm::<MemLoc>)),
        _ => Err(INVALID),
    }
}

/// `jcc rel32` (`op.imm` = target, `op.disp` = fall-through, `op.aux` = condition).
pub(crate) fn jcc(insn: &Insn, op: &mut Op) -> Selected {
    let Operand::Rel(target) = insn.operand(0) else {
        return Err(INVALID);
    };
    op.imm = target;
    op.disp = insn.next();
    op.aux = cc(insn)?;
    Ok(by_cc!(op.aux, C => control::jcc::<C>))
}

/// `call rel32` (`op.imm` = target, `op.disp` = return address) or `call r/m32`
/// (`op.imm` = return address).
pub(crate) fn call(insn: &Insn, op: &mut Op) -> Selected {
    if let Operand::Rel(target) = insn.operand(0) {
        op.imm = target;
        op.disp = insn.next();
        return Ok(fast::call_rel);
    }
    let a = arg(insn, 0, op)?;
    op.imm = insn.next();
    match a {
        Arg::Reg(r, 4) => {
            op.r2 = r;
            Ok(threaded(control::call_rm::<RegLoc>))
        }
        Arg::Mem(4) => Ok(threaded(control::call_rm::<MemLoc>)),
        _ => Err(INVALID),
    }
}

/// `ret` / `ret imm16`, 32-bit only (`op.imm` = bytes released after the pop).
pub(crate) fn ret(insn: &Insn, op: &mut Op) -> Selected {
    match (insn.osize, insn.count, insn.operand(0)) {
        (4, 0, _) => Ok(fast::ret),
        (4, 1, Operand::Imm(v)) => {
            op.imm = v;
            Ok(fast::ret)
        }
        _ => Err(INVALID),
    }
}

/// The target of a `loop`/`jecxz` with 32-bit operands (`op.imm` = target, `op.disp` =
/// fall-through).
fn short_branch(insn: &Insn, op: &mut Op) -> Result<(), FaultKind> {
    match (insn.osize, insn.operand(0)) {
        (4, Operand::Rel(target)) => {
            op.imm = target;
            op.disp = insn.next();
            Ok(())
        }
        _ => Err(INVALID),
    }
}

/// `loop` (0), `loope` (1), `loopne` (2) with ECX.
pub(crate) fn loop_<const K: u8>(insn: &Insn, op: &mut Op) -> Selected {
    short_branch(insn, op)?;
    Ok(threaded(control::loop_::<K>))
}

/// `jecxz`.
pub(crate) fn jecxz(insn: &Insn, op: &mut Op) -> Selected {
    short_branch(insn, op)?;
    Ok(threaded(control::jecxz))
}

/// `int 0x80` (`op.disp` = the address after it). Linux has no other gate open to user
/// mode: any other vector is #GP, SIGSEGV.
pub(crate) fn int(insn: &Insn, op: &mut Op) -> Selected {
    if insn.operand(0) != Operand::Imm(0x80) {
        return Err(FaultKind::GeneralProtection);
    }
    op.disp = insn.next();
    Ok(threaded(control::int80))
}

/// `int3`: a breakpoint trap.
pub(crate) fn int3(_insn: &Insn, _op: &mut Op) -> Selected {
    Err(FaultKind::Breakpoint)
}

/// `into`.
pub(crate) fn into(_insn: &Insn, _op: &mut Op) -> Selected {
    Ok(threaded(control::into))
}

/// Instructions user mode may not run.
pub(crate) fn general_protection(_insn: &Insn, _op: &mut Op) -> Selected {
    Err(FaultKind::GeneralProtection)
}

/// `movs`, `stos`, `lods`, `cmps`, `scas` of bytes, words or dwords, with `rep`/`repne`
/// or without.
pub(crate) fn string(insn: &Insn, _op: &mut Op) -> Selected {
    let width = insn.operands.iter().flatten().find_map(|o| match o {
        Operand::Str(_, w) => Some(*w),
        _ => None,
    });
    let plain = insn.operands.iter().flatten().all(|o| match o {
        Operand::Str(..) => true,
        Operand::Reg(0, w) => Some(*w) == width,
        _ => false,
    });
    if !plain {
        return Err(INVALID);
    }
    macro_rules! reps {
        ($f:ident, $w:ty) => {
            match insn.rep {
                Rep::None => threaded(string::$f::<$w, 0>),
                Rep::Rep => threaded(string::$f::<$w, 1>),
                Rep::Repne => threaded(string::$f::<$w, 2>),
            }
        };
    }
    macro_rules! widths {
        ($f:ident) => {
            match width {
                Some(1) => reps!($f, W8),
                Some(2) => reps!($f, W16),
                Some(4) => reps!($f, W32),
                _ => return Err(INVALID),
            }
        };
    }
    Ok(match insn.kind {
        Kind::Movs => widths!(movs),
        Kind::Stos => widths!(stos),
        Kind::Lods => widths!(lods),
        Kind::Cmps => widths!(cmps),
        Kind::Scas => widths!(scas),
        _ => return Err(INVALID),
    })
}

macro_rules! no_operands {
    ($($(#[$doc:meta])* $name:ident => $handler:path;)*) => {
        $(
            $(#[$doc])*
            pub(crate) fn $name(_insn: &Insn, _op: &mut Op) -> Selected {
                Ok(threaded($handler))
            }
        )*
    };
}

no_operands! {
    /// `cld`.
    cld => misc::cld;
    /// `std`.
    std_ => misc::std_;
    /// `clc`.
    clc => misc::clc;
    /// `stc`.
    stc => misc::stc;
    /// `cmc`.
    cmc => misc::cmc;
    /// `sahf`.
    sahf => misc::sahf;
    /// `lahf`.
    lahf => misc::lahf;
    /// `nop` (any form, operands ignored), `pause`, `endbr32`.
    nop => misc::nop;
}
