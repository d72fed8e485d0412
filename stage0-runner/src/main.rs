//! `stage0-runner`: run and verify the stage0-posix bootstrap chain inside an i386 emulator.

use stage0_chain::progress::ProgressMode;
use stage0_runner::cmd::{bench, ddc, exec, report, run, seed, step};
use stage0_runner::verbosity::Verbosity;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Run and verify the stage0-posix bootstrap chain inside an i386 emulator.
#[derive(Parser)]
#[command(name = "stage0-runner", version, about, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    verbosity: Verbosity,
    #[command(subcommand)]
    command: Command,
}

const EXIT_RUN: &str = "Exit status: 0 every answer matched (VERIFIED); 1 a step failed, an \
answer did not match or an output file could not be written (FAILED); 2 bad arguments or the \
tree is not ready.";
const EXIT_EXEC: &str = "Exit status: the guest's own status; 128 + signal when a fault killed \
it (SIGSEGV 139, like a shell); 124 when --max-insns stopped it; 125 when the runner could not \
start it or hit a host error; 2 bad arguments. With --cross-check-native: 0 the two runs agree, \
1 they differ, 126 this host cannot run i386 code natively, 125 other errors.";
const EXIT_DDC: &str = "Exit status: 0 every step, both output trees and every answer agree \
(DDC VERIFIED); 1 something differs (DDC FAILED); 2 bad arguments, tree not ready or a host \
error.";
const EXIT_BENCH: &str = "Exit status: 0 the emulated chain verified (and the qemu-i386 run, \
when qemu-i386 is installed); 1 otherwise; 2 bad arguments or scratch directory errors.";
const EXIT_OTHER: &str = "Exit status: 0 success; 1 the command failed (the reason is printed); \
2 bad arguments.";

#[derive(Subcommand)]
enum Command {
    /// Run one static i386 Linux program inside the sandbox.
    #[command(after_help = EXIT_EXEC)]
    Exec(exec::ExecArgs),
    /// Run the whole stage0 chain of TREE in the emulator and verify every answer.
    ///
    /// The chain writes its outputs into TREE (TREE/x86/artifact and TREE/x86/bin for the
    /// upstream layout, as a native run does); the files named by --provenance, --report,
    /// --attestation, --log and --strace are written where given.
    #[command(after_help = EXIT_RUN)]
    Run(run::RunArgs),
    /// Run the chain one program at a time, explaining each step.
    #[command(after_help = EXIT_OTHER)]
    Step(step::StepArgs),
    /// Write a finished run (its provenance) as an HTML page or a Graphviz graph.
    #[command(after_help = EXIT_OTHER)]
    Report(report::ReportArgs),
    /// Wall time of the whole chain natively, under qemu-i386 and in the emulator.
    #[command(after_help = EXIT_BENCH)]
    Bench(bench::BenchArgs),
    /// Run the chain with Rust / host-compiled substitutes and compare with all-emulated.
    #[command(after_help = EXIT_DDC)]
    Ddc(ddc::DdcArgs),
    /// The Rust seed tools.
    #[command(after_help = EXIT_OTHER)]
    Seed(seed::SeedArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    #[command(after_help = EXIT_OTHER)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout: `stage0-runner man | man -l -`.
    #[command(after_help = EXIT_OTHER)]
    Man,
}

fn main() -> ExitCode {
    // Exit quietly when stdout is closed early (`| head`) instead of panicking in println!.
    // SAFETY: restoring the default disposition of SIGPIPE before any output or thread.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    cli.verbosity.install();
    let code = match cli.command {
        Command::Exec(args) => exec::exec(args),
        Command::Run(mut args) => {
            args.quiet |= cli.verbosity.quiet;
            if cli.verbosity.verbose && args.progress == ProgressMode::Auto {
                args.progress = ProgressMode::Plain;
            }
            run::run(args)
        }
        Command::Step(args) => step::step(args),
        Command::Report(args) => report::report(args),
        Command::Bench(args) => bench::bench(args),
        Command::Ddc(args) => ddc::ddc(args),
        Command::Seed(args) => seed::seed(args),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "stage0-runner", &mut std::io::stdout());
            0
        }
        Command::Man => {
            match clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("stage0-runner man: {e}");
                    1
                }
            }
        }
    };
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
