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

/// What an instruction body returns: `Ok` means "fall through to the next op".
pub type Flow = Result<(), Exit>;

/// How a block was left, as the executor sees it: one byte, so that returning it
/// through a chain of tail calls and testing it is cheap. A fault's details and the op
/// that left (for faults and code writes) are in the [`Cpu`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Leave {
    /// See [`Exit::Branch`].
    Branch,
    /// See [`Exit::Syscall`].
    Syscall,
    /// See [`Exit::CodeWrite`].
    CodeWrite,
    /// See [`Exit::Fault`]; the kind is in `Cpu::fault`.
    Fault,
}

/// An op's executor, threaded: it runs its instruction and then, on the straight path,
/// tail-calls the next op's executor, so a whole block runs without returning to a
/// dispatch loop (each handler has its own indirect jump, which the host predicts far
/// better than one shared call site). It returns how the block was left.
///
/// Every block ends with an op that leaves (a branch, `int 0x80`, or a synthetic jump
/// to the block's end), so the chain of tail calls is at most one block long.
pub type Handler = fn(&mut Cpu, &mut GuestMemory, &Op) -> Leave;

/// Runs the op after `op` (the straight path).
#[inline(always)]
pub fn next(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Leave {
    // SAFETY: `op` is an element of a block's op slice, and it continued, so it is not
    // the slice's last element: every op slice the executor runs ends with an op whose
    // handler never continues (see `Handler`).
    let n = unsafe { &*(op as *const Op).add(1) };
    (n.exec)(cpu, mem, n)
}

/// Leaves the block at `op` with `e`. For faults and code writes it records which op
/// left (the executor needs to know how many instructions retired) and the fault.
#[inline(always)]
pub fn leave(cpu: &mut Cpu, op: &Op, e: Exit) -> Leave {
    match e {
        Exit::Branch => Leave::Branch,
        Exit::Syscall => Leave::Syscall,
        Exit::CodeWrite => {
            cpu.exit_op = op as *const Op as usize;
            Leave::CodeWrite
        }
        Exit::Fault(kind) => {
            cpu.exit_op = op as *const Op as usize;
            cpu.fault = kind;
            Leave::Fault
        }
    }
}

/// Finishes an instruction whose body returned `r`: on to the next op, or leave.
#[inline(always)]
pub fn finish(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op, r: Flow) -> Leave {
    match r {
        Ok(()) => next(cpu, mem, op),
        Err(e) => leave(cpu, op, e),
    }
}

/// A function item with an instruction body's signature. Function items are zero-sized
/// types, one per function (and per generic instantiation), which is what lets
/// [`threaded`] build a distinct handler for each body.
pub trait Body: Fn(&mut Cpu, &mut GuestMemory, &Op) -> Flow + Copy + 'static {}
impl<F: Fn(&mut Cpu, &mut GuestMemory, &Op) -> Flow + Copy + 'static> Body for F {}

/// The threaded handler of instruction body `f` (a function item, not a pointer).
#[inline(always)]
pub fn threaded<F: Body>(_f: F) -> Handler {
    const {
        assert!(
            std::mem::size_of::<F>() == 0,
            "threaded() takes a function item, not a pointer or a capturing closure"
        )
    };
    run_body::<F> as Handler
}

// Never inlined: the fast handlers' fallbacks call it in tail position, which is only a
// jump (with no registers to save on the fast path) if it stays a separate function.
#[inline(never)]
fn run_body<F: Body>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Leave {
    // SAFETY: `F` is zero-sized (checked in `threaded`, the only way to name this
    // function), so its single value occupies no bytes and cannot be invalid; function
    // items carry no invariant beyond their type.
    let f: F = unsafe { std::mem::zeroed() };
    let r = f(cpu, mem, op);
    finish(cpu, mem, op, r)
}

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
    /// An op running `exec`, of `len` bytes, with no operands yet.
    pub fn new(exec: Handler, len: u8) -> Op {
        Op {
            exec,
            imm: 0,
            disp: 0,
            r1: 0,
            r2: 0,
            base: NO_REG,
            index: NO_REG,
            scale: 0,
            len,
            aux: 0,
        }
    }

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
