//! The pre-decoded operation: what a basic block is made of.
//!
//! The decoder resolves everything it can once (which handler, which registers, the memory
//! operand's parts, immediates, branch targets), so executing an op is one indirect call on
//! a 24-byte record with no further decoding.

use super::{Cpu, FaultKind};
use crate::memory::{GuestMemory, MemFault};

/// "No register" in [`Op::base`] / [`Op::index`].
pub const NO_REG: u8 = 0xff;

/// How an op leaves the straight-line path of its block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// A control transfer retired; the handler has set `eip` to where execution goes next.
    Branch,
    /// `int 0x80` retired; `eip` points past it.
    Syscall,
    /// The instruction completed but a store hit a granule holding decoded code: the executor
    /// advances `eip` past it and checks whether any cached block went stale.
    CodeWrite,
    /// The instruction faulted; nothing of it was committed.
    Fault(FaultKind),
}

impl From<MemFault> for Exit {
    #[inline(always)]
    fn from(f: MemFault) -> Self {
        Exit::Fault(FaultKind::Page(f))
    }
}

/// What a handler returns: `Ok` means "fall through to the next op".
pub type Flow = Result<(), Exit>;

/// An op's executor.
pub type Handler = fn(&mut Cpu, &mut GuestMemory, &Op) -> Flow;

/// One decoded guest instruction.
///
/// Field use depends on the handler; the common convention is: `r1` = the destination or
/// ModRM.reg register, `r2` = the source or ModRM.rm register, `base/index/scale/disp` = the
/// memory operand, `imm` = the immediate or branch target, and for branches `disp` = the
/// fall-through address.
#[derive(Clone, Copy)]
pub struct Op {
    pub exec: Handler,
    pub imm: u32,
    pub disp: u32,
    pub r1: u8,
    pub r2: u8,
    pub base: u8,
    pub index: u8,
    pub scale: u8,
    /// Instruction length in bytes.
    pub len: u8,
    /// Handler-specific small operand (condition code, "count in CL", ...).
    pub aux: u8,
}

impl Op {
    /// The memory operand's effective address (flat segments).
    #[inline(always)]
    pub fn ea(&self, cpu: &Cpu) -> u32 {
        let mut a = self.disp;
        if self.base != NO_REG {
            a = a.wrapping_add(cpu.regs[(self.base & 7) as usize]);
        }
        if self.index != NO_REG {
            a = a.wrapping_add(cpu.regs[(self.index & 7) as usize] << (self.scale & 3));
        }
        a
    }
}

/// Ends the instruction after a store: reports a hit on decoded code to the executor.
#[inline(always)]
pub fn after_store(mem: &GuestMemory) -> Flow {
    if mem.has_code_writes() {
        Err(Exit::CodeWrite)
    } else {
        Ok(())
    }
}
