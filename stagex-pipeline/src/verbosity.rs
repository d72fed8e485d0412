//! The global `-q`/`--quiet` and `-v`/`--verbose` flags (the same two as `stage0-runner`'s).

/// Global verbosity flags, flattened into the CLI's top level.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct Verbosity {
    /// Print only the verdict and errors (every command).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more detail: per-program lines, engine summaries (every command).
    #[arg(short, long, global = true)]
    pub verbose: bool,
}
