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
//! without fusion. [`PATTERNS`] lists the sequences fused.

use std::marker::PhantomData;

use super::arith::{self, Add, Alu, Cmp, Sub};
use super::logic::{self, And, Or, Test, Xor};
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
    Add,
    Sub,
    Cmp,
    And,
    Or,
    Xor,
    Test,
    Zero,
    MovzxReg,
    Setcc,
    /// A conditional jump (`op.aux` = condition): only ever the end of a fused run.
    Jcc,
}

/// The handler of one instruction of form `f`, where it beats the general one (a lone
/// `setcc` or `jcc` keeps its handler specialised on the condition).
pub fn single_handler(f: Form) -> Option<Handler> {
    Some(match f {
        Form::Push => single::<Push> as Handler,
        Form::Pop => single::<Pop>,
        Form::Load => single::<Load>,
        Form::Store => single::<Store>,
        Form::StoreByte => single::<StoreByte>,
        Form::MovzxByte => single::<MovzxByte>,
        Form::MovsxByte => single::<MovsxByte>,
        Form::Lea => single::<Lea>,
        Form::MovImm => single::<MovImm>,
        Form::MovReg => single::<MovReg>,
        Form::Add => single::<AluReg<Add>>,
        Form::Sub => single::<AluReg<Sub>>,
        Form::Cmp => single::<AluReg<Cmp>>,
        Form::And => single::<AluReg<And>>,
        Form::Or => single::<AluReg<Or>>,
        Form::Xor => single::<AluReg<Xor>>,
        Form::Test => single::<AluReg<Test>>,
        Form::Zero => single::<Zero>,
        Form::MovzxReg => single::<MovzxReg>,
        Form::Setcc | Form::Jcc => return None,
    })
}

macro_rules! then {
    (; $end:ty) => { $end };
    ($a:ty $(, $rest:ty)*; $end:ty) => { Then<$a, then!($($rest),*; $end)> };
}

macro_rules! patterns {
    ($($($form:ident)-+ $(=> $end:ident)?;)*) => {
        /// The fused sequences, longest first where they share a start: the forms and
        /// the handler. Chosen from the chain's most frequent instruction sequences
        /// (execution-weighted, on the M1 and M2 steps): M2-Planet's and cc_x86's code
        /// generators emit the same few idioms everywhere.
        pub const PATTERNS: &[(&[Form], Handler)] = &[
            $((
                &[$(Form::$form,)+ $(patterns!(@end $end))?],
                seq::<then!($(patterns!(@part $form)),+; patterns!(@tail $($end)?))> as Handler,
            ),)*
        ];
    };
    (@end Jcc) => { Form::Jcc };
    (@tail Jcc) => { JccEnd };
    (@tail) => { Done };
    (@part Add) => { AluReg<Add> };
    (@part Sub) => { AluReg<Sub> };
    (@part Cmp) => { AluReg<Cmp> };
    (@part Test) => { AluReg<Test> };
    (@part $f:ident) => { $f };
}

patterns! {
    // Compare and branch: `[pop ebx;] cmp ebx,eax; setcc al; movzx eax,al; test eax,eax; je`.
    Pop-Cmp-Setcc-MovzxReg-Test => Jcc;
    Cmp-Setcc-MovzxReg-Test => Jcc;
    MovzxReg-Test => Jcc;
    Test => Jcc;
    Cmp => Jcc;
    Pop-Cmp-Setcc-MovzxReg;
    Cmp-Setcc-MovzxReg;
    // Locals and globals: `lea eax,[ebp-N]; mov eax,[eax]`, `mov eax,&G; mov eax,[eax]`.
    Push-Lea-Load;
    Lea-Load-Push;
    Lea-Load-Pop;
    Lea-Load;
    Lea-MovsxByte;
    Lea-Push;
    MovImm-Load;
    // Operands through the stack: `push eax; mov eax,N; pop ebx; add eax,ebx`...
    Push-MovImm-Pop;
    Push-MovImm;
    Push-Lea;
    Push-Zero;
    Push-Push;
    Load-Push;
    Load-Pop;
    Load-MovImm;
    MovImm-Pop;
    MovImm-Push;
    MovImm-Add;
    Zero-Push;
    Zero-Pop;
    Pop-Add;
    Pop-Sub-MovReg;
    Pop-Store;
    Pop-StoreByte;
    Pop-Pop;
    Add-Push;
    Add-Pop;
    Add-Load;
    Add-MovsxByte;
    MovReg-Pop;
}

/// The fused handler for the sequence starting at `forms[0]`, if one is listed in
/// [`PATTERNS`]: the handler and how many instructions it covers.
pub fn fused_handler(forms: &[Option<Form>]) -> Option<(Handler, usize)> {
    PATTERNS.iter().find_map(|&(pattern, handler)| {
        let matches =
            pattern.len() <= forms.len() && pattern.iter().zip(forms).all(|(p, f)| Some(*p) == *f);
        matches.then_some((handler, pattern.len()))
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
