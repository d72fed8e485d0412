//! The global `-q`/`--quiet` and `-v`/`--verbose` flags of both CLIs (`stage0-runner`,
//! `stagex-pipeline`), set once by `main` and read by the commands (so each command's own
//! argument struct stays as it is). The flag struct needs the `clap` feature.

use std::sync::atomic::{AtomicU8, Ordering};

static LEVEL: AtomicU8 = AtomicU8::new(NORMAL);

const QUIET: u8 = 0;
const NORMAL: u8 = 1;
const VERBOSE: u8 = 2;

/// Global verbosity flags, flattened into each CLI's top level.
#[cfg(feature = "clap")]
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct Verbosity {
    /// Print only the verdict and errors (every command).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more detail: per-program lines, engine summaries (every command).
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[cfg(feature = "clap")]
impl Verbosity {
    /// Makes these flags the process's verbosity.
    pub fn install(self) {
        let level = match (self.quiet, self.verbose) {
            (true, _) => QUIET,
            (false, true) => VERBOSE,
            _ => NORMAL,
        };
        LEVEL.store(level, Ordering::Relaxed);
    }
}

/// `-q` was given.
pub fn quiet() -> bool {
    LEVEL.load(Ordering::Relaxed) == QUIET
}

/// `-v` was given.
pub fn verbose() -> bool {
    LEVEL.load(Ordering::Relaxed) == VERBOSE
}
