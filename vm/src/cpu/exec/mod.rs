//! Op handlers, one file per instruction family.
//!
//! Handlers are generic over the operand width ([`Width`]) and over where the r/m operand
//! lives ([`Loc`]: a register or memory), so each (width, location) form monomorphizes into
//! its own straight-line function: `mov r32, [m]` is `mov::load::<W32, MemLoc>` and has no
//! run-time operand decoding in it.
//!
//! Every handler keeps the fault rule: all loads and stores that can fault happen before
//! any register or flag of the instruction is written, so a faulting instruction commits
//! nothing.

pub mod arith;
pub mod bit;
pub mod control;
pub mod fast;
pub mod logic;
pub mod misc;
pub mod mov;
pub mod muldiv;
pub mod shift;
pub mod stack;
pub mod string;

use super::op::{after_store, Flow, Op};
use super::width::Width;
use super::Cpu;
use crate::memory::{GuestMemory, MemFault};

/// Where an instruction's r/m operand lives.
pub trait Loc: 'static {
    const IS_MEM: bool;
    /// A resolved location: a register number or a guest address.
    type At: Copy;
    fn at(cpu: &Cpu, op: &Op) -> Self::At;
    fn read<W: Width>(cpu: &Cpu, mem: &GuestMemory, at: Self::At) -> Result<u32, MemFault>;
    fn write<W: Width>(
        cpu: &mut Cpu,
        mem: &mut GuestMemory,
        at: Self::At,
        v: u32,
    ) -> Result<(), MemFault>;
    /// Ends an instruction that wrote this location.
    #[inline(always)]
    fn done(mem: &GuestMemory) -> Flow {
        if Self::IS_MEM {
            after_store(mem)
        } else {
            Ok(())
        }
    }
}

/// The r/m operand is register `op.r2`.
pub struct RegLoc;
/// The r/m operand is the memory operand of the op.
pub struct MemLoc;

impl Loc for RegLoc {
    const IS_MEM: bool = false;
    type At = u8;
    #[inline(always)]
    fn at(_cpu: &Cpu, op: &Op) -> u8 {
        op.r2
    }
    #[inline(always)]
    fn read<W: Width>(cpu: &Cpu, _mem: &GuestMemory, at: u8) -> Result<u32, MemFault> {
        Ok(W::get(&cpu.regs, at))
    }
    #[inline(always)]
    fn write<W: Width>(
        cpu: &mut Cpu,
        _mem: &mut GuestMemory,
        at: u8,
        v: u32,
    ) -> Result<(), MemFault> {
        W::set(&mut cpu.regs, at, v);
        Ok(())
    }
}

impl Loc for MemLoc {
    const IS_MEM: bool = true;
    type At = u32;
    #[inline(always)]
    fn at(cpu: &Cpu, op: &Op) -> u32 {
        op.ea(cpu)
    }
    #[inline(always)]
    fn read<W: Width>(_cpu: &Cpu, mem: &GuestMemory, at: u32) -> Result<u32, MemFault> {
        W::load(mem, at)
    }
    #[inline(always)]
    fn write<W: Width>(
        _cpu: &mut Cpu,
        mem: &mut GuestMemory,
        at: u32,
        v: u32,
    ) -> Result<(), MemFault> {
        W::store(mem, at, v)
    }
}
