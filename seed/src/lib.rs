//! Native Rust implementations of the stage0-posix seed formats.
//!
//! Each tool takes the same command line as the upstream program it mirrors
//! and produces byte-identical output on the bootstrap chain's inputs:
//!
//! | tool | upstream | format |
//! |------|----------|--------|
//! | `hex0` | `hex0-seed`, `hex0_x86.hex0` | [`hex0`] |
//! | `hex1` | `hex1_x86.hex0` | [`hex1`] |
//! | `hex2-0` | `hex2_x86.hex1` | [`hex2`] ([`hex2::HEX2_0`]) |
//! | `hex2` | mescc-tools `hex2` | [`hex2`] ([`hex2::HEX2_C`]) |
//! | `catm` | `catm_x86.hex2`, mescc-tools-extra `catm` | [`catm`] |
//! | `M0` | `M0_x86.hex2` | [`m0`] |
//! | `M1` | mescc-tools `M1` | [`m1`] |
//! | `blood-elf` | mescc-tools `blood-elf` | [`blood_elf`] |
//!
//! Where upstream silently truncates, drops or loops forever, these tools stop
//! with a [`SeedError`] naming the file, line and column; each module's
//! documentation lists those cases.
//!
//! [`run_tool`] runs a tool against any [`SeedFs`]; [`tool_for_program`] maps
//! the chain's program paths to tool names; [`explain`] decodes a small ELF
//! seed byte by byte.

pub mod blood_elf;
pub mod catm;
pub mod cli;
pub mod error;
pub mod explain;
pub mod fs;
pub mod hex0;
pub mod hex1;
pub mod hex2;
pub mod m0;
pub mod m1;
pub mod numbers;
pub mod programs;
pub mod source;
pub mod sourcemap;
#[cfg(feature = "testgen")]
pub mod testgen;

pub use cli::{run_tool, TOOLS};
pub use error::{InputError, SeedError, SourcePos};
pub use fs::{HostFs, MemFs, RecordingFs, SeedFs};
pub use programs::tool_for_program;
pub use source::Source;
