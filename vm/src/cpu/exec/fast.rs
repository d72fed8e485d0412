//! Fast paths for the chain's commonest instruction forms, alone and fused.
//!
//! M2-Planet and cc_x86 code is mostly `push`/`pop` of 32-bit registers, `mov` between a
//! register and `[reg+disp]`, `lea r, [reg+disp]`, `mov r, imm`, `call` and `ret`, in a
//! few fixed sequences (`lea eax,[ebp+d]; mov eax,[eax]` loads a local, `push eax` saves
//! a left operand...). Each form is a [`Part`]: its fast path does the instruction only
//! when that needs no call (no page straddle, mapped page, no decoded code on the page),
//! and otherwise changes nothing so that the general handler can redo it from scratch.
//!
//! [`single`] runs one part; [`pair`] and [`triple`] run two or three consecutive
//! instructions under one dispatch. The ops after the first stay in the block unchanged,
//! so when a later part's fast path does not apply the fused handler simply hands over to
//! that op (everything before it has retired), and faults, code writes and instruction
//! counts are accounted exactly as without fusion.

use super::{control, mov, stack, MemLoc, RegLoc};
use crate::cpu::op::{next, threaded, Handler, Leave, Op};
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

/// Two consecutive instructions.
pub fn pair<A: Part, B: Part>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Leave {
    if !A::try_run(cpu, mem, op) {
        return A::slow(cpu, mem, op);
    }
    let b = ahead(op, 1);
    if B::try_run(cpu, mem, b) {
        return next(cpu, mem, b);
    }
    B::slow(cpu, mem, b)
}

/// Three consecutive instructions.
pub fn triple<A: Part, B: Part, C: Part>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Leave {
    if !A::try_run(cpu, mem, op) {
        return A::slow(cpu, mem, op);
    }
    let b = ahead(op, 1);
    if !B::try_run(cpu, mem, b) {
        return B::slow(cpu, mem, b);
    }
    let c = ahead(op, 2);
    if C::try_run(cpu, mem, c) {
        return next(cpu, mem, c);
    }
    C::slow(cpu, mem, c)
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

/// The instruction forms above, as the decoder classifies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Push,
    Pop,
    Load,
    Store,
    StoreByte,
    MovzxByte,
    MovsxByte,
    Lea,
    MovImm,
    MovReg,
}

/// The handler of one instruction of form `f`.
pub fn single_handler(f: Form) -> Handler {
    match f {
        Form::Push => single::<Push>,
        Form::Pop => single::<Pop>,
        Form::Load => single::<Load>,
        Form::Store => single::<Store>,
        Form::StoreByte => single::<StoreByte>,
        Form::MovzxByte => single::<MovzxByte>,
        Form::MovsxByte => single::<MovsxByte>,
        Form::Lea => single::<Lea>,
        Form::MovImm => single::<MovImm>,
        Form::MovReg => single::<MovReg>,
    }
}

/// The fused handler for the sequence starting with `forms[0]`, if one exists: the
/// handler and how many instructions it covers. Chosen from the chain's most frequent
/// sequences (callgrind call pairs on the M1 and M2 steps).
pub fn fused_handler(forms: &[Option<Form>]) -> Option<(Handler, usize)> {
    use Form as F;
    let at = |i: usize| forms.get(i).copied().flatten();
    Some(match (at(0), at(1), at(2)) {
        (Some(F::Push), Some(F::Lea), Some(F::Load)) => (triple::<Push, Lea, Load> as Handler, 3),
        (Some(F::Lea), Some(F::Load), Some(F::Push)) => (triple::<Lea, Load, Push>, 3),
        (Some(F::Lea), Some(F::Load), _) => (pair::<Lea, Load>, 2),
        (Some(F::Lea), Some(F::MovsxByte), _) => (pair::<Lea, MovsxByte>, 2),
        (Some(F::Load), Some(F::Push), _) => (pair::<Load, Push>, 2),
        (Some(F::Pop), Some(F::Store), _) => (pair::<Pop, Store>, 2),
        (Some(F::Pop), Some(F::StoreByte), _) => (pair::<Pop, StoreByte>, 2),
        (Some(F::Push), Some(F::MovImm), _) => (pair::<Push, MovImm>, 2),
        (Some(F::Push), Some(F::Lea), _) => (pair::<Push, Lea>, 2),
        (Some(F::MovImm), Some(F::Push), _) => (pair::<MovImm, Push>, 2),
        (Some(F::Push), Some(F::Push), _) => (pair::<Push, Push>, 2),
        (Some(F::Pop), Some(F::Pop), _) => (pair::<Pop, Pop>, 2),
        (Some(F::MovReg), Some(F::Pop), _) => (pair::<MovReg, Pop>, 2),
        _ => return None,
    })
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
