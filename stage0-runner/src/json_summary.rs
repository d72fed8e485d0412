//! `--json`: one summary object per command on stdout, for scripts and CI (verdict, exit
//! code, counts, answers, digests, times). Each object names its format and version.

use serde::Serialize;

use stage0_chain::provenance::{Answers, Provenance};
use stage0_chain::{engine_name, Outcome};

/// `format` of [`RunSummary`].
pub const RUN_FORMAT: &str = "stage0-runner run summary v1";
/// `format` of [`DdcSummary`].
pub const DDC_FORMAT: &str = "stage0-runner ddc summary v1";
/// `format` of [`ExecSummary`].
pub const EXEC_FORMAT: &str = "stage0-runner exec summary v1";
/// `format` of [`BenchSummary`].
pub const BENCH_FORMAT: &str = "stage0-runner bench summary v1";

/// Prints `v` as one line of JSON on stdout.
pub fn print<T: Serialize>(v: &T) {
    println!(
        "{}",
        serde_json::to_string(v).expect("plain data serializes")
    );
}

/// An output the run produced and its host SHA-256 (`None`: missing).
#[derive(Debug, Clone, Serialize)]
pub struct Output {
    pub path: String,
    pub sha256: Option<String>,
    pub matches: bool,
}

/// `run --json`.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub format: &'static str,
    /// `VERIFIED` or `FAILED`.
    pub verdict: &'static str,
    pub exit_code: u8,
    pub layout: String,
    pub engine: &'static str,
    pub programs: usize,
    pub instructions: u64,
    pub syscalls: u64,
    pub answers: Option<Answers>,
    pub outputs: Vec<Output>,
    /// SHA-256 of the provenance JSON (whether or not it was written to a file).
    pub provenance_sha256: String,
    /// Why the run stopped early, if it did.
    pub failure: Option<String>,
    pub wall_seconds: f64,
    pub peak_guest_mib: f64,
}

impl RunSummary {
    /// The summary of a finished run.
    pub fn new(
        verdict: &'static str,
        exit_code: u8,
        prov: &Provenance,
        o: &Outcome,
        prov_text: &str,
    ) -> Self {
        RunSummary {
            format: RUN_FORMAT,
            verdict,
            exit_code,
            layout: prov.layout.clone(),
            engine: engine_name(o.engine),
            programs: o.records.len(),
            instructions: o.instructions,
            syscalls: o.syscalls,
            answers: prov.answers.clone(),
            outputs: o
                .checked
                .iter()
                .map(|c| Output {
                    path: c.path.clone(),
                    sha256: c.actual.clone(),
                    matches: c.ok(),
                })
                .collect(),
            provenance_sha256: vm::record::sha256_hex(prov_text.as_bytes()),
            failure: o.failure.as_ref().map(|f| f.to_string()),
            wall_seconds: o.wall.as_secs_f64(),
            peak_guest_mib: crate::summary::mib(o.peak_guest_pages),
        }
    }
}

/// `ddc --json`.
#[derive(Debug, Clone, Serialize)]
pub struct DdcSummary {
    pub format: &'static str,
    /// `DDC VERIFIED` or `DDC FAILED`.
    pub verdict: &'static str,
    pub exit_code: u8,
    /// `rust`, `host-cc` or `both`.
    pub with: String,
    pub steps: usize,
    pub substituted: usize,
    pub identical: usize,
    /// Paths whose content differs between the two output trees.
    pub tree_differences: Vec<String>,
    pub answers: Answers,
    pub failure: Option<String>,
    pub wall_seconds: f64,
}

/// `exec --json`.
#[derive(Debug, Clone, Serialize)]
pub struct ExecSummary {
    pub format: &'static str,
    /// The exit status the command returns (see `exec --help`).
    pub exit_code: u8,
    /// `exit N`, `signal N`, `instruction limit` or `error`.
    pub end: String,
    /// Why the runner stopped the guest, if it did.
    pub error: Option<String>,
    pub instructions: u64,
    pub syscalls: u64,
    pub processes: u64,
    pub wall_seconds: f64,
    pub peak_guest_mib: f64,
}

/// `bench --json`: wall seconds of each way of running the chain (absent: not measured,
/// with the reason in `skipped`).
#[derive(Debug, Clone, Serialize)]
pub struct BenchSummary {
    pub format: &'static str,
    pub exit_code: u8,
    pub native_seconds: Option<f64>,
    pub qemu_seconds: Option<f64>,
    pub emulator_seconds: Option<f64>,
    /// emulator / native and emulator / qemu-i386.
    pub emulator_vs_native: Option<f64>,
    pub emulator_vs_qemu: Option<f64>,
    /// The emulator with the JIT tier (`--engine jit`), when the build has it.
    pub jit_seconds: Option<f64>,
    /// jit / native, jit / qemu-i386 and jit / interpreter.
    pub jit_vs_native: Option<f64>,
    pub jit_vs_qemu: Option<f64>,
    pub jit_vs_interp: Option<f64>,
    /// `what: why` for each measurement that did not happen or failed.
    pub skipped: Vec<String>,
}

static HUMAN_TO_STDERR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// From now on [`say!`](crate::say) writes to stderr: stdout carries the `--json` summary.
pub fn human_to_stderr() {
    HUMAN_TO_STDERR.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Whether [`human_to_stderr`] was called.
pub fn human_on_stderr() -> bool {
    HUMAN_TO_STDERR.load(std::sync::atomic::Ordering::Relaxed)
}

/// `println!` for human output: stdout, or stderr once `--json` asked for stdout.
#[macro_export]
macro_rules! say {
    ($($t:tt)*) => {
        if $crate::json_summary::human_on_stderr() {
            eprintln!($($t)*)
        } else {
            println!($($t)*)
        }
    };
}
