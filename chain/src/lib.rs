//! The stage0-posix chain as a library: what a tree asks to run ([`plan`]), whether it is
//! ready ([`preflight`]), running it in the `vm` emulator ([`execute()`]), checking its
//! answers ([`answers`]), and what the run leaves behind ([`provenance`],
//! [`attestation`]).
//!
//! `stage0-runner` (the CLI) and `stagex-pipeline` both run chains through
//! [`execute()`]; neither parses the other's command line.
//!
//! ```no_run
//! use std::{cell::RefCell, path::Path, rc::Rc};
//! use stage0_chain::{execute, plan, Layout, NoHooks, Options};
//!
//! let tree = Path::new("stage0-posix");
//! let plan = plan(tree, Layout::Upstream)?;
//! let options = Options {
//!     answers: Some(tree.join("x86.answers")),
//!     ..Options::default()
//! };
//! let outcome = execute(tree, &plan, options, Rc::new(RefCell::new(NoHooks)))?;
//! println!("verified: {}", outcome.verified());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod answers;
pub mod attestation;
pub mod execute;
pub mod interrupt;
pub mod plan;
pub mod preflight;
pub mod progress;
pub mod provenance;
pub mod roles;
pub mod verbosity;

/// A line of a text input (answers file, Containerfile) that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}: {message}")]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl LineError {
    pub(crate) fn new(line: usize, message: impl Into<String>) -> Self {
        LineError {
            line,
            message: message.into(),
        }
    }
}

pub use execute::{
    engine_name, execute, prepare_tree, run_step, ChainError, CrossCheckCounts, Flow, Hooks,
    NoHooks, Options, Outcome, Sink, SinkKind, StepFailure, StepFailureKind,
};
pub use plan::{plan, Layout, Plan, PlanError, Step};
