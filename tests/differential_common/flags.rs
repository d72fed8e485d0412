//! Which EFLAGS bits the SDM leaves undefined after a run of instructions.
//!
//! iced-x86's per-instruction tables give the base answer. Shifts and rotates are worked
//! out here from the actual count, since their flag effects depend on it (count 0 changes
//! nothing; OF is defined only for count 1; SHL/SHR leave CF undefined once the count
//! reaches the operand width), and so is a `rep` string instruction run with ECX = 0.

use iced_x86::{Instruction, Mnemonic, OpKind, RflagsBits};

use super::layout::flag;

/// Converts iced's [`RflagsBits`] to EFLAGS bit positions (status flags and DF only).
pub fn to_eflags(bits: u32) -> u32 {
    const MAP: [(u32, u32); 7] = [
        (RflagsBits::OF, flag::OF),
        (RflagsBits::SF, flag::SF),
        (RflagsBits::ZF, flag::ZF),
        (RflagsBits::AF, flag::AF),
        (RflagsBits::CF, flag::CF),
        (RflagsBits::PF, flag::PF),
        (RflagsBits::DF, flag::DF),
    ];
    MAP.iter()
        .filter(|(iced, _)| bits & iced != 0)
        .fold(0, |acc, (_, ef)| acc | ef)
}

/// The EFLAGS bits `insn` reads.
pub fn read_by(insn: &Instruction) -> u32 {
    to_eflags(insn.rflags_read())
}

/// The undefined EFLAGS bits after `insn` runs, given `before`. `ecx` is ECX just before
/// it ran, when known; without it the answer is conservative (nothing becomes defined
/// that might have been left alone).
pub fn undefined_after(before: u32, insn: &Instruction, ecx: Option<u32>) -> u32 {
    if let Some(effect) = shift_effect(insn, ecx) {
        return match effect {
            ShiftEffect::Unchanged => before,
            ShiftEffect::Unknown => before | flag::OF | flag::AF | flag::CF,
            ShiftEffect::Flags { defined, undefined } => (before & !defined) | undefined,
        };
    }
    let is_rep = insn.has_rep_prefix() || insn.has_repne_prefix();
    if is_rep && insn.is_string_instruction() && ecx.unwrap_or(0) == 0 {
        // No iteration ran (or we cannot tell): the flags are as they were.
        return before;
    }
    let defined = to_eflags(insn.rflags_written() | insn.rflags_cleared() | insn.rflags_set());
    (before & !defined) | to_eflags(insn.rflags_undefined())
}

enum ShiftEffect {
    Unchanged,
    Unknown,
    Flags { defined: u32, undefined: u32 },
}

/// Flag effects of shifts and rotates (None for every other instruction).
fn shift_effect(insn: &Instruction, ecx: Option<u32>) -> Option<ShiftEffect> {
    use Mnemonic::*;
    let m = insn.mnemonic();
    let count_op = match m {
        Rol | Ror | Rcl | Rcr | Shl | Sal | Shr | Sar => 1,
        Shld | Shrd => 2,
        _ => return None,
    };
    let count = match insn.op_kind(count_op) {
        OpKind::Register => match ecx {
            Some(ecx) => ecx & 0xff,
            None => return Some(ShiftEffect::Unknown),
        },
        _ => insn.immediate(count_op) as u32,
    } & 0x1f;
    if count == 0 {
        return Some(ShiftEffect::Unchanged);
    }
    let width = match insn.op0_kind() {
        OpKind::Register => insn.op0_register().size() as u32 * 8,
        _ => insn.memory_size().size() as u32 * 8,
    };
    let of = if count == 1 {
        (flag::OF, 0)
    } else {
        (0, flag::OF)
    };
    let szp = flag::SF | flag::ZF | flag::PF;
    let (defined, undefined) = match m {
        Rol | Ror => (flag::CF | of.0, of.1),
        Rcl | Rcr if width < 32 && count % (width + 1) == 0 => (0, flag::OF),
        Rcl | Rcr => (flag::CF | of.0, of.1),
        Shl | Sal | Shr if count >= width => (szp | of.0, flag::CF | flag::AF | of.1),
        Shl | Sal | Shr | Sar => (szp | flag::CF | of.0, flag::AF | of.1),
        // Shld/Shrd: a count above the width leaves everything undefined.
        _ if count > width => (0, flag::STATUS),
        _ => (szp | flag::CF | of.0, flag::AF | of.1),
    };
    Some(ShiftEffect::Flags { defined, undefined })
}
