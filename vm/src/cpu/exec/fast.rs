//! Fast paths for the chain's commonest instruction forms, alone and fused.
//!
//! M2-Planet and cc_x86 code is mostly `push`/`pop` of 32-bit registers, `mov` between a
//! register and `[reg+disp]`, `lea r, [reg+disp]`, `mov r, imm`, `call` and `ret`, in a
//! few fixed sequences (`lea eax,[ebp+d]; mov eax,[eax]` loads a local, `push eax` saves
//! a left operand...). Each form is a [`Part`]: its fast path does the instruction only
//! when that needs no call (no page straddle, mapped page, no decoded code on the page),
//! and otherwise changes nothing so that the general handler can redo it from scratch.
//!
//! Register-only forms (ALU ops, `setcc`, `movzx r32, r8`) are parts whose fast path is
//! their general body, which cannot fail there.
//!
//! [`single`] runs one part; [`seq`] runs a sequence of consecutive instructions ([`Then`]
//! ... [`Done`], or ending in a conditional jump: [`JccEnd`]) under one dispatch. The ops
//! after the first stay in the block unchanged, so when a later part's fast path does not
//! apply the fused handler simply hands over to that op (everything before it has
//! retired), and faults, code writes and instruction counts are accounted exactly as
//! without fusion. Which instruction forms have a part, and which sequences are fused,
//! is declared in the op list ([`crate::cpu::ops`]).

use std::marker::PhantomData;

use super::arith::{self, Alu};
use super::logic;
use super::{control, mov, stack, MemLoc, RegLoc};
use crate::cpu::op::{next, threaded, Leave, Op};
use crate::cpu::reg::ESP;
use crate::cpu::width::{Width, W32, W8};
use crate::cpu::Cpu;
use crate::memory::GuestMemory;

/// One instruction form with a call-free fast path.
pub trait Part {
    /// Does the instruction and returns true, or changes nothing and returns false.
    fn try_run(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> bool;
    /// The general handler of the same instruction.
    fn slow(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Leave;
}

/// The op `k` places after `op` in its block.
#[inline(always)]
fn ahead(op: &Op, k: usize) -> &Op {
    // SAFETY: the decoder fuses only ops that are followed by `k` more ops of the same
    // block (see `decode::fuse`), and a partial copy of a block unfuses any fused op
    // whose parts it cuts off.
    unsafe { &*(op as *const Op).add(k) }
}

/// One instruction.
pub fn single<A: Part>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Leave {
    if A::try_run(cpu, mem, op) {
        return next(cpu, mem, op);
    }
    A::slow(cpu, mem, op)
}

/// A run of instructions starting at an op.
pub trait Seq {
    fn run(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Leave;
}

/// Part `A` at this op, then `R` from the next.
pub struct Then<A, R>(PhantomData<(A, R)>);
/// The end of a fused run that continues: the next op runs as usual.
pub struct Done;
/// The end of a fused run that is the block's conditional jump (`op.aux` = condition).
pub struct JccEnd;

impl<A: Part, R: Seq> Seq for Then<A, R> {
    #[inline(always)]
    fn run(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Leave {
        if A::try_run(cpu, mem, op) {
            R::run(cpu, mem, ahead(op, 1))
        } else {
            A::slow(cpu, mem, op)
        }
    }
}

impl Seq for Done {
    #[inline(always)]
    fn run(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Leave {
        (op.exec)(cpu, mem, op)
    }
}

impl Seq for JccEnd {
    #[inline(always)]
    fn run(cpu: &mut Cpu, _mem: &mut GuestMemory, op: &Op) -> Leave {
        cpu.eip = if cpu.flags.cond(op.aux) {
            op.imm
        } else {
            op.disp
        };
        Leave::Branch
    }
}

/// The fused handler of sequence `S`.
pub fn seq<S: Seq>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Leave {
    S::run(cpu, mem, op)
}

/// `[base+disp]`.
#[inline(always)]
fn ea_bd(cpu: &Cpu, op: &Op) -> u32 {
    cpu.regs[(op.base & 7) as usize].wrapping_add(op.disp)
}

#[inline(always)]
fn reg(cpu: &mut Cpu, r: u8) -> &mut u32 {
    &mut cpu.regs[(r & 7) as usize]
}

macro_rules! part {
    ($(#[$doc:meta])* $name:ident, $slow:expr, |$cpu:ident, $mem:ident, $op:ident| $body:block) => {
        $(#[$doc])*
        pub struct $name;
        impl Part for $name {
            #[inline(always)]
            fn try_run($cpu: &mut Cpu, $mem: &mut GuestMemory, $op: &Op) -> bool $body
            #[inline(always)]
            fn slow(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Leave {
                threaded($slow)(cpu, mem, op)
            }
        }
    };
}

part!(
    /// `push r32` (register in `op.r2`).
    Push, stack::push::<W32, RegLoc>, |cpu, mem, op| {
        let sp = cpu.regs[ESP].wrapping_sub(4);
        if mem.try_write_u32(sp, cpu.regs[(op.r2 & 7) as usize]) {
            cpu.regs[ESP] = sp;
            return true;
        }
        false
    }
);

part!(
    /// `pop r32` (`pop esp` leaves ESP = the popped value, as the general handler does).
    Pop, stack::pop::<W32, RegLoc>, |cpu, mem, op| {
        let sp = cpu.regs[ESP];
        match mem.try_read_u32(sp) {
            Some(v) => {
                cpu.regs[ESP] = sp.wrapping_add(4);
                *reg(cpu, op.r2) = v;
                true
            }
            None => false,
        }
    }
);

part!(
    /// `mov r32, [base+disp]`.
    Load, mov::load::<W32, MemLoc>, |cpu, mem, op| {
        match mem.try_read_u32(ea_bd(cpu, op)) {
            Some(v) => {
                *reg(cpu, op.r1) = v;
                true
            }
            None => false,
        }
    }
);

part!(
    /// `mov [base+disp], r32`.
    Store, mov::store::<W32, MemLoc>, |cpu, mem, op| {
        mem.try_write_u32(ea_bd(cpu, op), cpu.regs[(op.r1 & 7) as usize])
    }
);

part!(
    /// `mov [base+disp], r8`.
    StoreByte, mov::store::<W8, MemLoc>, |cpu, mem, op| {
        mem.try_write_u8(ea_bd(cpu, op), W8::get(&cpu.regs, op.r1) as u8)
    }
);

part!(
    /// `movzx r32, byte [base+disp]`.
    MovzxByte, mov::movzx::<W32, W8, MemLoc>, |cpu, mem, op| {
        match mem.try_read_u8(ea_bd(cpu, op)) {
            Some(v) => {
                *reg(cpu, op.r1) = v as u32;
                true
            }
            None => false,
        }
    }
);

part!(
    /// `movsx r32, byte [base+disp]`.
    MovsxByte, mov::movsx::<W32, W8, MemLoc>, |cpu, mem, op| {
        match mem.try_read_u8(ea_bd(cpu, op)) {
            Some(v) => {
                *reg(cpu, op.r1) = v as i8 as u32;
                true
            }
            None => false,
        }
    }
);

part!(
    /// `lea r32, [base+disp]` (never needs the general path).
    Lea, mov::lea::<W32>, |cpu, _mem, op| {
        *reg(cpu, op.r1) = ea_bd(cpu, op);
        true
    }
);

part!(
    /// `mov r32, imm32` (register in `op.r2`, as for the general `mov r/m, imm`).
    MovImm, mov::store_imm::<W32, RegLoc>, |cpu, _mem, op| {
        *reg(cpu, op.r2) = op.imm;
        true
    }
);

part!(
    /// `mov r32, r32` (`op.r1` = destination, `op.r2` = source).
    MovReg, mov::load::<W32, RegLoc>, |cpu, _mem, op| {
        *reg(cpu, op.r1) = cpu.regs[(op.r2 & 7) as usize];
        true
    }
);

/// `op r32, r32` for an ALU operation `O` (`op.r2` = destination, `op.r1` = source).
pub struct AluReg<O>(PhantomData<O>);

impl<O: Alu> Part for AluReg<O> {
    #[inline(always)]
    fn try_run(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> bool {
        // Registers only: the general body cannot fail.
        arith::alu_rm_r::<W32, O, RegLoc>(cpu, mem, op).is_ok()
    }
    #[inline(always)]
    fn slow(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Leave {
        threaded(arith::alu_rm_r::<W32, O, RegLoc>)(cpu, mem, op)
    }
}

part!(
    /// `xor r32, r32` with the same register twice (`op.r1`).
    Zero, logic::zero_r32, |cpu, mem, op| { logic::zero_r32(cpu, mem, op).is_ok() }
);

part!(
    /// `movzx r32, r8` (`op.r1` = destination, `op.r2` = source).
    MovzxReg, mov::movzx::<W32, W8, RegLoc>, |cpu, _mem, op| {
        *reg(cpu, op.r1) = W8::get(&cpu.regs, op.r2);
        true
    }
);

/// `setcc r8` (`op.r2` = register, `op.aux` = condition).
pub struct Setcc;

impl Part for Setcc {
    #[inline(always)]
    fn try_run(cpu: &mut Cpu, _mem: &mut GuestMemory, op: &Op) -> bool {
        let v = cpu.flags.cond(op.aux) as u32;
        W8::set(&mut cpu.regs, op.r2, v);
        true
    }
    #[inline(always)]
    fn slow(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Leave {
        // Never taken (the fast path always applies); same effect.
        Self::try_run(cpu, mem, op);
        next(cpu, mem, op)
    }
}

/// `call rel32` (`op.imm` = target, `op.disp` = return address).
pub fn call_rel(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Leave {
    let sp = cpu.regs[ESP].wrapping_sub(4);
    if mem.try_write_u32(sp, op.disp) {
        cpu.regs[ESP] = sp;
        cpu.eip = op.imm;
        return Leave::Branch;
    }
    threaded(control::call)(cpu, mem, op)
}

/// `ret` (`op.imm` = bytes released after the pop).
pub fn ret(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Leave {
    let sp = cpu.regs[ESP];
    if let Some(v) = mem.try_read_u32(sp) {
        cpu.eip = v;
        cpu.regs[ESP] = sp.wrapping_add(4).wrapping_add(op.imm);
        return Leave::Branch;
    }
    threaded(control::ret)(cpu, mem, op)
}
