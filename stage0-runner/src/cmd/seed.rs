//! `stage0-runner seed ...`: the `seed` crate's tools on the command line.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

#[derive(Args)]
pub struct SeedArgs {
    #[command(subcommand)]
    pub command: SeedCommand,
}

#[derive(Subcommand)]
pub enum SeedCommand {
    /// Decode a small ELF seed (e.g. hex0-seed) byte by byte: headers, code, data, and how
    /// its loops work, linked to the lines of its commented source.
    Explain {
        /// The executable to explain.
        file: PathBuf,
        /// Its commented hex0 source (default: found beside a stage0-posix seed, e.g.
        /// x86/hex0_x86.hex0 for bootstrap-seeds/POSIX/x86/hex0-seed).
        #[arg(long, value_name = "FILE")]
        source: Option<PathBuf>,
    },
}

/// The commented source stage0-posix keeps for a seed at `file`, if it is one.
fn default_source(file: &Path) -> Option<PathBuf> {
    let name = file.file_name()?.to_str()?;
    let source = match name {
        "hex0-seed" => "hex0_x86.hex0",
        "kaem-optional-seed" => "kaem-minimal.hex0",
        _ => return None,
    };
    // bootstrap-seeds/POSIX/x86/<seed> → x86/<source> at the root of the checkout.
    let root = file.parent()?.parent()?.parent()?.parent()?;
    let arch = file.parent()?.file_name()?;
    let p = root.join(arch).join(source);
    p.is_file().then_some(p)
}

pub fn seed(a: SeedArgs) -> u8 {
    match a.command {
        SeedCommand::Explain { file, source } => {
            let bytes = match std::fs::read(&file) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("stage0-runner seed explain: {}: {e}", file.display());
                    return 2;
                }
            };
            let given = source.is_some();
            let map = match source.or_else(|| default_source(&file)) {
                Some(src) => match std::fs::read(&src) {
                    Ok(text) => {
                        let map = seed::sourcemap::hex0(seed::Source::new(
                            src.display().to_string(),
                            text,
                        ));
                        if map.len() == bytes.len() {
                            Some(map)
                        } else {
                            eprintln!(
                                "stage0-runner seed explain: {} spells {} bytes but {} has {}: not its source, lines not shown",
                                src.display(),
                                map.len(),
                                file.display(),
                                bytes.len()
                            );
                            if given {
                                return 2;
                            }
                            None
                        }
                    }
                    Err(e) => {
                        eprintln!("stage0-runner seed explain: {}: {e}", src.display());
                        return 2;
                    }
                },
                None => None,
            };
            match seed::explain::explain_with_source(&bytes, map.as_ref()) {
                Ok(text) => {
                    print!("{text}");
                    match &map {
                        Some(m) => println!(
                            "\ncommented source: {} (lines shown as file:line)",
                            m.files[0].name
                        ),
                        None => println!("\ncommented source: none found (give --source FILE, e.g. x86/hex0_x86.hex0 of stage0-posix)"),
                    }
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
