//! `stage0-runner ddc`: diverse double compilation of the chain.
//!
//! The chain runs once with substitutes (Rust seed tools and/or host-compiled C tools)
//! standing in for the emulated programs they reproduce, and its every step's outputs are
//! compared with an all-emulated run's.

pub mod compare;
pub mod hook;
pub mod hostcc;
pub mod m2c;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use clap::{Args, ValueEnum};

use stage0_chain::attestation::{self, ChainBuild, ChainParameters};
use stage0_chain::provenance::{self, Process, Provenance};
use stage0_chain::{answers, preflight, Layout, NoHooks, Options, Plan};

/// Which substitutes stand in for emulated programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum With {
    /// The `seed` crate's Rust tools (hex0 ... M1, hex2, blood-elf).
    Rust,
    /// M2-Planet, M2-Mesoplanet, M1, hex2, blood-elf built with the host's `cc`.
    HostCc,
    /// Host-compiled tools where they apply, Rust tools elsewhere.
    Both,
}

#[derive(Args)]
pub struct DdcArgs {
    /// Which substitutes to use.
    #[arg(long, value_enum, default_value = "rust")]
    pub with: With,
    /// The meaning host-cc gives `&&` and `||`: M2-Planet's (bitwise, as the chain's
    /// compiler has it) or ISO C's (the sources as the upstream makefiles build them).
    #[arg(long, value_enum, default_value = "m2")]
    pub host_cc_dialect: hostcc::Dialect,
    /// A tree after an all-emulated `stage0-runner run` (skips running the reference).
    #[arg(long, value_name = "DIR", requires = "reference_provenance")]
    pub reference: Option<PathBuf>,
    /// That run's provenance (`stage0-runner run --provenance`).
    #[arg(long, value_name = "FILE", requires = "reference")]
    pub reference_provenance: Option<PathBuf>,
    /// Scratch directory for the tree copies and the host-compiled tools
    /// (default: a new directory under the system's temporary directory).
    #[arg(long, value_name = "DIR")]
    pub work: Option<PathBuf>,
    /// Write the DDC run's provenance (substituted steps marked) to FILE.
    #[arg(long, value_name = "FILE")]
    pub provenance: Option<PathBuf>,
    /// Write an in-toto Statement v1 (SLSA Provenance v1) of the DDC run to FILE: subjects
    /// are the answers' outputs; written only when everything agrees.
    #[arg(long, value_name = "FILE")]
    pub attestation: Option<PathBuf>,
    /// Print one JSON summary object on stdout; the table and messages go to stderr.
    #[arg(long)]
    pub json: bool,
    /// A pristine upstream stage0-posix tree (it is copied, never written).
    pub tree: PathBuf,
}

/// What a run with substitutes produced.
struct DdcRun {
    processes: Vec<Process>,
    failure: Option<String>,
}

/// Human output: stdout, or stderr when stdout carries the `--json` summary.
macro_rules! say {
    ($json:expr, $($t:tt)*) => {
        if $json { eprintln!($($t)*) } else { println!($($t)*) }
    };
}

/// Runs `a` and returns the exit status (0 verified, 1 differs, 2 could not run).
pub fn ddc(a: DdcArgs) -> u8 {
    match ddc_inner(&a) {
        Ok(ok) => u8::from(!ok),
        Err(e) => {
            eprintln!("stage0-runner ddc: {e}");
            2
        }
    }
}

fn with_name(w: With) -> &'static str {
    match w {
        With::Rust => "rust",
        With::HostCc => "host-cc",
        With::Both => "both",
    }
}

fn ddc_inner(a: &DdcArgs) -> Result<bool, String> {
    let plan = stage0_chain::plan(&a.tree, Layout::Upstream).map_err(|e| e.to_string())?;
    let answers_path = a.tree.join("x86.answers");
    let problems = preflight::check(&a.tree, Some(&plan), Layout::Upstream, Some(&answers_path));
    if !problems.is_empty() {
        let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
        return Err(format!("the tree is not ready: {}", problems.join("; ")));
    }
    let started = std::time::Instant::now();
    let work = match &a.work {
        Some(w) => w.clone(),
        // Kept afterwards: it holds both trees for inspection.
        None => tempfile::Builder::new()
            .prefix("stage0-ddc-")
            .tempdir()
            .map_err(|e| format!("creating a work directory: {e}"))?
            .keep(),
    };
    let host = match a.with {
        With::Rust => None,
        With::HostCc | With::Both => {
            let tc = hostcc::build(&a.tree, &work.join("host-cc"), a.host_cc_dialect)
                .map_err(|e| e.to_string())?;
            say!(
                a.json,
                "host-cc: built {} with {} into {} ({})",
                tc.tools.keys().cloned().collect::<Vec<_>>().join(", "),
                tc.cc.display(),
                tc.dir.display(),
                match tc.dialect {
                    hostcc::Dialect::M2 => "&& and || as M2-Planet compiles them: bitwise",
                    hostcc::Dialect::Iso => "&& and || as ISO C has them",
                }
            );
            Some(tc)
        }
    };
    let (ref_tree, ref_processes) = match (&a.reference, &a.reference_provenance) {
        (Some(t), Some(p)) => (t.clone(), read_provenance(p)?.processes),
        _ => {
            let t = work.join("reference");
            copy_tree(&a.tree, &t)?;
            say!(
                a.json,
                "reference: running the all-emulated chain in {}",
                t.display()
            );
            let options = Options {
                interrupt: Some(stage0_chain::interrupt::flag()),
                ..Options::default()
            };
            let outcome = stage0_chain::execute(&t, &plan, options, Rc::new(RefCell::new(NoHooks)))
                .map_err(|e| crate::render::chain_error(&e))?;
            crate::render::after_run(&outcome);
            if let Some(f) = outcome.failure {
                return Err(format!("the all-emulated reference run failed: {f}"));
            }
            (t, outcome.records.iter().map(Process::from).collect())
        }
    };
    let ours = work.join("ddc");
    copy_tree(&a.tree, &ours)?;
    let substitutes = hook::Substitutes {
        rust: matches!(a.with, With::Rust | With::Both),
        host,
    };
    let run = execute(&ours, &plan, substitutes)?;
    let checked =
        answers::parse(&std::fs::read_to_string(&answers_path).map_err(|e| e.to_string())?)
            .map(|list| answers::check(&ours, &list))
            .map_err(|e| format!("{}:{e}", answers_path.display()))?;
    let rows = compare::steps(&run.processes, &ref_processes);
    print_table(&rows, a.json);
    let tree_diffs = compare::trees(&ours, &ref_tree, &plan.outputs);
    for d in &tree_diffs {
        say!(a.json, "DIFFERS {d}");
    }
    let prov = Provenance {
        format: provenance::FORMAT.into(),
        layout: "upstream".into(),
        inputs: provenance::hash_inputs(&a.tree, &plan.outputs).map_err(|e| e.to_string())?,
        processes: run.processes.clone(),
        answers: Some(provenance::answers("x86.answers", &checked)),
    };
    let prov_text = provenance::to_json(&prov);
    if let Some(path) = &a.provenance {
        std::fs::write(path, &prov_text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if let Some(f) = &run.failure {
        say!(a.json, "FAILURE {f}");
    }
    let substituted = rows.iter().filter(|r| r.substitute.is_some()).count();
    let identical = rows.iter().filter(|r| r.identical).count();
    let matched = checked.iter().filter(|c| c.ok()).count();
    let mut ok = run.failure.is_none()
        && identical == rows.len()
        && tree_diffs.is_empty()
        && matched == checked.len();
    if let Some(path) = &a.attestation {
        let written = if ok {
            attestation::chain_statement(ChainBuild {
                build_type: attestation::BUILD_TYPE_DDC,
                parameters: ChainParameters::of(
                    "upstream",
                    &plan,
                    Some("x86.answers"),
                    Some(with_name(a.with)),
                ),
                inputs: &prov.inputs,
                checked: &checked,
                engine: "interp",
                provenance_json: prov_text.as_bytes(),
                metadata: None,
            })
            .map_err(|e| e.to_string())
            .and_then(|s| std::fs::write(path, attestation::to_json(&s)).map_err(|e| e.to_string()))
        } else {
            Err("the DDC run did not verify".to_string())
        };
        if let Err(e) = written {
            eprintln!(
                "stage0-runner ddc: not writing attestation {}: {e}",
                path.display()
            );
            ok = false;
        }
    }
    let verdict = if ok { "DDC VERIFIED" } else { "DDC FAILED" };
    say!(
        a.json,
        "{verdict}: {identical}/{} steps identical ({substituted} substituted), output trees {}, {matched}/{} answers match",
        rows.len(),
        if tree_diffs.is_empty() { "identical" } else { "differ" },
        checked.len()
    );
    if a.json {
        crate::json_summary::print(&crate::json_summary::DdcSummary {
            format: crate::json_summary::DDC_FORMAT,
            verdict,
            exit_code: u8::from(!ok),
            with: with_name(a.with).into(),
            steps: rows.len(),
            substituted,
            identical,
            tree_differences: tree_diffs.iter().map(|d| d.to_string()).collect(),
            answers: provenance::answers("x86.answers", &checked),
            failure: run.failure.clone(),
            wall_seconds: started.elapsed().as_secs_f64(),
        });
    }
    Ok(ok)
}

fn print_table(rows: &[compare::Row], json: bool) {
    say!(
        json,
        "{:>4}  {:<22} {:<9} command",
        "step",
        "substituted by",
        "identical"
    );
    for r in rows {
        let mut argv = r.argv.clone();
        if argv.len() > 90 {
            // str::floor_char_boundary needs Rust 1.91; the MSRV is older.
            let cut = (0..=87)
                .rev()
                .find(|&i| argv.is_char_boundary(i))
                .unwrap_or(0);
            argv.truncate(cut);
            argv.push_str("...");
        }
        say!(
            json,
            "{:>4}  {:<22} {:<9} {argv}",
            r.step,
            r.substitute.as_deref().unwrap_or("emulated"),
            if r.identical { "yes" } else { "NO" }
        );
        if let Some(d) = &r.detail {
            say!(json, "      {d}");
        }
    }
}

fn read_provenance(path: &Path) -> Result<Provenance, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Copies `from` to a fresh `to` (regular files, directories, symlinks; no `.git`).
pub fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    if to.exists() {
        std::fs::remove_dir_all(to).map_err(|e| format!("clearing {}: {e}", to.display()))?;
    }
    copy_dir(from, to).map_err(|e| format!("copying {} to {}: {e}", from.display(), to.display()))
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let t = e.file_type()?;
        if e.file_name() == ".git" {
            continue;
        } else if t.is_dir() {
            copy_dir(&src, &dst)?;
        } else if t.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else {
            std::fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}

/// Runs every step of the plan in one kernel with the substitutes hooked in at execve.
fn execute(tree: &Path, plan: &Plan, hook: hook::Substitutes) -> Result<DdcRun, String> {
    let options = Options {
        exec_hook: Some(Box::new(hook)),
        ..Options::default()
    };
    let outcome = stage0_chain::execute(tree, plan, options, Rc::new(RefCell::new(NoHooks)))
        .map_err(|e| crate::render::chain_error(&e))?;
    Ok(DdcRun {
        processes: outcome.records.iter().map(Process::from).collect(),
        failure: outcome.failure.map(|f| f.to_string()),
    })
}
