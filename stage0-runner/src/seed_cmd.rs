//! `stage0-runner seed ...`: the `seed` crate's tools on the command line.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Args)]
pub struct SeedArgs {
    #[command(subcommand)]
    pub command: SeedCommand,
}

#[derive(Subcommand)]
pub enum SeedCommand {
    /// Decode a small ELF seed (e.g. hex0-seed) byte by byte: headers, code, data.
    Explain {
        /// The executable to explain.
        file: PathBuf,
    },
}

pub fn seed(a: SeedArgs) -> u8 {
    match a.command {
        SeedCommand::Explain { file } => {
            let bytes = match std::fs::read(&file) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("stage0-runner seed explain: {}: {e}", file.display());
                    return 2;
                }
            };
            match seed::explain::explain(&bytes) {
                Ok(text) => {
                    print!("{text}");
                    0
                }
                Err(e) => {
                    eprintln!("stage0-runner seed explain: {}: {e}", file.display());
                    1
                }
            }
        }
    }
}
