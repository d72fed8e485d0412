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
    /// Which engine runs the guest (and whether to cross-check it). With
    /// `--cross-check native` the program also runs on the host CPU, each on its own copy
    /// of the root, and the exit status is 0 when everything agrees, 1 when something
    /// differs, 126 when this host cannot run i386 code natively.
    #[command(flatten)]
    engine: crate::run_cmd::EngineArgs,
    /// Wall-clock limit in seconds of the native run of `--cross-check native`.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    native_timeout: u64,
    /// Guest path of the program (absolute, or relative to --cwd).
    program: String,
    /// Arguments after argv[0].
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// `--cross-check native PROGRAM` (a space, not `=`) parses as `--cross-check` with the
/// program `native`: take the word as the oracle and the next argument as the program.
fn oracle_word(a: &mut ExecArgs) {
    use crate::run_cmd::CrossCheckArg;
    if a.engine.cross_check.is_none() || a.args.is_empty() {
        return;
    }
    let oracle = match a.program.as_str() {
        "native" => CrossCheckArg::Native,
        "unicorn" => CrossCheckArg::Unicorn,
        _ => return,
    };
    a.engine.cross_check = Some(oracle);
    a.program = a.args.remove(0);
}

/// Runs the program; returns the exit status a shell would see.
pub fn exec(mut a: ExecArgs) -> u8 {
    oracle_word(&mut a);
    for e in &a.env {
        if !e.contains('=') {
            eprintln!("stage0-runner: --env {e:?} is not KEY=VALUE");
            return 2;
        }
    }
    if a.engine.cross_check == Some(crate::run_cmd::CrossCheckArg::Native) {
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
    let mut kernel = match Kernel::new(cfg, Stdio::inherit()) {
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
    match result {
        Ok(status) => status.shell_code().clamp(0, 255) as u8,
        Err(e @ RunError::InsnLimit { .. }) => {
            eprintln!("stage0-runner: stopped: {e}");
            EXIT_INSN_LIMIT
        }
        Err(e) => {
            eprintln!("stage0-runner: stopped: {e}");
            EXIT_RUNNER_ERROR
        }
    }
}

/// `exec --cross-check native`: the program on the host CPU and in the emulator, compared.
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
