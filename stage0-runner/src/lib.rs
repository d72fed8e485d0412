//! The `stage0-runner` command line: its commands ([`cmd`]) and what they print. The chain
//! itself (plans, running them, provenance, attestations) is the `stage0-chain` library.

pub mod cmd;
pub mod json_summary;
pub mod native;
pub mod render;
pub mod sandbox_args;
pub mod step_log;
pub mod summary;
pub mod teach;
pub mod trace;
pub use stage0_chain::verbosity;
