//! CPU engines: one trait, several implementations, all driven by the same kernel.
//!
//! The kernel (syscalls, memory layout, process model, sandbox) is shared; only the part
//! that executes guest instructions differs. [`AnyEngine`] is what a process holds: the
//! interpreter inline (the hot path is one `match`, no virtual call), anything else boxed
//! behind [`Engine`] (unicorn, the lockstep cross-check, test wrappers).

use crate::cpu::{reg, Cpu, Stop};
use crate::memory::GuestMemory;

/// Which engine runs the guests (see [`crate::kernel::Config::engine`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineKind {
    /// The block-cached interpreter.
    #[default]
    Interp,
    /// unicorn-engine (needs the `unicorn` feature).
    Unicorn,
    /// Both in lockstep, compared after every instruction (needs the `unicorn` feature).
    CrossCheck,
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
    Unicorn(#[from] crate::unicorn_engine::UnicornError),
    /// The cross-check saw the two engines disagree.
    #[error("{0}")]
    Divergence(Box<crate::lockstep::Divergence>),
    /// This build lacks the engine asked for.
    #[error("the {0} engine is not in this build (cargo feature `unicorn`)")]
    Unavailable(&'static str),
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
    /// The guest ranges `(addr, len)` the last `run` stored to, when the engine knows
    /// them (unicorn does, from its write hook).
    fn last_writes(&self) -> Option<&[(u32, u32)]> {
        None
    }
}

impl Engine for Cpu {
    fn name(&self) -> &'static str {
        "interp"
    }
    fn run(&mut self, mem: &mut GuestMemory, max_insns: u64) -> Result<Stop, EngineError> {
        Ok(Cpu::run(self, mem, max_insns))
    }
    fn regs(&self) -> [u32; 8] {
        self.regs
    }
    fn set_regs(&mut self, regs: [u32; 8]) {
        self.regs = regs;
    }
    fn eip(&self) -> u32 {
        self.eip
    }
    fn set_eip(&mut self, eip: u32) {
        self.eip = eip;
    }
    fn eflags(&self) -> u32 {
        Cpu::eflags(self)
    }
    fn set_eflags(&mut self, v: u32) {
        Cpu::set_eflags(self, v)
    }
    fn insns_retired(&self) -> u64 {
        Cpu::insns_retired(self)
    }
    fn flush_code_cache(&mut self, mem: &mut GuestMemory) {
        Cpu::flush_code_cache(self, mem)
    }
    fn fork(&self) -> Box<dyn Engine> {
        Box::new(self.clone())
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
    /// zero and EFLAGS 0x202 (as Linux starts a process). `counts` collects what a
    /// cross-check compared.
    pub fn start(
        kind: EngineKind,
        entry: u32,
        esp: u32,
        counts: &crate::lockstep::SharedCounts,
    ) -> Result<AnyEngine, EngineError> {
        let mut cpu = Cpu::new();
        cpu.eip = entry;
        cpu.regs[reg::ESP] = esp;
        let _ = counts;
        Ok(match kind {
            EngineKind::Interp => AnyEngine::Interp(cpu),
            #[cfg(feature = "unicorn")]
            EngineKind::Unicorn => {
                AnyEngine::Boxed(Box::new(crate::unicorn_fast::FastUnicorn::from_cpu(&cpu)))
            }
            #[cfg(feature = "unicorn")]
            EngineKind::CrossCheck => AnyEngine::Boxed(Box::new(crate::lockstep::Lockstep::new(
                Box::new(cpu.clone()),
                Box::new(crate::unicorn_engine::UnicornEngine::from_cpu(&cpu)),
                counts.clone(),
            ))),
            #[cfg(not(feature = "unicorn"))]
            EngineKind::Unicorn | EngineKind::CrossCheck => {
                return Err(EngineError::Unavailable("unicorn"))
            }
        })
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

    /// Register `r` (see [`reg`]).
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

/// The list of mapped pages of a [`GuestMemory`], kept up to date cheaply.
///
/// GuestMemory only answers `is_mapped` and a count, so changes are found from the count:
/// the kernel maps and unmaps only by moving the break or growing the stack, which
/// extends or trims the existing runs of pages; anything else falls back to probing all
/// 2^20 pages.
#[derive(Debug, Clone, Default)]
pub struct MappedPages {
    /// Page numbers (address >> 12), ascending.
    pages: Vec<u32>,
}

/// Pages that appeared and disappeared since the last [`MappedPages::update`].
#[derive(Debug, Default)]
pub struct PageChanges {
    pub added: Vec<u32>,
    pub removed: Vec<u32>,
}

impl MappedPages {
    /// Every mapped page of `mem`, by probing.
    pub fn scan(mem: &GuestMemory) -> MappedPages {
        MappedPages {
            pages: (0..1u32 << 20)
                .filter(|&p| mem.is_mapped(p << 12))
                .collect(),
        }
    }

    /// Page numbers, ascending.
    pub fn pages(&self) -> &[u32] {
        &self.pages
    }

    /// Brings the list up to date with `mem` and says what changed.
    pub fn update(&mut self, mem: &GuestMemory) -> PageChanges {
        let mut ch = PageChanges::default();
        if mem.mapped_pages() == self.pages.len() {
            return ch;
        }
        ch.removed = self
            .pages
            .iter()
            .copied()
            .filter(|&p| !mem.is_mapped(p << 12))
            .collect();
        self.pages.retain(|&p| mem.is_mapped(p << 12));
        let mapped = |p: u32| p < 1 << 20 && mem.is_mapped(p << 12);
        let mut added = Vec::new();
        for run in self.pages.chunk_by(|a, b| b.wrapping_sub(*a) == 1) {
            // Runs are disjoint and ascending: growth between two of them stops at the
            // next run's first page, and duplicates are removed below.
            let mut p = run[run.len() - 1] + 1;
            while mapped(p) && self.pages.binary_search(&p).is_err() {
                added.push(p);
                p += 1;
            }
            let mut p = run[0];
            while p > 0 && mapped(p - 1) && self.pages.binary_search(&(p - 1)).is_err() {
                p -= 1;
                added.push(p);
            }
        }
        self.pages.extend(&added);
        self.pages.sort_unstable();
        self.pages.dedup();
        if self.pages.len() != mem.mapped_pages() {
            let full = MappedPages::scan(mem);
            added.extend(
                full.pages
                    .iter()
                    .filter(|p| self.pages.binary_search(p).is_err()),
            );
            self.pages = full.pages;
        }
        added.sort_unstable();
        added.dedup();
        ch.added = added;
        ch
    }
}
