//! The i386 interpreter. (Interface fixed here; the implementation is being written.)

use crate::memory::{GuestMemory, MemFault};

/// Register numbers, in the encoding's order.
pub mod reg {
    pub const EAX: usize = 0;
    pub const ECX: usize = 1;
    pub const EDX: usize = 2;
    pub const EBX: usize = 3;
    pub const ESP: usize = 4;
    pub const EBP: usize = 5;
    pub const ESI: usize = 6;
    pub const EDI: usize = 7;
}

/// Why [`Cpu::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// `int 0x80` executed; `eip` already points past it.
    Syscall,
    /// The instruction budget given to `run` is used up.
    InsnLimit,
    /// The guest faulted; `eip` is left at the faulting instruction.
    Fault(Fault),
}

/// A guest fault, with the address of the instruction that raised it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    pub eip: u32,
}

/// What kind of fault; each maps to the signal Linux would deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Undecodable bytes, or an instruction outside the supported set (SIGILL).
    InvalidOpcode,
    /// A data access or instruction fetch hit an unmapped page (SIGSEGV).
    Page(MemFault),
    /// div/idiv by zero or quotient overflow (SIGFPE).
    Divide,
    /// A privileged instruction or `int n` other than 0x80 (SIGSEGV).
    GeneralProtection,
    /// `int3` (SIGTRAP).
    Breakpoint,
}

/// CPU state plus its decoded-block cache.
#[derive(Clone, Default)]
pub struct Cpu {
    pub regs: [u32; 8],
    pub eip: u32,
}

impl Cpu {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn run(&mut self, _mem: &mut GuestMemory, _max_insns: u64) -> Stop {
        unimplemented!()
    }
}
