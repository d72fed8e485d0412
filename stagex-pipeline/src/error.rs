//! The crate's error type: every variant names what failed and where.

use std::path::PathBuf;

/// Errors from reading a StageX tree, fetching sources and writing images.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path being accessed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A `package.toml` is not valid TOML or lacks a required key.
    #[error("{path}: invalid package.toml: {message}")]
    PackageToml {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// A `{placeholder}` template could not be expanded.
    #[error("template {template:?}: {message}")]
    Template {
        /// The template text.
        template: String,
        /// What is wrong with it.
        message: String,
    },
    /// The StageX tree is inconsistent (unknown `version_from`, cycle, ...).
    #[error("stagex tree: {0}")]
    Tree(String),
    /// A Containerfile instruction could not be understood.
    #[error("{path}:{line}: {message}")]
    Containerfile {
        /// The Containerfile.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A fetched source has the wrong sha256.
    #[error("source {source_name} ({file}): sha256 mismatch: expected {expected}, got {actual}")]
    HashMismatch {
        /// `[sources.NAME]` key in package.toml.
        source_name: String,
        /// The file name in the fetch/ layout.
        file: String,
        /// The hash package.toml declares.
        expected: String,
        /// The hash of the bytes we produced.
        actual: String,
    },
    /// No provider could produce a source.
    #[error("source {source_name} ({file}): not available: {reason}")]
    SourceUnavailable {
        /// `[sources.NAME]` key in package.toml.
        source_name: String,
        /// The file name in the fetch/ layout.
        file: String,
        /// Why each provider failed.
        reason: String,
    },
    /// An external command failed.
    #[error("command `{command}` failed: {message}")]
    Command {
        /// The command line.
        command: String,
        /// Exit status and stderr.
        message: String,
    },
    /// A build step failed inside the i386 emulator.
    #[error("emulated build: {0}")]
    Emulator(String),
    /// A target's engine build failed.
    #[error("{target}: {what}\n  fix: {fix}\n  log: {}", log.display())]
    EngineBuild {
        /// `<stage>-<name>`.
        target: String,
        /// What failed (the failing instruction when there is one).
        what: String,
        /// What to do about it.
        fix: String,
        /// The builder's full log.
        log: PathBuf,
    },
    /// Sources of the closure nobody could provide (nothing was built).
    #[error("{count} source(s) missing, nothing built:\n{list}  fix: put the files in --tarballs DIR (named as above, hashes checked), let --mirrors download them, or pass --missing-sources=continue to run the steps before the first missing file")]
    MissingSources {
        /// How many.
        count: usize,
        /// One block per source: file, hash, mirrors.
        list: String,
    },
    /// The engine's bootstrap-stage0 differs from the emulated one or the published digest.
    #[error("canary: bootstrap-stage0 differs ({0}); nothing else was built. fix: compare OUT/bootstrap-stage0 with OUT/.canary/bootstrap-stage0 (the engine, its version or the sources differ from StageX's)")]
    Canary(String),
    /// The engine, its versions or its configuration cannot build.
    #[error("container engine: {0}")]
    Engine(String),
    /// An input to the image writer is unusable.
    #[error("image: {0}")]
    Image(String),
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
