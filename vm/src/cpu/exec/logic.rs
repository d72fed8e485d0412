//! AND OR XOR TEST NOT, and the `xor r, r` zeroing idiom.

use super::arith::{Alu, Unary};
use crate::cpu::flags::{kind, LazyFlags};
use crate::cpu::op::{Flow, Op};
use crate::cpu::width::{Width, W32};
use crate::cpu::Cpu;
use crate::memory::GuestMemory;

pub struct And;
pub struct Or;
pub struct Xor;
pub struct Test;
pub struct Not;

/// Logic ops: CF = OF = 0, AF = 0 (undefined in the SDM), ZF SF PF from the result.
#[inline(always)]
fn logic<W: Width>(f: &mut LazyFlags, r: u32) -> u32 {
    let r = r & W::MASK;
    *f = LazyFlags {
        kind: kind::RES | W::IDX,
        a: 0,
        b: 0,
        res: r,
    };
    r
}

impl Alu for And {
    const WRITES: bool = true;
    #[inline(always)]
    fn apply<W: Width>(f: &mut LazyFlags, a: u32, b: u32) -> u32 {
        logic::<W>(f, a & b)
    }
}

impl Alu for Or {
    const WRITES: bool = true;
    #[inline(always)]
    fn apply<W: Width>(f: &mut LazyFlags, a: u32, b: u32) -> u32 {
        logic::<W>(f, a | b)
    }
}

impl Alu for Xor {
    const WRITES: bool = true;
    #[inline(always)]
    fn apply<W: Width>(f: &mut LazyFlags, a: u32, b: u32) -> u32 {
        logic::<W>(f, a ^ b)
    }
}

impl Alu for Test {
    const WRITES: bool = false;
    #[inline(always)]
    fn apply<W: Width>(f: &mut LazyFlags, a: u32, b: u32) -> u32 {
        logic::<W>(f, a & b)
    }
}

impl Unary for Not {
    /// NOT changes no flags.
    #[inline(always)]
    fn apply<W: Width>(_f: &mut LazyFlags, a: u32) -> u32 {
        !a & W::MASK
    }
}

/// `xor r32, r32` with the same register: zero it.
pub fn zero_r32(cpu: &mut Cpu, _mem: &mut GuestMemory, op: &Op) -> Flow {
    W32::set(&mut cpu.regs, op.r1, 0);
    cpu.flags = LazyFlags {
        kind: kind::RES | W32::IDX,
        a: 0,
        b: 0,
        res: 0,
    };
    Ok(())
}
