//! The chain: which guest commands a layout runs, in order, and running them.

pub mod answers;
pub mod preflight;
pub mod stagex;
pub mod upstream;

use std::path::{Path, PathBuf};

/// Which kind of tree is being run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// A stage0-posix checkout with submodules, run as kaem.x86 runs it.
    Upstream,
    /// The root StageX's packages/bootstrap/stage0 Containerfile builds in.
    Stagex,
}

/// One top-level guest command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub argv: Vec<String>,
    /// Guest working directory.
    pub cwd: String,
    /// Guest environment (`KEY=VALUE`).
    pub env: Vec<String>,
}

/// Everything a layout asks for before and while running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub layout: Layout,
    /// Files to create in the tree before the first step (guest path, contents).
    pub files: Vec<(String, Vec<u8>)>,
    pub steps: Vec<Step>,
    /// Directories (guest paths) whose contents the chain produces; excluded from input hashes.
    pub outputs: Vec<String>,
    /// Default answers file (guest path), if the layout has one.
    pub answers: Option<String>,
}

/// Why a plan could not be made from a tree.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Reads the plan of `layout` from `tree`.
pub fn plan(tree: &Path, layout: Layout) -> Result<Plan, PlanError> {
    match layout {
        Layout::Upstream => upstream::plan(tree),
        Layout::Stagex => stagex::plan(tree),
    }
}

pub(crate) fn read_text(path: &Path) -> Result<String, PlanError> {
    std::fs::read_to_string(path).map_err(|source| PlanError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Runs one top-level step in `kernel` (its environment, then its program to the end):
/// `Err` with a sentence naming the step when it cannot start, fails or stops.
pub fn run_step(kernel: &mut vm::Kernel, step: &Step) -> Result<(), String> {
    let what = step.argv.join(" ");
    kernel.set_env(step.env.iter().map(|e| e.as_bytes().to_vec()).collect());
    if let Err(e) = kernel.spawn(&step.cwd, &step.argv[0], &step.argv) {
        return Err(format!("step `{what}` could not start: {e}"));
    }
    match kernel.run() {
        Ok(vm::ExitStatus::Code(0)) => Ok(()),
        Ok(s) => Err(format!(
            "step `{what}` failed with status {}",
            s.shell_code()
        )),
        Err(e) => Err(format!("step `{what}` stopped: {e}")),
    }
}
