//! `stage0-runner`: run and verify the stage0-posix bootstrap chain inside an i386 emulator.

mod exec;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Run and verify the stage0-posix bootstrap chain inside an i386 emulator.
#[derive(Parser)]
#[command(name = "stage0-runner", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one static i386 Linux program inside the sandbox.
    Exec(exec::ExecArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Exec(args) => exec::exec(args),
    };
    ExitCode::from(code)
}
