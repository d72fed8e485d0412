//! The one place that names every engine: [`EngineKind`] -> a running engine.
//!
//! The kernel starts each program image through an [`EngineFactory`]; [`Engines`] is the
//! factory for the built-in kinds. Tools that wrap an engine (an instruction trace) give
//! the kernel a factory of their own.

use super::lockstep::{Counts, SharedCounts};
use super::{AnyEngine, EngineError, EngineKind, SyscallAbi};
use crate::cpu::{reg, Cpu};

/// Makes the engine of each new program image (spawn, execve); forks copy an engine with
/// [`Engine::fork`](super::Engine::fork) instead.
pub trait EngineFactory {
    /// A fresh engine with eip at `entry` and ESP at `esp`, every other register zero and
    /// EFLAGS as Linux starts a process.
    fn start(&self, entry: u32, esp: u32) -> Result<AnyEngine, EngineError>;

    /// What the cross-checks of this factory's engines compared in agreement, over every
    /// process (zero when it makes no cross-check).
    fn cross_check_counts(&self) -> Counts {
        Counts::default()
    }

    /// What the JIT of this factory's engines did, over every process (`None` when its
    /// engines have no JIT).
    fn tier_stats(&self) -> Option<crate::cpu::tier::TierStats> {
        None
    }
}

/// The built-in engines of one kind, told the OS's syscall descriptions.
pub struct Engines {
    kind: EngineKind,
    abi: Option<&'static dyn SyscallAbi>,
    /// Shared by every process's cross-check.
    counts: SharedCounts,
    /// The JIT every process of the run shares (made at the first start that needs it),
    /// so each block of a binary is compiled once per run.
    jit: std::cell::OnceCell<Result<SharedTranslator, String>>,
}

/// A translator the processes of a run share.
pub type SharedTranslator = std::sync::Arc<dyn crate::cpu::tier::Translator>;

impl Engines {
    /// Engines of `kind`; `abi` says what the OS reads at each syscall stop.
    pub fn new(kind: EngineKind, abi: &'static dyn SyscallAbi) -> Engines {
        Engines {
            kind,
            abi: Some(abi),
            counts: SharedCounts::default(),
            jit: std::cell::OnceCell::new(),
        }
    }

    /// The run's JIT, if this factory has made one (for its statistics).
    pub fn jit(&self) -> Option<&SharedTranslator> {
        self.jit.get().and_then(|r| r.as_ref().ok())
    }
}

impl EngineFactory for Engines {
    fn start(&self, entry: u32, esp: u32) -> Result<AnyEngine, EngineError> {
        let jit = match self.kind {
            EngineKind::Jit | EngineKind::JitCrossCheck => Some(
                self.jit
                    .get_or_init(|| new_jit().map_err(|e| e.to_string()))
                    .clone()
                    .map_err(EngineError::JitUnavailable)?,
            ),
            _ => None,
        };
        start_with(self.kind, entry, esp, self.abi, &self.counts, jit)
    }

    fn cross_check_counts(&self) -> Counts {
        self.counts.get()
    }

    fn tier_stats(&self) -> Option<crate::cpu::tier::TierStats> {
        self.jit().map(|j| j.stats())
    }
}

/// The interpreter at `entry` with ESP at `esp` (the engine every build has).
pub fn interp(entry: u32, esp: u32) -> Cpu {
    let mut cpu = Cpu::new();
    cpu.eip = entry;
    cpu.regs[reg::ESP] = esp;
    cpu
}

/// An engine of `kind` (see [`EngineFactory::start`]); without `abi`, engines with their
/// own memory copy sync and compare everything at each syscall.
pub fn start(
    kind: EngineKind,
    entry: u32,
    esp: u32,
    abi: Option<&'static dyn SyscallAbi>,
    counts: &SharedCounts,
) -> Result<AnyEngine, EngineError> {
    let jit = match kind {
        EngineKind::Jit | EngineKind::JitCrossCheck => Some(new_jit()?),
        _ => None,
    };
    start_with(kind, entry, esp, abi, counts, jit)
}

/// Whether this build has a JIT that runs on this host (why not, otherwise).
pub fn jit_available() -> Result<(), EngineError> {
    new_jit().map(|_| ())
}

/// A new JIT for this host.
pub fn new_jit() -> Result<SharedTranslator, EngineError> {
    #[cfg(feature = "jit")]
    {
        crate::jit::Jit::new()
            .map(|j| std::sync::Arc::new(j) as SharedTranslator)
            .map_err(|e| EngineError::JitUnavailable(e.to_string()))
    }
    #[cfg(not(feature = "jit"))]
    Err(EngineError::Unavailable("jit"))
}

/// [`start`] with the JIT to use for the JIT kinds.
fn start_with(
    kind: EngineKind,
    entry: u32,
    esp: u32,
    abi: Option<&'static dyn SyscallAbi>,
    counts: &SharedCounts,
    jit: Option<SharedTranslator>,
) -> Result<AnyEngine, EngineError> {
    // Every engine starts from the interpreter's reset state, so they agree on it.
    let cpu = interp(entry, esp);
    let _ = (abi, counts);
    let tiered = |t: SharedTranslator| {
        let mut c = Cpu::with_tier(t);
        c.eip = entry;
        c.regs[reg::ESP] = esp;
        c
    };
    Ok(match kind {
        EngineKind::Jit => AnyEngine::Interp(tiered(jit.expect("made for the JIT kinds"))),
        EngineKind::JitCrossCheck => AnyEngine::Boxed(Box::new(
            super::lockstep::Lockstep::new(
                Box::new(tiered(jit.expect("made for the JIT kinds"))),
                Box::new(cpu),
                counts.clone(),
            )
            .with_syscalls(abi)
            .by_blocks(),
        )),
        EngineKind::Interp => AnyEngine::Interp(cpu),
        #[cfg(feature = "unicorn")]
        EngineKind::Unicorn => AnyEngine::Boxed(Box::new(
            super::unicorn_lazy::FastUnicorn::from_cpu(&cpu).with_syscalls(abi),
        )),
        #[cfg(feature = "unicorn")]
        EngineKind::CrossCheck => AnyEngine::Boxed(Box::new(
            super::lockstep::Lockstep::new(
                Box::new(cpu.clone()),
                Box::new(super::unicorn::UnicornEngine::from_cpu(&cpu)),
                counts.clone(),
            )
            .with_syscalls(abi),
        )),
        #[cfg(not(feature = "unicorn"))]
        EngineKind::Unicorn | EngineKind::CrossCheck => {
            return Err(EngineError::Unavailable("unicorn"))
        }
    })
}
