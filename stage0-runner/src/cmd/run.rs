//! `stage0-runner run`: the whole chain in the emulator, verified.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use clap::Args;
use stage0_chain::attestation::{self, ChainBuild, ChainParameters};
use stage0_chain::progress::{self, Progress, ProgressMode};
use stage0_chain::provenance::{self, Provenance};
use stage0_chain::{engine_name, preflight, Layout, Options, Outcome, Plan, Sink};
use vm::EngineKind;

use crate::{json_summary, render, summary};

#[derive(Args)]
pub struct RunArgs {
    /// Which kind of tree TREE is.
    #[arg(long, value_enum, default_value = "upstream")]
    pub layout: Layout,
    /// Answers file (sha256sum format, paths relative to TREE); default: TREE/x86.answers.
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
    /// Write the run's provenance (deterministic JSON) to FILE.
    #[arg(long, value_name = "FILE")]
    pub provenance: Option<PathBuf>,
    /// Write wall times and rates (JSON) to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Reference provenance: on a mismatch, name the first step whose output differs.
    #[arg(long, value_name = "PROVENANCE")]
    pub compare: Option<PathBuf>,
    /// A finished reference tree, to show a binary diff of the first differing output.
    #[arg(long, value_name = "DIR", requires = "compare")]
    pub compare_tree: Option<PathBuf>,
    /// Log every guest syscall to FILE (like qemu -strace).
    #[arg(long, value_name = "FILE")]
    pub strace: Option<PathBuf>,
    /// Write everything the guests print to FILE.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Limits on what the guests may use.
    #[command(flatten)]
    pub sandbox: crate::sandbox_args::SandboxArgs,
    /// Run the commands of this script (one per line, paths relative to TREE) instead of
    /// the layout's own; the seed and submodule checks are skipped (custom chains).
    #[arg(long, value_name = "FILE", conflicts_with = "layout")]
    pub script: Option<PathBuf>,
    /// Print only the verdict (no progress, no table).
    #[arg(short, long)]
    pub quiet: bool,
    /// How to show progress on stderr: a bar on a terminal, one line per program started
    /// and ended when piped (`auto`), or as named.
    #[arg(long, value_enum, value_name = "MODE", default_value = "auto")]
    pub progress: ProgressMode,
    /// Write an in-toto Statement v1 with a SLSA Provenance v1 predicate to FILE
    /// (subjects: the verified outputs; written only when every answer matches).
    #[arg(long, value_name = "FILE")]
    pub attestation: Option<PathBuf>,
    /// Also record the start and end times in the attestation (runDetails.metadata), which
    /// then differs from run to run.
    #[arg(long, requires = "attestation")]
    pub attestation_times: bool,
    /// Print one JSON summary object on stdout (verdict, counts, answers, digests, times);
    /// the verdict line goes to stderr instead.
    #[arg(long)]
    pub json: bool,
    /// Which engine runs the guests (and whether to cross-check it).
    #[command(flatten)]
    pub engine: EngineArgs,
    /// The tree to run (default ./stage0-posix).
    pub tree: Option<PathBuf>,
}

/// Engine choice for `run` (unicorn needs a build with the cargo feature `vm/unicorn`).
#[derive(Args, Default, Clone, Debug)]
pub struct EngineArgs {
    /// The engine that runs every guest. `auto`: the JIT where this build and host have
    /// it (with a notice when not), the interpreter otherwise; with `--cross-check`, the
    /// interpreter against unicorn.
    #[arg(long, value_enum, default_value = "auto")]
    pub engine: EngineArg,
    /// Run every process on two engines in lockstep: the interpreter and unicorn,
    /// compared after every instruction; with `--engine jit` or `--cross-check=jit`, the
    /// JIT and the interpreter, compared after every block. A value needs `=` (the host
    /// CPU as oracle is `exec --cross-check-native`).
    #[arg(
        long,
        value_enum,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "auto",
        value_name = "PAIR"
    )]
    pub cross_check: Option<CrossCheckArg>,
}

/// `--cross-check` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrossCheckArg {
    /// The pair for `--engine`: the JIT against the interpreter for `jit`, else the
    /// interpreter against unicorn.
    Auto,
    /// The interpreter against unicorn (builds with the `vm/unicorn` feature).
    Unicorn,
    /// The JIT against the interpreter.
    Jit,
}

/// `--engine` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EngineArg {
    /// The fastest engine this build and host have (the JIT, else the interpreter).
    #[default]
    Auto,
    /// The block-cached interpreter.
    Interp,
    /// unicorn-engine (builds with the `vm/unicorn` feature).
    Unicorn,
    /// The interpreter with the Cranelift JIT for hot blocks (the `vm/jit` feature, on by
    /// default).
    Jit,
}

impl EngineArgs {
    /// The kernel's engine kind, or why this combination cannot run.
    pub fn kind(&self) -> Result<EngineKind, String> {
        use CrossCheckArg as C;
        match (self.cross_check, self.engine) {
            (Some(C::Auto | C::Unicorn), EngineArg::Auto | EngineArg::Interp) => {
                Ok(EngineKind::CrossCheck)
            }
            (Some(C::Auto | C::Jit), EngineArg::Jit)
            | (Some(C::Jit), EngineArg::Auto | EngineArg::Interp) => Ok(EngineKind::JitCrossCheck),
            (Some(C::Unicorn), EngineArg::Jit) => Err(
                "--cross-check=unicorn pairs the interpreter with unicorn; drop --engine jit"
                    .into(),
            ),
            (Some(_), EngineArg::Unicorn) => {
                Err("--cross-check already runs both engines; drop --engine unicorn".into())
            }
            (None, EngineArg::Interp) => Ok(EngineKind::Interp),
            (None, EngineArg::Unicorn) => Ok(EngineKind::Unicorn),
            (None, EngineArg::Jit) => Ok(EngineKind::Jit),
            (None, EngineArg::Auto) => Ok(match vm::engine::registry::jit_available() {
                Ok(()) => EngineKind::Jit,
                Err(e) => {
                    eprintln!("stage0-runner: notice: {e}; running on the interpreter");
                    EngineKind::Interp
                }
            }),
        }
    }

    /// `--cross-check jit` without `=`: `jit` arrives as the positional argument; unless a
    /// file of that name is there, it selects the JIT pair and the positional is dropped
    /// (the tree is then the default one).
    pub fn take_jit_word(&mut self, positional: &mut Option<PathBuf>) {
        if self.cross_check.is_some()
            && positional.as_deref() == Some(Path::new("jit"))
            && !Path::new("jit").exists()
        {
            self.cross_check = Some(CrossCheckArg::Jit);
            *positional = None;
        }
    }
}

/// `--cross-check native` / `unicorn` as two words: the old optional-value spelling, which
/// now parses as the flag and a positional named like an oracle. Says what to write.
pub fn oracle_word_error(cross_check: bool, positional: Option<&Path>) -> Option<String> {
    let word = positional?.to_str()?;
    if !cross_check || !matches!(word, "native" | "unicorn") || Path::new(word).exists() {
        return None;
    }
    Some(format!(
        "--cross-check takes no value without `=`, so `{word}` was read as the next \
         argument; {}",
        if word == "native" {
            "drop it: the host CPU as oracle is `stage0-runner exec --cross-check-native` \
             (single programs only)"
        } else {
            "write --cross-check=unicorn, or just --cross-check"
        }
    ))
}

/// Runs `a` and returns the exit status (0 verified, 1 failed, 2 could not run).
pub fn run(mut a: RunArgs) -> u8 {
    a.engine.take_jit_word(&mut a.tree);
    if let Some(e) = oracle_word_error(a.engine.cross_check.is_some(), a.tree.as_deref()) {
        eprintln!("stage0-runner: {e}");
        return 2;
    }
    let tree = a
        .tree
        .clone()
        .unwrap_or_else(|| PathBuf::from("stage0-posix"));
    let plan = match &a.script {
        Some(script) => stage0_chain::plan::upstream::plan_script(script).map(|mut p| {
            // A custom chain has only the outputs and answers the user names.
            p.outputs.clear();
            p.answers = None;
            p
        }),
        None => stage0_chain::plan(&tree, a.layout),
    };
    let plan = match plan {
        Ok(p) => Some(p),
        Err(e) if tree.is_dir() => {
            eprintln!(
                "stage0-runner: cannot read the chain from {}: {e}",
                tree.display()
            );
            return 2;
        }
        Err(_) => None,
    };
    let answers_path = plan.as_ref().and_then(|p| answers_path(&tree, p, &a));
    let problems = match &a.script {
        Some(_) => preflight::check_custom(&tree, plan.as_ref(), answers_path.as_deref()),
        None => preflight::check(&tree, plan.as_ref(), a.layout, answers_path.as_deref()),
    };
    if !problems.is_empty() {
        eprintln!("stage0-runner: the tree is not ready:");
        for p in &problems {
            eprintln!("  - {p}");
        }
        return 2;
    }
    let plan = plan.expect("preflight passed");
    let inputs = match provenance::hash_inputs(&tree, &plan.outputs) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("stage0-runner: hashing the tree's inputs: {e}");
            return 2;
        }
    };
    let outcome = match execute(&tree, &plan, &a) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("stage0-runner: {e}");
            return 2;
        }
    };
    let answers_name = answers_path.as_ref().map(|p| {
        p.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    });
    let prov = Provenance {
        format: provenance::FORMAT.into(),
        layout: format!("{:?}", plan.layout).to_lowercase(),
        inputs,
        processes: outcome
            .records
            .iter()
            .map(provenance::Process::from)
            .collect(),
        answers: answers_name
            .as_ref()
            .map(|n| provenance::answers(n, &outcome.checked)),
    };
    let mut failed = outcome.failure.is_some() || outcome.checked.iter().any(|c| !c.ok());
    let prov_text = provenance::to_json(&prov);
    if let Some(path) = &a.provenance {
        if let Err(e) = std::fs::write(path, &prov_text) {
            eprintln!("stage0-runner: writing provenance {}: {e}", path.display());
            failed = true;
        }
    }
    if let Some(path) = &a.report {
        if let Err(e) = write_json(path, &summary::report(&outcome)) {
            eprintln!("stage0-runner: writing report {}: {e}", path.display());
            failed = true;
        }
    }
    if let Some(path) = &a.attestation {
        let layout = match a.script {
            Some(_) => "script".to_string(),
            None => prov.layout.clone(),
        };
        let statement = attestation::chain_statement(ChainBuild {
            build_type: attestation::BUILD_TYPE_CHAIN,
            parameters: ChainParameters::of(&layout, &plan, answers_name.as_deref(), None),
            inputs: &prov.inputs,
            checked: &outcome.checked,
            engine: engine_name(outcome.engine),
            provenance_json: prov_text.as_bytes(),
            metadata: a.attestation_times.then(|| {
                attestation::Metadata::new(outcome.started_at, outcome.started_at + outcome.wall)
            }),
        });
        let written = statement.map_err(|e| e.to_string()).and_then(|s| {
            std::fs::write(path, attestation::to_json(&s)).map_err(|e| e.to_string())
        });
        if let Err(e) = written {
            eprintln!(
                "stage0-runner: not writing attestation {}: {e}",
                path.display()
            );
            failed = true;
        }
    }
    if !a.quiet {
        summary::print_table(&outcome);
    }
    if let Some(f) = &outcome.failure {
        eprintln!("stage0-runner: {}", render::step_failure(f));
    }
    for c in outcome.checked.iter().filter(|c| !c.ok()) {
        match &c.actual {
            Some(h) => eprintln!("MISMATCH {}: sha256 {h}, expected {}", c.path, c.expected),
            None => eprintln!(
                "MISSING  {}: not produced (expected sha256 {})",
                c.path, c.expected
            ),
        }
    }
    if failed {
        if let Some(reference) = &a.compare {
            compare(&prov, reference, &tree, a.compare_tree.as_deref());
        }
    }
    let matched = outcome.checked.iter().filter(|c| c.ok()).count();
    if let Some(sig) = stage0_chain::interrupt::interrupted() {
        println!(
            "INTERRUPTED: signal {sig}; files written back, provenance of the {} programs run so far kept",
            outcome.records.len()
        );
        return (128 + sig).clamp(0, 255) as u8;
    }
    let verdict = if failed { "FAILED" } else { "VERIFIED" };
    let line = format!(
        "{verdict}: {matched}/{} answers match ({} programs, {} instructions, {:.1} s)",
        outcome.checked.len(),
        outcome.records.len(),
        outcome.instructions,
        outcome.wall.as_secs_f64()
    );
    let code = u8::from(failed);
    if a.json {
        eprintln!("{line}");
        json_summary::print(&json_summary::RunSummary::new(
            verdict, code, &prov, &outcome, &prov_text,
        ));
    } else {
        println!("{line}");
    }
    code
}

fn write_json<T: serde::Serialize>(path: &Path, v: &T) -> std::io::Result<()> {
    let mut text = serde_json::to_string_pretty(v).map_err(std::io::Error::other)?;
    text.push('\n');
    std::fs::write(path, text)
}

/// Runs every step of the plan in one emulated kernel, with `a`'s options and progress;
/// prints the cross-check's counts and the faults.
fn execute(tree: &Path, plan: &Plan, a: &RunArgs) -> Result<Outcome, String> {
    let engine = a.engine.kind()?;
    let mode = if a.quiet {
        ProgressMode::Quiet
    } else {
        a.progress
    };
    let total = [&a.provenance, &a.compare]
        .into_iter()
        .flatten()
        .find_map(|p| progress::previous_total(p));
    let options = Options {
        engine,
        limits: a.sandbox.limits(),
        guest_output: a.log.clone().map(Sink::File),
        strace: a.strace.clone().map(Sink::File),
        interrupt: Some(stage0_chain::interrupt::flag()),
        exec_hook: None,
        answers: answers_path(tree, plan, a),
    };
    let bar = Rc::new(RefCell::new(Progress::new(mode, total)));
    let outcome =
        stage0_chain::execute(tree, plan, options, bar).map_err(|e| render::chain_error(&e))?;
    render::after_run(&outcome);
    Ok(outcome)
}

/// The answers file: `--answers`, else the layout's own, under the tree.
fn answers_path(tree: &Path, plan: &Plan, a: &RunArgs) -> Option<PathBuf> {
    a.answers.clone().or_else(|| {
        plan.answers
            .as_ref()
            .map(|p| tree.join(p.trim_start_matches('/')))
    })
}

fn compare(ours: &Provenance, reference: &Path, tree: &Path, ref_tree: Option<&Path>) {
    let theirs: Provenance = match std::fs::read_to_string(reference)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("stage0-runner: --compare {}: {e}", reference.display());
            return;
        }
    };
    let Some((i, what)) = provenance::first_difference(ours, &theirs) else {
        eprintln!("compare: every process matches the reference provenance");
        return;
    };
    let argv = ours
        .processes
        .get(i)
        .map(|p| p.argv.join(" "))
        .unwrap_or_default();
    eprintln!(
        "compare: first differing step is #{} `{argv}`: {what}",
        i + 1
    );
    let (Some(rt), Some(p)) = (ref_tree, ours.processes.get(i)) else {
        return;
    };
    for w in &p.writes {
        let rel = w.path.trim_start_matches('/');
        if let (Ok(a), Ok(b)) = (std::fs::read(tree.join(rel)), std::fs::read(rt.join(rel))) {
            if a != b {
                eprintln!("compare: {}: {}", w.path, provenance::binary_diff(&a, &b));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        engine: EngineArgs,
        tree: Option<PathBuf>,
    }

    /// The engine kind and tree `run ARGS` would use.
    fn parse(args: &[&str]) -> (Result<EngineKind, String>, Option<PathBuf>) {
        let mut a = Args::try_parse_from(std::iter::once("run").chain(args.iter().copied()))
            .expect("parses");
        a.engine.take_jit_word(&mut a.tree);
        (a.engine.kind(), a.tree)
    }

    #[test]
    fn engine_and_cross_check_spellings() {
        let tree = Some(PathBuf::from("tree"));
        assert_eq!(parse(&["--engine", "jit"]).0, Ok(EngineKind::Jit));
        assert_eq!(parse(&["--engine", "interp"]).0, Ok(EngineKind::Interp));
        assert_eq!(
            parse(&["--cross-check", "tree"]),
            (Ok(EngineKind::CrossCheck), tree.clone())
        );
        assert_eq!(
            parse(&["--cross-check=jit", "tree"]),
            (Ok(EngineKind::JitCrossCheck), tree.clone())
        );
        assert_eq!(
            parse(&["--engine", "jit", "--cross-check", "tree"]),
            (Ok(EngineKind::JitCrossCheck), tree)
        );
        assert_eq!(
            parse(&["--cross-check", "jit"]),
            (Ok(EngineKind::JitCrossCheck), None)
        );
        assert!(parse(&["--engine", "unicorn", "--cross-check"]).0.is_err());
        assert!(parse(&["--engine", "jit", "--cross-check=unicorn"])
            .0
            .is_err());
        let default = match vm::engine::registry::jit_available() {
            Ok(()) => EngineKind::Jit,
            Err(_) => EngineKind::Interp,
        };
        assert_eq!(parse(&[]).0, Ok(default));
    }
}
