//! `stage0-runner bench TREE`: the whole upstream chain's wall time natively, under
//! qemu-i386 and in the emulator, in one session, each on its own copy of TREE.
//!
//! - native: `./bootstrap-seeds/POSIX/x86/kaem-optional-seed ./kaem.x86`, when the host
//!   executes i386 binaries;
//! - qemu: the chain in our kernel with every program except the fork/exec parents (the
//!   kaem shells and M2-Mesoplanet) run as `qemu-i386 EXE ARGS...` by an execve hook (see
//!   [`qemu`]), when `qemu-i386` is on PATH; answers checked. The parents stay emulated so
//!   that their children reach the hook (without binfmt_misc the host kernel would run a
//!   qemu'd parent's children natively); the report gives their share;
//! - emulator: [`stage0_chain::execute`], as `run --quiet` runs it, answers checked: on
//!   the interpreter, then on the JIT tier (`--engine jit`) when the build has it.

pub mod qemu;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::Args;
use stage0_chain::{answers, Layout, NoHooks, Options, Plan};
use vm::record::RecordEnd;
use vm::EngineKind;

#[derive(Args)]
pub struct BenchArgs {
    /// Directory for the three copies of TREE (default: the system temp dir); removed after.
    #[arg(long, value_name = "DIR")]
    pub scratch: Option<PathBuf>,
    /// Keep the copies.
    #[arg(long)]
    pub keep: bool,
    /// Print one JSON summary object on stdout (wall seconds and ratios); the human
    /// report goes to stderr.
    #[arg(long)]
    pub json: bool,
    /// A pristine stage0-posix checkout (only copied, never modified).
    pub tree: PathBuf,
}

/// One measured run: wall time, or why there is none.
type Measured = Result<Duration, String>;

/// Runs the three measurements and prints wall times and ratios; 0 when the emulated
/// chain verified and the qemu-i386 run (if qemu-i386 is installed) verified too.
pub fn bench(a: BenchArgs) -> u8 {
    if a.json {
        crate::json_summary::human_to_stderr();
    }
    let parent = a.scratch.clone().unwrap_or_else(std::env::temp_dir);
    let scratch = match std::fs::create_dir_all(&parent).and_then(|()| {
        tempfile::Builder::new()
            .prefix("stage0-bench-")
            .tempdir_in(&parent)
    }) {
        // Removed below unless --keep.
        Ok(d) => d.keep(),
        Err(e) => {
            eprintln!("stage0-runner bench: {}: {e}", parent.display());
            return 2;
        }
    };
    let native = copy_tree(&a.tree, &scratch.join("native")).and_then(|t| run_native(&t));
    report("native", &native, None);

    let mut qemu_failed = false;
    let mut skipped = Vec::new();
    let qemu_run = match qemu::find_qemu() {
        Err(e) => {
            crate::say!("qemu-i386    skipped: {e}");
            skipped.push(format!("qemu-i386: {e}"));
            None
        }
        Ok((exe, version)) => {
            let run = copy_tree(&a.tree, &scratch.join("qemu")).and_then(|t| run_qemu(&t, &exe));
            match &run {
                Ok(q) => {
                    report("qemu-i386", &Ok(q.total), native.as_ref().ok());
                    print_qemu(q, &version);
                    qemu_failed = !q.ok();
                }
                Err(e) => {
                    report("qemu-i386", &Err(e.clone()), None);
                    qemu_failed = true;
                }
            }
            run.ok()
        }
    };

    let (emulated, verified, split) = match copy_tree(&a.tree, &scratch.join("emulator")) {
        Ok(t) => run_emulator(&t, EngineKind::Interp),
        Err(e) => (Err(e), false, None),
    };
    report("emulator", &emulated, native.as_ref().ok());
    let (jit, jit_verified) = match vm::engine::registry::jit_available() {
        Ok(()) => {
            let (m, ok, _) = match copy_tree(&a.tree, &scratch.join("jit")) {
                Ok(t) => run_emulator(&t, EngineKind::Jit),
                Err(e) => (Err(e), false, None),
            };
            report("jit", &m, native.as_ref().ok());
            (m, ok)
        }
        Err(e) => {
            let why = e.to_string();
            crate::say!("jit          skipped: {why}");
            skipped.push(format!("jit: {why}"));
            (Err(why), true)
        }
    };
    if let (Ok(j), Ok(e)) = (&jit, &emulated) {
        crate::say!(
            "jit / interpreter: {:.2}x",
            j.as_secs_f64() / e.as_secs_f64()
        );
    }
    if let (Some(q), Ok(j)) = (&qemu_run, &jit) {
        crate::say!(
            "jit / qemu-i386: {:.2}x (whole chain; the parents run in our kernel in both)",
            j.as_secs_f64() / q.total.as_secs_f64()
        );
    }
    if let (Some(q), Ok(e)) = (&qemu_run, &emulated) {
        crate::say!(
            "emulator / qemu-i386: {:.2}x (whole chain; the parents run in our kernel in both)",
            e.as_secs_f64() / q.total.as_secs_f64()
        );
        if let Some(s) = &split {
            crate::say!(
                "emulator / qemu-i386 on the {} programs qemu-i386 ran ({} in the emulator \
                 run): {:.1} s / {:.1} s = {:.2}x; in the emulator they executed {} of the \
                 chain's {} guest instructions ({:.1}%)",
                q.stats.programs,
                s.child_programs,
                s.child_wall.as_secs_f64(),
                q.stats.wall.as_secs_f64(),
                s.child_wall.as_secs_f64() / q.stats.wall.as_secs_f64(),
                s.child_instructions,
                s.instructions,
                100.0 * s.child_instructions as f64 / s.instructions.max(1) as f64
            );
        }
    }
    if !a.keep {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    let code = u8::from(!verified || !jit_verified || qemu_failed);
    if a.json {
        let secs = |m: &Measured| m.as_ref().ok().map(Duration::as_secs_f64);
        for (what, m) in [("native", &native), ("emulator", &emulated), ("jit", &jit)] {
            if let Err(e) = m {
                skipped.push(format!("{what}: {e}"));
            }
        }
        let (n, q, e) = (
            secs(&native),
            qemu_run.as_ref().map(|q| q.total.as_secs_f64()),
            secs(&emulated),
        );
        let ratio = |a: Option<f64>, b: Option<f64>| Some(a? / b?);
        let j = secs(&jit);
        crate::json_summary::print(&crate::json_summary::BenchSummary {
            format: crate::json_summary::BENCH_FORMAT,
            exit_code: code,
            native_seconds: n,
            qemu_seconds: q,
            emulator_seconds: e,
            emulator_vs_native: ratio(e, n),
            emulator_vs_qemu: ratio(e, q),
            jit_seconds: j,
            jit_vs_native: ratio(j, n),
            jit_vs_qemu: ratio(j, q),
            jit_vs_interp: ratio(j, e),
            skipped,
        });
    }
    code
}

/// The qemu-i386 run's breakdown and verdict.
fn print_qemu(q: &QemuRun, version: &str) {
    let parents = q.total.saturating_sub(q.stats.wall);
    crate::say!(
        "  {} programs under qemu-i386 ({version}): {:.1} s summed; the parents ({}) \
         emulated: {:.1} s, {} guest instructions",
        q.stats.programs,
        q.stats.wall.as_secs_f64(),
        qemu::PARENTS.join(", "),
        parents.as_secs_f64(),
        q.parent_instructions
    );
    let matched = q.checked.iter().filter(|c| c.ok()).count();
    if q.ok() {
        crate::say!(
            "  qemu-i386 run VERIFIED: {matched}/{} answers match",
            q.checked.len()
        );
        return;
    }
    crate::say!(
        "  qemu-i386 run FAILED: {matched}/{} answers match, {} programs failed under qemu-i386",
        q.checked.len(),
        q.stats.failed
    );
    if let Some(f) = &q.failure {
        crate::say!("  qemu-i386 run: {f}");
    }
    for c in q.checked.iter().filter(|c| !c.ok()) {
        match &c.actual {
            Some(h) => crate::say!("  MISMATCH {}: sha256 {h}, expected {}", c.path, c.expected),
            None => crate::say!("  MISSING  {}: not produced", c.path),
        }
    }
}

fn report(name: &str, m: &Measured, native: Option<&Duration>) {
    match (m, native) {
        (Ok(t), Some(n)) => crate::say!(
            "{name:<10} {:>8.1} s   {:.2}x native",
            t.as_secs_f64(),
            t.as_secs_f64() / n.as_secs_f64()
        ),
        (Ok(t), None) => crate::say!("{name:<10} {:>8.1} s", t.as_secs_f64()),
        (Err(why), _) => crate::say!("{name:<10}   not measured: {why}"),
    }
}

/// `cp -a src dst` (keeps modes; the tree is only read).
fn copy_tree(src: &Path, dst: &Path) -> Result<PathBuf, String> {
    let st = Command::new("cp")
        .arg("-a")
        .arg(src)
        .arg(dst)
        .status()
        .map_err(|e| format!("cp: {e}"))?;
    if st.success() {
        Ok(dst.to_path_buf())
    } else {
        Err(format!("cp -a {} {}: {st}", src.display(), dst.display()))
    }
}

fn timed(what: &str, cmd: &mut Command) -> Measured {
    let t = Instant::now();
    let st = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("{what}: {e}"))?;
    if st.success() {
        Ok(t.elapsed())
    } else {
        Err(format!("{what}: {st}"))
    }
}

fn run_native(tree: &Path) -> Measured {
    timed(
        "kaem-optional-seed (does this host run i386 binaries?)",
        Command::new(tree.join("bootstrap-seeds/POSIX/x86/kaem-optional-seed"))
            .arg("./kaem.x86")
            .current_dir(tree),
    )
}

/// The qemu-i386 run: wall time of the whole run, what the substitutes did, and whether
/// every answer matched.
struct QemuRun {
    total: Duration,
    stats: qemu::QemuStats,
    /// Guest instructions of the parents, the only programs our kernel ran.
    parent_instructions: u64,
    failure: Option<String>,
    checked: Vec<answers::Checked>,
}

impl QemuRun {
    fn ok(&self) -> bool {
        self.failure.is_none() && !self.checked.is_empty() && self.checked.iter().all(|c| c.ok())
    }
}

/// The chain in our kernel with every program but the fork/exec parents run by qemu-i386
/// (see [`qemu`]); answers checked afterwards.
fn run_qemu(tree: &Path, qemu_exe: &Path) -> Result<QemuRun, String> {
    let plan = stage0_chain::plan(tree, Layout::Upstream).map_err(|e| e.to_string())?;
    // A top-level step that is not a parent never reaches the execve hook: run the steps
    // before the first such step, then report it.
    let parents = plan
        .steps
        .iter()
        .take_while(|s| qemu::is_parent(&s.argv[0]))
        .count();
    let not_a_parent = plan.steps.get(parents).map(|step| {
        format!(
            "step `{}` is not one of the fork/exec parents ({}); this \
             measurement only knows how to run those in the kernel",
            step.argv.join(" "),
            qemu::PARENTS.join(", ")
        )
    });
    let plan = Plan {
        steps: plan.steps[..parents].to_vec(),
        ..plan
    };
    // Everything the guests print, to show the end of it if the run fails.
    let log = Tail::default();
    let hook = qemu::QemuHook::new(qemu_exe, tree);
    let stats = hook.stats();
    let options = Options {
        guest_output: Some(stage0_chain::Sink::Writer(Box::new(log.clone()))),
        exec_hook: Some(Box::new(hook)),
        ..Options::default()
    };
    let outcome = stage0_chain::execute(tree, &plan, options, Rc::new(RefCell::new(NoHooks)))
        .map_err(|e| crate::render::chain_error(&e))?;
    let failure = match outcome.failure {
        Some(f) => Some(f.to_string()),
        None => not_a_parent,
    };
    let total = outcome.wall;
    if failure.is_some() {
        eprintln!("qemu-i386 run: the last lines the guests printed:");
        eprint!("{}", log.last_lines(20));
    }
    let checked = match &plan.answers {
        Some(a) => {
            let path = tree.join(a.trim_start_matches('/'));
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let list = answers::parse(&text).map_err(|e| format!("{}:{e}", path.display()))?;
            answers::check(tree, &list)
        }
        None => Vec::new(),
    };
    let stats = stats.borrow().clone();
    Ok(QemuRun {
        total,
        stats,
        parent_instructions: outcome.instructions,
        failure,
        checked,
    })
}

/// The last bytes written to it (the guests' output, for a failure report).
#[derive(Clone, Default)]
struct Tail(Rc<RefCell<Vec<u8>>>);

impl Tail {
    const KEEP: usize = 64 * 1024;

    fn last_lines(&self, n: usize) -> String {
        let b = self.0.borrow();
        let text = String::from_utf8_lossy(&b);
        let lines: Vec<&str> = text.lines().collect();
        let mut out = lines[lines.len().saturating_sub(n)..].join("\n");
        out.push('\n');
        out
    }
}

impl std::io::Write for Tail {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut b = self.0.borrow_mut();
        b.extend_from_slice(buf);
        if b.len() > 2 * Self::KEEP {
            let cut = b.len() - Self::KEEP;
            b.drain(..cut);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How the emulator run's time and instructions split between the parents and the
/// programs the qemu-i386 run substitutes.
struct Split {
    /// Wall time of the non-parent programs, summed.
    child_programs: u64,
    child_wall: Duration,
    child_instructions: u64,
    instructions: u64,
}

/// `run` on the copy with `engine`, quietly; the wall time, whether every answer matched,
/// and the split.
fn run_emulator(tree: &Path, engine: EngineKind) -> (Measured, bool, Option<Split>) {
    let plan = match stage0_chain::plan(tree, Layout::Upstream) {
        Ok(p) => p,
        Err(e) => return (Err(e.to_string()), false, None),
    };
    let options = Options {
        engine,
        interrupt: Some(stage0_chain::interrupt::flag()),
        answers: plan
            .answers
            .as_ref()
            .map(|a| tree.join(a.trim_start_matches('/'))),
        ..Options::default()
    };
    let outcome = stage0_chain::execute(tree, &plan, options, Rc::new(RefCell::new(NoHooks)));
    if let Ok(o) = &outcome {
        crate::render::after_run(o);
        if let Some(j) = &o.jit {
            crate::say!("{}", crate::render::jit_line(j));
        }
    }
    match outcome.map_err(|e| crate::render::chain_error(&e)) {
        Ok(o) => {
            let ok = o.failure.is_none() && o.checked.iter().all(|c| c.ok());
            let matched = o.checked.iter().filter(|c| c.ok()).count();
            crate::say!(
                "{}: {matched}/{} answers match, {} guest instructions, {:.0} MIPS",
                stage0_chain::engine_name(engine),
                o.checked.len(),
                o.instructions,
                o.instructions as f64 / o.wall.as_secs_f64() / 1e6
            );
            if let Some(f) = &o.failure {
                crate::say!("emulator: {f}");
            }
            let mut split = Split {
                child_programs: 0,
                child_wall: Duration::ZERO,
                child_instructions: 0,
                instructions: o.instructions,
            };
            for (r, w) in o.records.iter().zip(&o.walls) {
                if !qemu::is_parent(&r.exe) && r.end != RecordEnd::Execed {
                    split.child_programs += 1;
                    split.child_wall += *w;
                    split.child_instructions += r.instructions;
                }
            }
            (Ok(o.wall), ok, Some(split))
        }
        Err(e) => (Err(e), false, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(failure: Option<&str>, actual: &[Option<&str>]) -> QemuRun {
        QemuRun {
            total: Duration::from_secs(1),
            stats: qemu::QemuStats::default(),
            parent_instructions: 0,
            failure: failure.map(str::to_string),
            checked: actual
                .iter()
                .enumerate()
                .map(|(i, a)| answers::Checked {
                    path: format!("x86/bin/t{i}"),
                    expected: "aa".into(),
                    actual: a.map(str::to_string),
                })
                .collect(),
        }
    }

    #[test]
    fn a_qemu_run_verifies_only_when_every_answer_matches_and_no_step_failed() {
        assert!(run(None, &[Some("aa"), Some("aa")]).ok());
        assert!(!run(None, &[Some("aa"), Some("bb")]).ok(), "wrong output");
        assert!(!run(None, &[Some("aa"), None]).ok(), "missing output");
        assert!(!run(Some("step failed"), &[Some("aa")]).ok());
        assert!(!run(None, &[]).ok(), "nothing checked is not a pass");
    }
}
