//! Builds a Stage0 package without a container engine: fetch its sources (hash-checked),
//! lay out the root its Containerfile builds in, run the build stages inside the i386
//! emulator (the `stage0-chain` library, StageX layout), and export the last stage as an
//! OCI layout.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use stage0_chain::progress::{Progress, ProgressMode};
use stage0_chain::{self as chain, preflight, Layout, Options, Sink};

use crate::build_args::target_build_args;
use crate::build_root::{lay_out, BuildContext, Placed};
use crate::containerfile::Containerfile;
use crate::error::{Error, Result};
use crate::fetch::{fetch_source, FetchOutcome, Provider};
use crate::graph::Target;
use crate::oci::ImageDigests;
use crate::sources::{fetch_dir, resolve_sources, ResolvedSource};
use crate::stage_image::{write_stage_image, BuildOutputs, ExportOptions, LayerCompression};

/// What the emulator did.
#[derive(Debug, Clone)]
pub struct EmulatorRun {
    /// Top-level steps (exec-form `RUN` lines).
    pub steps: usize,
    /// Guest programs started (every exec).
    pub programs: usize,
    /// Guest instructions executed.
    pub instructions: u64,
    /// Wall time of the run.
    pub wall: Duration,
}

/// Everything one emulated build produced.
#[derive(Debug, Clone)]
pub struct EmulatedBuild {
    /// Sources and how each was obtained.
    pub fetched: Vec<(ResolvedSource, FetchOutcome)>,
    /// What the lay-out placed in the root.
    pub placed: Vec<Placed>,
    /// The root the stages ran in (its `/build` holds the outputs).
    pub root: PathBuf,
    /// The emulator's run.
    pub run: EmulatorRun,
    /// Digests of the written OCI layout.
    pub digests: ImageDigests,
}

/// Places every source of `target` into `fetch/<stage>/<name>/`, hash-checked.
pub fn fetch_target_sources(
    stagex: &Path,
    target: &Target,
    providers: &[Provider],
) -> Result<Vec<(ResolvedSource, FetchOutcome)>> {
    let name = &target.package.package.name;
    let dir = fetch_dir(stagex, &target.stage, name);
    resolve_sources(&target.package, target.version.as_deref())?
        .into_iter()
        .map(|src| {
            let outcome = fetch_source(&src, &dir, &target.stage, name, providers)?;
            Ok((src, outcome))
        })
        .collect()
}

/// Runs the build stages of the Containerfile at `root/Containerfile` in the emulator,
/// after the chain's preflight (sources present, published hex0 seed), as `stage0-runner
/// run --layout stagex` runs them: progress on stderr unless `quiet`, what the guests print
/// to `log`.
pub fn run_in_emulator(root: &Path, log: Option<&Path>, quiet: bool) -> Result<EmulatorRun> {
    let plan = chain::plan(root, Layout::Stagex).map_err(|e| Error::Emulator(e.to_string()))?;
    let problems = preflight::check(root, Some(&plan), Layout::Stagex, None);
    if !problems.is_empty() {
        let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
        return Err(Error::Emulator(format!(
            "the laid-out root is not ready: {}",
            problems.join("; ")
        )));
    }
    let options = Options {
        guest_output: log.map(|l| Sink::File(l.to_path_buf())),
        interrupt: Some(chain::interrupt::flag()),
        ..Options::default()
    };
    let mode = if quiet {
        ProgressMode::Quiet
    } else {
        ProgressMode::Auto
    };
    let progress = Rc::new(RefCell::new(Progress::new(mode, None)));
    let outcome = chain::execute(root, &plan, options, progress)
        .map_err(|e| Error::Emulator(e.to_string()))?;
    for f in &outcome.faults {
        eprintln!("stage0-runner: {f}");
    }
    if let Some(f) = outcome.failure {
        return Err(Error::Emulator(f.to_string()));
    }
    Ok(EmulatorRun {
        steps: plan.steps.len(),
        programs: outcome.records.len(),
        instructions: outcome.instructions,
        wall: outcome.wall,
    })
}

/// Fetches, lays out under `work` (which must not hold a `root` yet), runs in the
/// emulator and writes the OCI layout of `target` to `out`.
pub fn build_emulated(
    stagex: &Path,
    target: &Target,
    providers: &[Provider],
    work: &Path,
    out: &Path,
    quiet: bool,
) -> Result<EmulatedBuild> {
    let fetched = fetch_target_sources(stagex, target, providers)?;
    let package_dir = target.dir(stagex);
    let cf_path = package_dir.join("Containerfile");
    let cf = Containerfile::read(&cf_path)?;
    let ctx = BuildContext {
        fetch_dir: fetch_dir(stagex, &target.stage, &target.package.package.name),
        package_dir,
    };
    let args: BTreeMap<String, String> = target_build_args(target)?.into_iter().collect();
    let (root, placed) = lay_out(&cf, &ctx, &args, work)?;
    let cf_in_root = root.join(chain::plan::stagex::CONTAINERFILE);
    std::fs::copy(&cf_path, &cf_in_root).map_err(|e| Error::io(&cf_in_root, e))?;
    let log = work.join("guest-output.log");
    let run = run_in_emulator(&root, Some(&log), quiet)?;
    let platform = target
        .package
        .package
        .platforms
        .first()
        .cloned()
        .unwrap_or_else(|| "linux/amd64".into());
    let options = ExportOptions::stagex(
        &target.stage,
        &target.name,
        target.version.as_deref(),
        &platform,
    );
    let digests = write_stage_image(
        &cf,
        &BuildOutputs::Root(root.clone()),
        &options,
        LayerCompression::GoGzip,
        out,
    )?;
    Ok(EmulatedBuild {
        fetched,
        placed,
        root,
        run,
        digests,
    })
}
