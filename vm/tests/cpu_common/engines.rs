//! The engines the conformance tests run on: the only place test code builds an engine.
//!
//! Every engine of the build is listed here: the interpreter always; with the `unicorn`
//! feature unicorn with a store hook (`engine/unicorn.rs`, the cross-check's second
//! engine), unicorn for whole runs (`engine/unicorn_lazy.rs`, `--engine unicorn`) and the two in
//! lockstep (`--cross-check`). Where an engine differs from the interpreter on a
//! documented point, [`EngineUnderTest`] says so in a method the tests ask explicitly.

use vm::engine::Engine;
use vm::Cpu;

/// One engine the conformance tests instantiate (`conformance::<name>::<test>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineUnderTest {
    /// The block-cached interpreter (`vm::Cpu`).
    Interp,
    /// unicorn with a write hook: every store copied back at each stop.
    #[cfg(feature = "unicorn")]
    Unicorn,
    /// unicorn as `--engine unicorn` runs it: memory handed over only where the kernel
    /// looks (see [`EngineUnderTest::memory_is_partial_after_a_stop`]).
    #[cfg(feature = "unicorn")]
    UnicornFast,
    /// The interpreter and unicorn in lockstep, compared after every instruction.
    #[cfg(feature = "unicorn")]
    Lockstep,
    /// The interpreter with the JIT tier, every block translated before it first runs.
    #[cfg(feature = "jit")]
    Jit,
    /// That JIT against the interpreter, compared after every block (`--cross-check jit`).
    #[cfg(feature = "jit")]
    JitLockstep,
}

/// The JIT engine in the state of `start`, translating every block at once.
#[cfg(feature = "jit")]
fn jit_from(start: &Cpu) -> Cpu {
    let jit = vm::engine::registry::new_jit().expect("the JIT runs on this host");
    let mut c = Cpu::with_tier_at(jit, vm::cpu::tier::Heat::AT_ONCE);
    c.regs = start.regs;
    c.eip = start.eip;
    c.set_eflags(start.eflags());
    c
}

impl EngineUnderTest {
    /// The name of its test module.
    pub fn name(self) -> &'static str {
        match self {
            EngineUnderTest::Interp => "interp",
            #[cfg(feature = "unicorn")]
            EngineUnderTest::Unicorn => "unicorn",
            #[cfg(feature = "unicorn")]
            EngineUnderTest::UnicornFast => "unicorn_fast",
            #[cfg(feature = "unicorn")]
            EngineUnderTest::Lockstep => "lockstep",
            #[cfg(feature = "jit")]
            EngineUnderTest::Jit => "jit",
            #[cfg(feature = "jit")]
            EngineUnderTest::JitLockstep => "jit_lockstep",
        }
    }

    /// A fresh engine in the state of `start` (registers, eip, EFLAGS, retired count).
    ///
    /// This is the one place the tests construct engines: when vm gains an engine
    /// registry, only this function changes.
    pub fn build(self, start: &Cpu) -> Box<dyn Engine> {
        match self {
            EngineUnderTest::Interp => Box::new(start.clone()),
            #[cfg(feature = "unicorn")]
            EngineUnderTest::Unicorn => {
                Box::new(vm::engine::unicorn::UnicornEngine::from_cpu(start))
            }
            #[cfg(feature = "unicorn")]
            EngineUnderTest::UnicornFast => {
                Box::new(vm::engine::unicorn_lazy::FastUnicorn::from_cpu(start))
            }
            #[cfg(feature = "unicorn")]
            EngineUnderTest::Lockstep => Box::new(vm::engine::lockstep::Lockstep::new(
                Box::new(start.clone()),
                Box::new(vm::engine::unicorn::UnicornEngine::from_cpu(start)),
                Default::default(),
            )),
            #[cfg(feature = "jit")]
            EngineUnderTest::Jit => Box::new(jit_from(start)),
            #[cfg(feature = "jit")]
            EngineUnderTest::JitLockstep => Box::new(
                vm::engine::lockstep::Lockstep::new(
                    Box::new(jit_from(start)),
                    Box::new(start.clone()),
                    Default::default(),
                )
                .by_blocks(),
            ),
        }
    }

    /// Whether the engine counts every iteration of a `rep` string instruction as one
    /// retired instruction (and one unit of budget), where the interpreter counts the
    /// instruction once. Documented: README "Second engine and cross-check" ("unicorn
    /// counts `rep` iterations") and `UnicornCpu::run`. The lockstep reports the
    /// interpreter's count.
    pub fn counts_rep_iterations(self) -> bool {
        match self {
            EngineUnderTest::Interp => false,
            #[cfg(feature = "unicorn")]
            EngineUnderTest::Unicorn | EngineUnderTest::UnicornFast => true,
            #[cfg(feature = "unicorn")]
            EngineUnderTest::Lockstep => false,
            #[cfg(feature = "jit")]
            EngineUnderTest::Jit | EngineUnderTest::JitLockstep => false,
        }
    }

    /// The instructions retired by code that ran `others` instructions and one `rep` string
    /// instruction that completed `iterations` iterations (`finished`: it ran out of ECX or
    /// its condition, rather than faulting). The interpreter retires the `rep` instruction
    /// once, when it finishes; unicorn counts every block it enters: each iteration, and
    /// the check that ends the loop (see [`EngineUnderTest::counts_rep_iterations`]).
    pub fn retired_with_rep(self, others: u64, iterations: u64, finished: bool) -> u64 {
        if self.counts_rep_iterations() {
            others + iterations + u64::from(finished)
        } else {
            others + u64::from(finished)
        }
    }

    /// What `popfd` of 0xffffffff does (see [`PopfdAllOnes`]).
    pub fn popfd_all_ones(self) -> PopfdAllOnes {
        match self {
            EngineUnderTest::Interp => PopfdAllOnes::KeepsUserFlags,
            #[cfg(feature = "unicorn")]
            EngineUnderTest::Unicorn | EngineUnderTest::UnicornFast => PopfdAllOnes::TrapsOnTf,
            #[cfg(feature = "unicorn")]
            EngineUnderTest::Lockstep => PopfdAllOnes::Diverges,
            #[cfg(feature = "jit")]
            EngineUnderTest::Jit | EngineUnderTest::JitLockstep => PopfdAllOnes::KeepsUserFlags,
        }
    }

    /// Whether, after a stop, the kernel's memory holds only what the stop needs (a
    /// syscall: the buffers it reads; a fault: the bytes at eip) rather than every store.
    /// Documented in `engine/unicorn_lazy.rs` ("Out"). A run ended by its budget hands over every
    /// page, so the tests' [`Guest`](super::Guest) ends such a stop with a one-instruction
    /// run on a page of its own before it looks at memory (see `Guest::sync_memory`).
    pub fn memory_is_partial_after_a_stop(self) -> bool {
        #[cfg(feature = "unicorn")]
        if self == EngineUnderTest::UnicornFast {
            return true;
        }
        false
    }
}

/// What `popfd` does with every EFLAGS bit set: a documented difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PopfdAllOnes {
    /// Only the user-settable flags change (the interpreter: `cpu/exec/stack.rs`, `popf`).
    KeepsUserFlags,
    /// TF is set as on a CPU, so the next instruction ends in a single-step trap (unicorn).
    TrapsOnTf,
    /// The lockstep pair disagree at that trap and report it.
    Diverges,
}

/// Defines `conformance::<engine>::<test>` for every engine of the build, each calling the
/// function `<test>(EngineUnderTest)` of the invoking module.
///
/// An instance an engine fails is marked in the list, and only that instance is ignored:
/// `name [unicorn_fast = "engine bug: …"]`.
#[allow(unused_macros)]
macro_rules! conformance {
    ($($name:ident $([$($bug:tt)*])?),* $(,)?) => {
        mod conformance {
            mod interp {
                $( $crate::cpu_common::conformance!(@test interp, $crate::cpu_common::EngineUnderTest::Interp, $name, [$($($bug)*)?]); )*
            }
            #[cfg(feature = "unicorn")]
            mod unicorn {
                $( $crate::cpu_common::conformance!(@test unicorn, $crate::cpu_common::EngineUnderTest::Unicorn, $name, [$($($bug)*)?]); )*
            }
            #[cfg(feature = "unicorn")]
            mod unicorn_fast {
                $( $crate::cpu_common::conformance!(@test unicorn_fast, $crate::cpu_common::EngineUnderTest::UnicornFast, $name, [$($($bug)*)?]); )*
            }
            #[cfg(feature = "unicorn")]
            mod lockstep {
                $( $crate::cpu_common::conformance!(@test lockstep, $crate::cpu_common::EngineUnderTest::Lockstep, $name, [$($($bug)*)?]); )*
            }
            #[cfg(feature = "jit")]
            mod jit {
                $( $crate::cpu_common::conformance!(@test jit, $crate::cpu_common::EngineUnderTest::Jit, $name, [$($($bug)*)?]); )*
            }
            #[cfg(feature = "jit")]
            mod jit_lockstep {
                $( $crate::cpu_common::conformance!(@test jit_lockstep, $crate::cpu_common::EngineUnderTest::JitLockstep, $name, [$($($bug)*)?]); )*
            }
        }
    };
    // No mark left for this engine: a plain test.
    (@test $engine:ident, $kind:expr, $name:ident, []) => {
        #[test]
        fn $name() {
            super::super::$name($kind)
        }
    };
    // A mark for this very engine (one rule per engine: macro_rules compares only literal
    // tokens): the instance is ignored with its reason.
    (@test interp, $kind:expr, $name:ident, [interp = $why:literal $(, $($rest:tt)*)?]) => {
        $crate::cpu_common::conformance!(@ignored $kind, $name, $why);
    };
    (@test unicorn, $kind:expr, $name:ident, [unicorn = $why:literal $(, $($rest:tt)*)?]) => {
        $crate::cpu_common::conformance!(@ignored $kind, $name, $why);
    };
    (@test unicorn_fast, $kind:expr, $name:ident, [unicorn_fast = $why:literal $(, $($rest:tt)*)?]) => {
        $crate::cpu_common::conformance!(@ignored $kind, $name, $why);
    };
    (@test lockstep, $kind:expr, $name:ident, [lockstep = $why:literal $(, $($rest:tt)*)?]) => {
        $crate::cpu_common::conformance!(@ignored $kind, $name, $why);
    };
    (@test jit, $kind:expr, $name:ident, [jit = $why:literal $(, $($rest:tt)*)?]) => {
        $crate::cpu_common::conformance!(@ignored $kind, $name, $why);
    };
    (@test jit_lockstep, $kind:expr, $name:ident, [jit_lockstep = $why:literal $(, $($rest:tt)*)?]) => {
        $crate::cpu_common::conformance!(@ignored $kind, $name, $why);
    };
    // A mark for another engine: look further.
    (@test $engine:ident, $kind:expr, $name:ident, [$other:ident = $why:literal $(, $($rest:tt)*)?]) => {
        $crate::cpu_common::conformance!(@test $engine, $kind, $name, [$($($rest)*)?]);
    };
    (@ignored $kind:expr, $name:ident, $why:literal) => {
        #[test]
        #[ignore = $why]
        fn $name() {
            super::super::$name($kind)
        }
    };
}
pub(crate) use conformance;
