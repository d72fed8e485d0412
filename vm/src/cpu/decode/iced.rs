//! iced-x86's decoded instruction -> [`Insn`]: the prefixes we check ourselves, the
//! operands as registers, memory references, immediates and branch targets.

use iced_x86::{Instruction, OpKind, Register};

use crate::cpu::insn::{Insn, MemRef, Operand, Rep, StrMem};
use crate::cpu::ops::Kind;
use crate::cpu::FaultKind;

/// The legacy prefixes an instruction starts with, as far as they matter here.
struct Prefixes {
    /// 0x67: 16-bit addressing (not supported).
    addr_size: bool,
    /// 0x66: 16-bit operands.
    operand_size: bool,
}

fn prefixes(bytes: &[u8]) -> Prefixes {
    let mut p = Prefixes {
        addr_size: false,
        operand_size: false,
    };
    for &b in bytes {
        match b {
            0x67 => p.addr_size = true,
            0x66 => p.operand_size = true,
            0x26 | 0x2e | 0x36 | 0x3e | 0x64 | 0x65 | 0xf0 | 0xf2 | 0xf3 => {}
            _ => break,
        }
    }
    p
}

/// `instr` (whose encoding is `bytes`) as an [`Insn`], or the fault it raises: 0x67 and
/// mnemonics outside the op list are invalid, privileged instructions fault with #GP.
pub(super) fn insn(instr: &Instruction, bytes: &[u8]) -> Result<Insn, FaultKind> {
    let p = prefixes(bytes);
    if p.addr_size {
        return Err(FaultKind::InvalidOpcode);
    }
    if instr.is_privileged() {
        return Err(FaultKind::GeneralProtection);
    }
    let kind = Kind::of(instr.mnemonic()).ok_or(FaultKind::InvalidOpcode)?;
    let count = instr.op_count();
    let mut operands = [None; 3];
    for (i, slot) in operands.iter_mut().enumerate().take(count as usize) {
        *slot = Some(operand(instr, i as u32));
    }
    Ok(Insn {
        kind,
        addr: instr.ip32(),
        len: instr.len() as u8,
        operands,
        count: count as u8,
        osize: if p.operand_size { 2 } else { 4 },
        cond: match instr.condition_code() as u8 {
            0 => None,
            n => Some(n - 1),
        },
        rep: if instr.has_repne_prefix() {
            Rep::Repne
        } else if instr.has_rep_prefix() {
            Rep::Rep
        } else {
            Rep::None
        },
    })
}

/// A general-purpose register: number and width in bytes.
pub(super) fn gpr(r: Register) -> Option<(u8, u8)> {
    let n = r as u32;
    let (first_8, first_16, first_32) = (
        Register::AL as u32,
        Register::AX as u32,
        Register::EAX as u32,
    );
    if (first_8..first_8 + 8).contains(&n) {
        Some(((n - first_8) as u8, 1))
    } else if (first_16..first_16 + 8).contains(&n) {
        Some(((n - first_16) as u8, 2))
    } else if (first_32..first_32 + 8).contains(&n) {
        Some(((n - first_32) as u8, 4))
    } else {
        None
    }
}

/// A memory operand's register: absent, or a 32-bit general-purpose register.
fn address_reg(r: Register) -> Result<Option<u8>, ()> {
    match r {
        Register::None => Ok(None),
        r => match gpr(r) {
            Some((n, 4)) => Ok(Some(n)),
            _ => Err(()),
        },
    }
}

fn operand(instr: &Instruction, i: u32) -> Operand {
    match instr.op_kind(i) {
        OpKind::Register => match gpr(instr.op_register(i)) {
            Some((r, w)) => Operand::Reg(r, w),
            None => Operand::Other,
        },
        OpKind::Memory => {
            let (Ok(base), Ok(index)) = (
                address_reg(instr.memory_base()),
                address_reg(instr.memory_index()),
            ) else {
                return Operand::Other;
            };
            Operand::Mem(MemRef {
                base,
                index,
                scale: instr.memory_index_scale().trailing_zeros() as u8,
                disp: instr.memory_displacement32(),
                size: instr.memory_size().size() as u8,
            })
        }
        OpKind::Immediate8
        | OpKind::Immediate16
        | OpKind::Immediate32
        | OpKind::Immediate8to16
        | OpKind::Immediate8to32 => Operand::Imm(instr.immediate(i) as u32),
        OpKind::Immediate8_2nd => Operand::Imm(instr.immediate8_2nd() as u32),
        OpKind::NearBranch32 => Operand::Rel(instr.near_branch32()),
        OpKind::MemorySegESI => Operand::Str(StrMem::Source, instr.memory_size().size() as u8),
        OpKind::MemoryESEDI => Operand::Str(StrMem::Dest, instr.memory_size().size() as u8),
        _ => Operand::Other,
    }
}
