//! The chain's plan: which guest commands a layout runs, in order.

pub mod stagex;
pub mod upstream;

use std::path::{Path, PathBuf};

/// Which kind of tree is being run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
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
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// Guest working directory.
    pub cwd: String,
    /// Guest environment (`KEY=VALUE`).
    pub env: Vec<String>,
}

/// Everything a layout asks for before and while running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The layout the plan was read from.
    pub layout: Layout,
    /// Files to create in the tree before the first step (guest path, contents).
    pub files: Vec<(String, Vec<u8>)>,
    /// The top-level commands, in order.
    pub steps: Vec<Step>,
    /// Directories (guest paths) whose contents the chain produces; excluded from input hashes.
    pub outputs: Vec<String>,
    /// Default answers file (guest path), if the layout has one.
    pub answers: Option<String>,
}

/// Why a plan could not be made from a tree.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The script or Containerfile could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A line of it could not be understood.
    #[error("{path}:{line}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
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
