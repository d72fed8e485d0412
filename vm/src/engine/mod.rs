//! CPU engines: one trait, several implementations, all driven by the same kernel.
//!
//! The kernel (syscalls, memory layout, process model, sandbox) is shared; only the part
//! that executes guest instructions differs. Engines return [`Stop`]s and never name the
//! operating system: what they must know about a syscall stop (which guest memory the OS
//! reads, whether the image is copied, replaced or ended) they ask the [`SyscallAbi`] the
//! kernel hands their factory. Imports flow one way: `memory` -> `cpu` -> `engine` -> the
//! OS side (`kernel`, `syscalls`, `process`, `vfs`), never back.
//!
//! - [`interp`]: the interpreter ([`Cpu`]) as an engine;
//! - [`unicorn`], [`unicorn_lazy`]: unicorn-engine, reporting every store (for the
//!   cross-check and differential tests) or syncing memory only at stops (whole runs);
//! - [`lockstep`]: two engines compared after every instruction;
//! - [`registry`]: the one place that names every engine ([`EngineKind`] -> factory);
//! - [`mapped_pages`]: following the mapped pages of a memory between runs;
//! - [`syscall_stop`]: what engines ask the OS at a syscall stop.
//!
//! [`AnyEngine`] is what a process holds: the interpreter inline (the hot path is one
//! `match`, no virtual call), anything else boxed behind [`Engine`] (unicorn, the lockstep
//! cross-check, test wrappers).

pub mod interp;
pub mod lockstep;
pub mod mapped_pages;
pub mod registry;
pub mod syscall_stop;
#[cfg(feature = "unicorn")]
pub mod unicorn;
#[cfg(feature = "unicorn")]
pub mod unicorn_lazy;

use crate::cpu::{Cpu, Stop};
use crate::memory::GuestMemory;

pub use mapped_pages::{MappedPages, PageChanges};
pub use registry::{EngineFactory, Engines};
pub use syscall_stop::{GuestInput, ImageChange, SyscallAbi, SyscallMemory};

/// Which engine runs the guests (the kernel's `Config::engine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineKind {
    /// The block-cached interpreter.
    #[default]
    Interp,
    /// unicorn-engine (needs the `unicorn` feature).
    Unicorn,
    /// Both in lockstep, compared after every instruction (needs the `unicorn` feature).
    CrossCheck,
    /// The interpreter with the Cranelift JIT as its second tier (needs the `jit`
    /// feature, on by default).
    Jit,
    /// The JIT checked against the interpreter, block by block (needs the `jit` feature).
    JitCrossCheck,
}

/// Architectural state an engine can save and restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    pub regs: [u32; 8],
    pub eip: u32,
    pub eflags: u32,
    pub retired: u64,
}

/// Why an engine could not go on (never a guest fault: those are [`Stop::Fault`]).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The unicorn library failed.
    #[cfg(feature = "unicorn")]
    #[error(transparent)]
    Unicorn(#[from] unicorn::UnicornError),
    /// The cross-check saw the two engines disagree.
    #[error("{0}")]
    Divergence(Box<lockstep::Divergence>),
    /// A wrapping engine ended the run on purpose (an instruction trace reached the end
    /// of its window); the text says why.
    #[error("{0}")]
    Stopped(String),
    /// This build lacks the engine asked for (the name of the cargo feature it needs).
    #[error("the {0} engine is not in this build (cargo feature `{0}`)")]
    Unavailable(&'static str),
    /// The JIT cannot generate code for this host.
    #[error("{0}")]
    JitUnavailable(String),
}

/// An i386 user-mode CPU engine: executes guest code in a [`GuestMemory`].
pub trait Engine {
    /// A short name for reports ("interp", "unicorn").
    fn name(&self) -> &'static str;
    /// Runs until `int 0x80` ([`Stop::Syscall`], eip past it), a fault (eip at the
    /// faulting instruction), or `max_insns` instructions (exactly one when 1).
    fn run(&mut self, mem: &mut GuestMemory, max_insns: u64) -> Result<Stop, EngineError>;
    /// The eight general registers in the encoding's order.
    fn regs(&self) -> [u32; 8];
    fn set_regs(&mut self, regs: [u32; 8]);
    fn eip(&self) -> u32;
    fn set_eip(&mut self, eip: u32);
    /// EFLAGS as `pushfd` would see it.
    fn eflags(&self) -> u32;
    /// Sets the user-settable flags (CF PF AF ZF SF DF OF).
    fn set_eflags(&mut self, v: u32);
    /// Instructions retired so far.
    fn insns_retired(&self) -> u64;
    /// Forget decoded code (the image was replaced or unmapped).
    fn flush_code_cache(&mut self, mem: &mut GuestMemory);
    /// A copy for a forked child (same state; caches and host resources are rebuilt).
    fn fork(&self) -> Box<dyn Engine>;
    /// Registers, eip, EFLAGS and the retired count.
    fn state(&self) -> State {
        State {
            regs: self.regs(),
            eip: self.eip(),
            eflags: self.eflags(),
            retired: self.insns_retired(),
        }
    }
    /// Puts back registers, eip and EFLAGS (engines that can also rewind their retired
    /// count do so).
    fn restore(&mut self, s: &State) {
        self.set_regs(s.regs);
        self.set_eip(s.eip);
        self.set_eflags(s.eflags);
    }
    /// How many instructions the engine runs as one unit from its eip (its block), for
    /// the block-wise cross-check; 1 for engines that step instructions.
    fn block_len(&mut self, _mem: &mut GuestMemory) -> u64 {
        1
    }
    /// The guest ranges `(addr, len)` the last `run` stored to, when the engine knows
    /// them (unicorn does, from its write hook).
    fn last_writes(&self) -> Option<&[(u32, u32)]> {
        None
    }
}

/// The engine a process runs on.
// The interpreter is kept inline on purpose: it is the hot path, and a process owns one.
#[allow(clippy::large_enum_variant)]
pub enum AnyEngine {
    /// The interpreter, inline.
    Interp(Cpu),
    /// Any other engine.
    Boxed(Box<dyn Engine>),
}

impl Clone for AnyEngine {
    /// A forked child's engine.
    fn clone(&self) -> Self {
        match self {
            AnyEngine::Interp(c) => AnyEngine::Interp(c.clone()),
            AnyEngine::Boxed(e) => AnyEngine::Boxed(e.fork()),
        }
    }
}

impl AnyEngine {
    /// A fresh engine of `kind` with eip at `entry` and ESP at `esp`, every other register
    /// zero and EFLAGS as Linux starts a process; `counts` collects what a cross-check
    /// compared. Without the OS's syscall descriptions (see [`Engines::new`], which the
    /// kernel uses), engines with their own memory copy sync and compare everything at
    /// each syscall.
    pub fn start(
        kind: EngineKind,
        entry: u32,
        esp: u32,
        counts: &lockstep::SharedCounts,
    ) -> Result<AnyEngine, EngineError> {
        registry::start(kind, entry, esp, None, counts)
    }

    /// Whether this is the interpreter, which stops at any instruction count at no cost.
    pub fn is_interp(&self) -> bool {
        matches!(self, AnyEngine::Interp(_))
    }

    /// Runs the guest (see [`Engine::run`]).
    #[inline(always)]
    pub fn run(&mut self, mem: &mut GuestMemory, max_insns: u64) -> Result<Stop, EngineError> {
        match self {
            AnyEngine::Interp(c) => Ok(c.run(mem, max_insns)),
            AnyEngine::Boxed(e) => e.run(mem, max_insns),
        }
    }

    /// Register `r` (see [`crate::cpu::reg`]).
    pub fn reg(&self, r: usize) -> u32 {
        match self {
            AnyEngine::Interp(c) => c.regs[r],
            AnyEngine::Boxed(e) => e.regs()[r],
        }
    }

    /// Sets register `r`.
    pub fn set_reg(&mut self, r: usize, v: u32) {
        match self {
            AnyEngine::Interp(c) => c.regs[r] = v,
            AnyEngine::Boxed(e) => {
                let mut regs = e.regs();
                regs[r] = v;
                e.set_regs(regs);
            }
        }
    }

    /// All eight general registers.
    pub fn regs(&self) -> [u32; 8] {
        match self {
            AnyEngine::Interp(c) => c.regs,
            AnyEngine::Boxed(e) => e.regs(),
        }
    }

    pub fn eip(&self) -> u32 {
        match self {
            AnyEngine::Interp(c) => c.eip,
            AnyEngine::Boxed(e) => e.eip(),
        }
    }

    #[inline(always)]
    pub fn insns_retired(&self) -> u64 {
        match self {
            AnyEngine::Interp(c) => c.insns_retired(),
            AnyEngine::Boxed(e) => e.insns_retired(),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            AnyEngine::Interp(c) => Engine::name(c),
            AnyEngine::Boxed(e) => e.name(),
        }
    }
}
