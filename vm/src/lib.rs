//! An i386 user-mode emulator for static Linux programs.
//!
//! Modules, one job each:
//! - [`memory`]: the guest's 32-bit address space in 4 KiB pages.
//! - [`cpu`]: the interpreter (decoded-block cache, lazy flags).

pub mod cpu;
pub mod memory;

pub use cpu::{Cpu, Fault, FaultKind, Stop};
pub use memory::{GuestMemory, MemFault, PAGE_SIZE};
