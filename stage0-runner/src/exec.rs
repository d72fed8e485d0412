//! `stage0-runner exec`: one guest program in a sandbox, exit status passed through.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use vm::kernel::{Config, Kernel, RunError, Stdio};

/// Exit status when the runner itself stops the guest (limits, host errors), as `timeout`
/// and `env` use them.
pub const EXIT_INSN_LIMIT: u8 = 124;
pub const EXIT_RUNNER_ERROR: u8 = 125;

#[derive(Args)]
pub struct ExecArgs {
    /// Host directory that becomes the guest's `/`.
    #[arg(long)]
    root: PathBuf,
    /// Guest working directory.
    #[arg(long, default_value = "/")]
    cwd: String,
    /// Guest environment variable (repeatable); the guest sees nothing else.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Stop the run after this many guest instructions.
    #[arg(long)]
    max_insns: Option<u64>,
    /// Stop at the first syscall outside the allow-list instead of returning ENOSYS.
    #[arg(long)]
    strict_syscalls: bool,
    /// Log every syscall with its arguments and result to FILE.
    #[arg(long, value_name = "FILE")]
    strace: Option<PathBuf>,
    /// The guest clock (time(2)) reads this; defaults to $SOURCE_DATE_EPOCH or 0.
    #[arg(long, env = "SOURCE_DATE_EPOCH", default_value_t = 0)]
    source_date_epoch: u32,
    /// Print a one-line summary (instructions, syscalls, wall time) to stderr.
    #[arg(short, long)]
    verbose: bool,
    /// Which engine runs the guest (and whether to cross-check it with unicorn).
    #[command(flatten)]
    engine: crate::run_cmd::EngineArgs,
    /// Also run the program on the host CPU, each run on its own copy of the root, and
    /// compare status, output and files: exit 0 when everything agrees, 1 when something
    /// differs, 126 when this host cannot run i386 code natively.
    #[arg(long, conflicts_with = "cross_check")]
    cross_check_native: bool,
    /// Print one JSON summary object on stdout after the guest ends; the guest's own
    /// stdout then goes to stderr.
    #[arg(long, conflicts_with = "cross_check_native")]
    json: bool,
    /// Wall-clock limit in seconds of the native run of `--cross-check-native`.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    native_timeout: u64,
    /// Guest path of the program (absolute, or relative to --cwd).
    program: String,
    /// Arguments after argv[0].
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// Runs the program; returns the exit status a shell would see.
pub fn exec(mut a: ExecArgs) -> u8 {
    // `--cross-check native PROG`: the old spelling reads `native` as the program.
    if a.engine.cross_check && !a.args.is_empty() {
        let word = std::path::Path::new(&a.program);
        if let Some(e) = crate::run_cmd::oracle_word_error(true, Some(word)) {
            eprintln!("stage0-runner: {e}");
            return 2;
        }
    }
    a.verbose |= crate::verbosity::verbose();
    for e in &a.env {
        if !e.contains('=') {
            eprintln!("stage0-runner: --env {e:?} is not KEY=VALUE");
            return 2;
        }
    }
    if a.cross_check_native {
        return native_cross_check(&a);
    }
    let mut cfg = Config::new(&a.root);
    cfg.env = a.env.iter().map(|e| e.as_bytes().to_vec()).collect();
    cfg.max_insns = a.max_insns;
    cfg.strict_syscalls = a.strict_syscalls;
    cfg.source_date_epoch = a.source_date_epoch;
    cfg.record_files = false;
    cfg.engine = match a.engine.kind() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("stage0-runner: {e}");
            return 2;
        }
    };
    let stdio = if a.json {
        // stdout carries the summary alone.
        Stdio {
            stdin: Box::new(std::io::empty()),
            stdout: Box::new(std::io::BufWriter::new(std::io::stderr())),
            stderr: Box::new(std::io::BufWriter::new(std::io::stderr())),
        }
    } else {
        Stdio::inherit()
    };
    let mut kernel = match Kernel::new(cfg, stdio) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("stage0-runner: {e}");
            return EXIT_RUNNER_ERROR;
        }
    };
    if let Some(path) = &a.strace {
        match std::fs::File::create(path) {
            Ok(f) => kernel.set_strace(Box::new(std::io::BufWriter::new(f))),
            Err(e) => {
                eprintln!("stage0-runner: --strace {}: {e}", path.display());
                return EXIT_RUNNER_ERROR;
            }
        }
    }
    let mut argv = vec![a.program.clone()];
    argv.extend(a.args.iter().cloned());
    if let Err(e) = kernel.spawn(&a.cwd, &a.program, &argv) {
        eprintln!("stage0-runner: cannot start {}: {e}", a.program);
        return EXIT_RUNNER_ERROR;
    }
    let start = Instant::now();
    let result = kernel.run();
    let wall = start.elapsed();
    for f in kernel.faults() {
        eprintln!("stage0-runner: {f}");
    }
    let stats = kernel.stats();
    if !stats.unknown_syscalls.is_empty() {
        let list: Vec<String> = stats
            .unknown_syscalls
            .iter()
            .map(|(nr, n)| format!("{nr} (x{n})"))
            .collect();
        eprintln!(
            "stage0-runner: warning: syscalls outside the allow-list were answered ENOSYS: {}",
            list.join(", ")
        );
    }
    if a.verbose {
        let secs = wall.as_secs_f64();
        eprintln!(
            "stage0-runner: {} instructions, {} syscalls, {} processes, {:.3} s wall ({:.0} M instructions/s), peak guest memory {:.1} MiB",
            stats.instructions,
            stats.syscalls,
            stats.processes,
            secs,
            stats.instructions as f64 / secs.max(1e-9) / 1e6,
            stats.peak_guest_pages as f64 * 4096.0 / (1024.0 * 1024.0)
        );
    }
    let (code, end, error) = match result {
        Ok(status) => (
            status.shell_code().clamp(0, 255) as u8,
            match status {
                vm::ExitStatus::Code(c) => format!("exit {c}"),
                vm::ExitStatus::Signal(s) => format!("signal {s}"),
            },
            None,
        ),
        Err(e @ RunError::InsnLimit { .. }) => {
            eprintln!("stage0-runner: stopped: {e}");
            (
                EXIT_INSN_LIMIT,
                "instruction limit".into(),
                Some(e.to_string()),
            )
        }
        Err(e) => {
            eprintln!("stage0-runner: stopped: {e}");
            (EXIT_RUNNER_ERROR, "error".into(), Some(e.to_string()))
        }
    };
    if a.json {
        let stats = kernel.stats();
        let summary = crate::json_summary::ExecSummary {
            format: crate::json_summary::EXEC_FORMAT,
            exit_code: code,
            end,
            error,
            instructions: stats.instructions,
            syscalls: stats.syscalls,
            processes: stats.processes,
            wall_seconds: wall.as_secs_f64(),
            peak_guest_mib: crate::summary::mib(stats.peak_guest_pages),
        };
        drop(kernel); // flushes the guest's buffered output before the summary
        crate::json_summary::print(&summary);
    }
    code
}

/// `exec --cross-check-native`: the program on the host CPU and in the emulator, compared.
fn native_cross_check(a: &ExecArgs) -> u8 {
    use crate::native;
    let engine = match a.engine.engine {
        crate::run_cmd::EngineArg::Interp => vm::EngineKind::Interp,
        crate::run_cmd::EngineArg::Unicorn => vm::EngineKind::Unicorn,
    };
    let mut argv = vec![a.program.clone()];
    argv.extend(a.args.iter().cloned());
    let spec = native::Spec {
        root: &a.root,
        cwd: &a.cwd,
        env: &a.env,
        program: &a.program,
        argv: &argv,
        engine,
        max_insns: a.max_insns,
        source_date_epoch: a.source_date_epoch,
        timeout: std::time::Duration::from_secs(a.native_timeout),
    };
    match native::cross_check(&spec) {
        Ok(report) => native::print(&report, engine),
        Err(e) => {
            eprintln!("stage0-runner: {e}");
            e.exit_status()
        }
    }
}
