//! `stage0-runner`: run and verify the stage0-posix bootstrap chain inside an i386 emulator.

use stage0_runner::{bench_cmd, ddc, exec, report_cmd, run_cmd, seed_cmd, step_cmd};

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
    /// Run the whole stage0 chain of TREE in the emulator and verify every answer.
    Run(run_cmd::RunArgs),
    /// Run the chain one program at a time, explaining each step.
    Step(step_cmd::StepArgs),
    /// Write a finished run (its provenance) as an HTML page or a Graphviz graph.
    Report(report_cmd::ReportArgs),
    /// Wall time of the whole chain natively, under qemu-i386 and in the emulator.
    Bench(bench_cmd::BenchArgs),
    /// Run the chain with Rust / host-compiled substitutes and compare with all-emulated.
    Ddc(ddc::DdcArgs),
    /// The Rust seed tools.
    Seed(seed_cmd::SeedArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Exec(args) => exec::exec(args),
        Command::Run(args) => run_cmd::run(args),
        Command::Step(args) => step_cmd::step(args),
        Command::Report(args) => report_cmd::report(args),
        Command::Bench(args) => bench_cmd::bench(args),
        Command::Ddc(args) => ddc::ddc(args),
        Command::Seed(args) => seed_cmd::seed(args),
    };
    ExitCode::from(code)
}
