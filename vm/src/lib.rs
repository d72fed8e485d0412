//! An i386 user-mode emulator for static Linux programs.
//!
//! Modules, one job each:
//! - [`memory`]: the guest's 32-bit address space in 4 KiB pages.
//! - [`cpu`]: the interpreter (decoded-block cache, lazy flags).
//! - [`engine`]: the engine trait the kernel drives, its implementations (interpreter,
//!   unicorn, the lockstep cross-check) and the registry that names them; engines import
//!   only `memory` and `cpu`, never the OS side below.
//! - [`elf`]: loading ELF32 executables and laying out the initial stack.
//! - [`vfs`]: the sandboxed file view (a host directory is the guest's `/`).
//! - [`syscalls`]: the allow-listed Linux syscall surface, described as data
//!   (`syscalls::table`).
//! - [`process`], [`kernel`]: guest processes, fork/execve/waitpid, the run loop.
//! - [`record`]: what each program read, wrote and executed.

pub mod cpu;
pub mod elf;
pub mod engine;
pub mod errno;
pub mod exec_hook;
#[cfg(feature = "jit")]
pub mod jit;
pub mod kernel;
pub mod limits;
pub mod memory;
pub mod process;
pub mod record;
pub mod syscalls;
pub mod vfs;

pub use cpu::{Cpu, Fault, FaultKind, Stop};
pub use engine::{AnyEngine, Engine, EngineError, EngineFactory, EngineKind};
pub use kernel::{Config, FaultReport, Kernel, RunError, RunStats, SpawnError, Stdio};
pub use limits::{Limit, Limits};
pub use memory::{GuestMemory, MemFault, WriteLogId, PAGE_SIZE};
pub use record::{ExitStatus, FileAccess, ProcessRecord, RecordEnd};
