//! `stage0-runner exec`: one guest program in a sandbox, exit status passed through.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use vm::kernel::{Config, Kernel, RunError, Stdio};

/// Exit status when the runner itself stops the guest (limits, host errors), as `timeout`
/// and `env` use them.
pub const EXIT_LIMIT: u8 = 124;
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
    /// Limits on what the guest may use.
    #[command(flatten)]
    sandbox: crate::sandbox_args::SandboxArgs,
    /// Write how the run ended to FILE as JSON: the guest's exit, a guest fault (signal,
    /// eip), a limit (which, and the flag that raises it), an interruption, or a runner error.
    #[arg(long, value_name = "FILE")]
    outcome: Option<PathBuf>,
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
    engine: crate::cmd::run::EngineArgs,
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
    if a.engine.cross_check.is_some() && !a.args.is_empty() {
        let word = std::path::Path::new(&a.program);
        if let Some(e) = crate::cmd::run::oracle_word_error(true, Some(word)) {
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
    cfg.limits = a.sandbox.limits();
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
    let code = run_guest(&a, cfg);
    let code = match (&a.outcome, code) {
        (Some(path), (code, outcome)) => match write_outcome(path, &outcome) {
            Ok(()) => code,
            Err(e) => {
                eprintln!("stage0-runner: writing --outcome {}: {e}", path.display());
                EXIT_RUNNER_ERROR
            }
        },
        (None, (code, _)) => code,
    };
    code
}

/// How an `exec` run ended, as `--outcome` writes it.
#[derive(serde::Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum ExecOutcome {
    /// The guest exited with this status.
    GuestExit { status: u8 },
    /// A fault killed the guest.
    GuestFault {
        signal: u8,
        eip: String,
        message: String,
    },
    /// A limit stopped the run.
    Limit {
        limit: String,
        flag: String,
        value: u64,
        message: String,
    },
    /// SIGINT or SIGTERM stopped the run; files were written back.
    Interrupted { signal: i32 },
    /// The runner could not start or finish the run.
    RunnerError { message: String },
}

impl ExecOutcome {
    fn runner_error(message: String) -> (u8, ExecOutcome) {
        eprintln!("stage0-runner: {message}");
        (EXIT_RUNNER_ERROR, ExecOutcome::RunnerError { message })
    }
}

fn write_outcome(path: &std::path::Path, o: &ExecOutcome) -> std::io::Result<()> {
    let mut text = serde_json::to_string_pretty(o).map_err(std::io::Error::other)?;
    text.push('\n');
    std::fs::write(path, text)
}

/// Runs the guest; returns the exit status a shell sees and how the run ended.
fn run_guest(a: &ExecArgs, cfg: Config) -> (u8, ExecOutcome) {
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
        Err(e) => return ExecOutcome::runner_error(e.to_string()),
    };
    kernel.set_interrupt(stage0_chain::interrupt::flag());
    if let Some(path) = &a.strace {
        match std::fs::File::create(path) {
            Ok(f) => kernel.set_strace(Box::new(std::io::BufWriter::new(f))),
            Err(e) => {
                return ExecOutcome::runner_error(format!("--strace {}: {e}", path.display()))
            }
        }
    }
    let mut argv = vec![a.program.clone()];
    argv.extend(a.args.iter().cloned());
    if let Err(e) = kernel.spawn(&a.cwd, &a.program, &argv) {
        if let vm::SpawnError::Limit(e) = &e {
            return limit_outcome(e);
        }
        return ExecOutcome::runner_error(format!("cannot start {}: {e}", a.program));
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
        if let Some(j) = kernel.tier_stats() {
            eprintln!("stage0-runner: {}", crate::render::jit_line(&j));
        }
    }
    let (code, outcome) = match result {
        Ok(status) => {
            let code = status.shell_code().clamp(0, 255) as u8;
            // The first process's own fault, when a fault ended it.
            let fault = kernel
                .faults()
                .iter()
                .find(|f| f.pid == vm::kernel::FIRST_PID);
            match (status, fault) {
                (vm::ExitStatus::Signal(sig), Some(f)) => (
                    code,
                    ExecOutcome::GuestFault {
                        signal: sig,
                        eip: format!("{:#010x}", f.eip),
                        message: f.to_string(),
                    },
                ),
                _ => (code, ExecOutcome::GuestExit { status: code }),
            }
        }
        Err(e) => {
            eprintln!("stage0-runner: stopped: {e}");
            limit_outcome(&e)
        }
    };
    if a.json {
        let stats = kernel.stats();
        let (end, error) = match &outcome {
            ExecOutcome::GuestExit { status } => (format!("exit {status}"), None),
            ExecOutcome::GuestFault {
                signal, message, ..
            } => (format!("signal {signal}"), Some(message.clone())),
            ExecOutcome::Limit { limit, message, .. } => {
                (format!("limit {limit}"), Some(message.clone()))
            }
            ExecOutcome::Interrupted { signal } => {
                (format!("interrupted by signal {signal}"), None)
            }
            ExecOutcome::RunnerError { message } => ("error".into(), Some(message.clone())),
        };
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
    (code, outcome)
}

/// The status and outcome of a run that stopped with `e`.
fn limit_outcome(e: &RunError) -> (u8, ExecOutcome) {
    let message = e.to_string();
    match e {
        RunError::InsnLimit { limit, .. } => (
            EXIT_LIMIT,
            ExecOutcome::Limit {
                limit: vm::Limit::Instructions.name().into(),
                flag: vm::Limit::Instructions.flag().into(),
                value: *limit,
                message,
            },
        ),
        RunError::Limit { limit, value, .. } => (
            EXIT_LIMIT,
            ExecOutcome::Limit {
                limit: limit.name().into(),
                flag: limit.flag().into(),
                value: *value,
                message,
            },
        ),
        RunError::Interrupted { signal } => (
            (128 + signal).clamp(0, 255) as u8,
            ExecOutcome::Interrupted { signal: *signal },
        ),
        _ => (EXIT_RUNNER_ERROR, ExecOutcome::RunnerError { message }),
    }
}

/// `exec --cross-check native`: the program on the host CPU and in the emulator, compared.
fn native_cross_check(a: &ExecArgs) -> u8 {
    use crate::native;
    let engine = match a.engine.engine {
        crate::cmd::run::EngineArg::Interp | crate::cmd::run::EngineArg::Auto => {
            vm::EngineKind::Interp
        }
        crate::cmd::run::EngineArg::Unicorn => vm::EngineKind::Unicorn,
        crate::cmd::run::EngineArg::Jit => vm::EngineKind::Jit,
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
        limits: a.sandbox.limits(),
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
