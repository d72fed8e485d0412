//! Run and verify the stage0-posix bootstrap chain inside the `vm` emulator.
//!
//! The library behind the `stage0-runner` command, so other tools (the StageX pipeline,
//! tests) can run a chain and read its provenance.

pub mod attestation;
pub mod bench_cmd;
pub mod chain;
pub mod ddc;
pub mod exec;
pub mod json_summary;
pub mod native;
pub mod progress;
pub mod provenance;
pub mod report_cmd;
pub mod roles;
pub mod run_cmd;
pub mod sandbox_args;
pub mod seed_cmd;
pub mod step_cmd;
pub mod step_log;
pub mod summary;
pub mod teach;
pub mod trace;
pub mod verbosity;
