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
}

/// The built-in engines of one kind, told the OS's syscall descriptions.
pub struct Engines {
    kind: EngineKind,
    abi: Option<&'static dyn SyscallAbi>,
    /// Shared by every process's cross-check.
    counts: SharedCounts,
}

impl Engines {
    /// Engines of `kind`; `abi` says what the OS reads at each syscall stop.
    pub fn new(kind: EngineKind, abi: &'static dyn SyscallAbi) -> Engines {
        Engines {
            kind,
            abi: Some(abi),
            counts: SharedCounts::default(),
        }
    }
}

impl EngineFactory for Engines {
    fn start(&self, entry: u32, esp: u32) -> Result<AnyEngine, EngineError> {
        start(self.kind, entry, esp, self.abi, &self.counts)
    }

    fn cross_check_counts(&self) -> Counts {
        self.counts.get()
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
    // Every engine starts from the interpreter's reset state, so they agree on it.
    let cpu = interp(entry, esp);
    let _ = (abi, counts);
    Ok(match kind {
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
