//! What a person sees: the per-step table and the timing report (progress is in
//! [`stage0_chain::progress`]).

use serde::Serialize;

use stage0_chain::Outcome;

/// `format` of the `--report` file.
pub const REPORT_FORMAT: &str = "stage0-runner report v1";

pub use stage0_chain::progress::short;

/// Prints one row per program image to stderr.
pub fn print_table(o: &Outcome) {
    eprintln!(
        "{:>4}  {:<44} {:>15} {:>11} {:>11} {:>11} {:>9}",
        "#", "program", "instructions", "syscalls", "read B", "written B", "wall s"
    );
    for (i, r) in o.records.iter().enumerate() {
        let calls: u64 = r.syscalls.values().sum();
        let wall = o.walls.get(i).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        eprintln!(
            "{:>4}  {:<44} {:>15} {:>11} {:>11} {:>11} {:>9.3}",
            i + 1,
            short(&r.argv),
            r.instructions,
            calls,
            r.bytes_read,
            r.bytes_written,
            wall
        );
    }
    eprintln!(
        "(instructions, syscalls and bytes: the program's own; wall s: from its start to its \
         end, including the children it waited for)"
    );
    let secs = o.wall.as_secs_f64().max(1e-9);
    eprintln!(
        "total: {} programs, {} instructions, {} syscalls, {:.1} s wall, {:.0} M instructions/s, peak guest memory {:.1} MiB",
        o.records.len(),
        o.instructions,
        o.syscalls,
        secs,
        o.instructions as f64 / secs / 1e6,
        mib(o.peak_guest_pages)
    );
    if let Some(j) = &o.jit {
        eprintln!("{}", crate::render::jit_line(j));
    }
}

/// Guest pages as MiB.
pub fn mib(pages: u64) -> f64 {
    pages as f64 * vm::PAGE_SIZE as f64 / (1024.0 * 1024.0)
}

/// The --report file: wall times and rates (host-dependent, unlike provenance).
#[derive(Serialize)]
pub struct Report {
    /// [`REPORT_FORMAT`].
    pub format: &'static str,
    pub wall_seconds: f64,
    pub instructions: u64,
    pub syscalls: u64,
    pub instructions_per_second: f64,
    /// The most guest memory mapped at once over the live processes, in MiB.
    pub peak_guest_mib: f64,
    pub host: String,
    /// The engine that ran the guests.
    pub engine: &'static str,
    /// What the JIT did, when the engine has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jit: Option<JitReport>,
    pub processes: Vec<ReportRow>,
}

/// The JIT's work over the whole run (see `vm::cpu::tier::TierStats`).
#[derive(Serialize)]
pub struct JitReport {
    pub blocks_compiled: u64,
    pub compile_seconds: f64,
    pub host_code_bytes: u64,
    /// Hot blocks whose translation an earlier process (or copy) had made.
    pub cache_hits: u64,
    /// Blocks the JIT would not translate (they stay on the interpreter).
    pub declined: u64,
}

/// One program image's timing.
#[derive(Serialize)]
pub struct ReportRow {
    pub argv: Vec<String>,
    /// The program's own instructions (its children not included).
    pub instructions: u64,
    /// From its start to its end, including the children it waited for.
    pub wall_seconds: f64,
}

/// Builds the report.
pub fn report(o: &Outcome) -> Report {
    let secs = o.wall.as_secs_f64();
    Report {
        format: REPORT_FORMAT,
        wall_seconds: secs,
        instructions: o.instructions,
        syscalls: o.syscalls,
        instructions_per_second: o.instructions as f64 / secs.max(1e-9),
        peak_guest_mib: mib(o.peak_guest_pages),
        host: format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
        engine: stage0_chain::execute::engine_name(o.engine),
        jit: o.jit.map(|j| JitReport {
            blocks_compiled: j.compiled,
            compile_seconds: j.compile_nanos as f64 / 1e9,
            host_code_bytes: j.code_bytes,
            cache_hits: j.cache_hits,
            declined: j.declined,
        }),
        processes: o
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| ReportRow {
                argv: r.argv.clone(),
                instructions: r.instructions,
                wall_seconds: o.walls.get(i).map(|d| d.as_secs_f64()).unwrap_or(0.0),
            })
            .collect(),
    }
}
