//! The engine commands' rendering for the CLI: `doctor`, `build --engine docker`, `verify`.

use crate::doctor::{doctor, Status};
use crate::error::{Error, Result};

/// `stagex-pipeline doctor`: one line per check, the fix under each miss; an error when a
/// check failed.
pub fn doctor_cmd(client: &str) -> Result<()> {
    let checks = doctor(client);
    let mut failed = 0;
    for c in &checks {
        let mark = match c.status {
            Status::Ok => "ok  ",
            Status::Warn => "warn",
            Status::Fail => {
                failed += 1;
                "FAIL"
            }
        };
        println!("{mark} {:<13} {}", c.what, c.found);
        if !c.fix.is_empty() {
            println!("     {:<13} fix: {}", "", c.fix);
        }
    }
    if failed > 0 {
        return Err(Error::Engine(format!(
            "{failed} check(s) failed; builds need every check ok or warn"
        )));
    }
    println!("engine ready for StageX builds");
    Ok(())
}

/// `build`'s engine options (flattened into the `build` command).
#[derive(clap::Args, Debug, Clone)]
pub struct EngineArgs {
    /// Build TARGET's whole dependency closure with a container engine (`docker`).
    #[arg(long, value_parser = ["docker"])]
    pub engine: Option<String>,
    /// Where bootstrap-stage0 comes from.
    #[arg(long, value_enum, default_value = "emulated", requires = "engine")]
    pub stage0: Stage0Arg,
    /// A buildx builder to send targets to (repeat to spread a level over several).
    #[arg(long = "builder", requires = "engine")]
    pub builders: Vec<String>,
    /// Targets of one level built at once (worker k uses builder k mod the number of builders).
    #[arg(long, default_value_t = 1, requires = "engine")]
    pub jobs: usize,
    /// `fail`: name every missing source and stop; `continue`: build anyway.
    #[arg(long, value_enum, default_value = "fail", requires = "engine")]
    pub missing_sources: MissingArg,
    /// BuildKit progress style passed as `--progress` (`plain` also copies the logs here).
    #[arg(long, default_value = "auto", requires = "engine")]
    pub progress: String,
    /// `$(PLATFORM)` for packages that do not force one.
    #[arg(long, default_value = "linux/amd64", requires = "engine")]
    pub platform: String,
    /// Download sources no other provider has from package.toml's mirrors (host `curl`).
    #[arg(long, requires = "engine")]
    pub mirrors: bool,
    /// Rebuild targets already in OUT.
    #[arg(long, requires = "engine")]
    pub rebuild: bool,
    /// Docker client to use.
    #[arg(long, default_value = "docker")]
    pub docker: String,
}

/// `--stage0`.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum Stage0Arg {
    /// The i386 emulator.
    Emulated,
    /// BuildKit.
    Engine,
}

/// `--missing-sources`.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum MissingArg {
    /// Stop before building.
    Fail,
    /// Build anyway.
    Continue,
}

/// `build TARGET --engine docker`.
pub fn engine_build_cmd(
    target: &str,
    stagex: std::path::PathBuf,
    providers: Vec<crate::fetch::Provider>,
    out: std::path::PathBuf,
    args: &EngineArgs,
) -> Result<()> {
    use crate::engine_build::{build_closure, describe_missing, EngineBuild, Event};
    let mut providers = providers;
    if args.mirrors {
        providers.push(crate::fetch::Provider::Mirrors);
    }
    let info =
        crate::doctor::require_engine(&args.docker).map_err(|e| Error::Engine(e.to_string()))?;
    println!("engine: dockerd {}, buildx {}", info.server, info.buildx);
    let graph = crate::graph::Graph::load(&stagex)?;
    let opts = EngineBuild {
        stagex,
        out,
        providers,
        client: args.docker.clone(),
        builders: args.builders.clone(),
        jobs: args.jobs,
        stage0: match args.stage0 {
            Stage0Arg::Emulated => crate::engine_build::Stage0From::Emulated,
            Stage0Arg::Engine => crate::engine_build::Stage0From::Engine,
        },
        missing: match args.missing_sources {
            MissingArg::Fail => crate::engine_build::MissingSources::Fail,
            MissingArg::Continue => crate::engine_build::MissingSources::Continue,
        },
        vars: crate::buildx_args::MakeVars {
            progress: args.progress.clone(),
            platform: args.platform.clone(),
            ..Default::default()
        },
        echo_logs: args.progress == "plain",
        rebuild: args.rebuild,
    };
    let mut print = |e: Event| {
        println!(
            "level {:2}  {:<32} {:<14} {:>8.1}s  {}",
            e.level,
            e.target,
            e.builder,
            e.elapsed.as_secs_f64(),
            e.state
        );
    };
    let r = build_closure(&opts, &graph, target, &mut print)?;
    if !r.missing.is_empty() {
        print!("{}", describe_missing(&r.missing));
    }
    for f in &r.digest_files {
        println!("digests  {}", f.display());
    }
    Ok(())
}

/// `verify --stagex DIR --out DIR`: each built target's manifest digest beside the published
/// one; an error when any differs.
pub fn verify_cmd(stagex: &std::path::Path, out: &std::path::Path) -> Result<()> {
    let graph = crate::graph::Graph::load(stagex)?;
    let built = crate::digests::built(out, &graph)?;
    if built.is_empty() {
        return Err(Error::Tree(format!(
            "no built target under {} (OUT/<stage>-<name>/index.json)",
            out.display()
        )));
    }
    let mut differ = 0;
    for (_, id, hex) in &built {
        let published = crate::digests::published_for(stagex, &graph, id)?;
        let verdict = match &published {
            Some(p) if p == hex => "match",
            Some(_) => {
                differ += 1;
                "DIFFERS"
            }
            None => "unpublished",
        };
        println!(
            "{verdict:<11} {id:<32} built {hex}  published {}",
            published.as_deref().unwrap_or("-")
        );
    }
    if differ > 0 {
        return Err(Error::Image(format!(
            "{differ} of {} built digests differ from StageX's published ones",
            built.len()
        )));
    }
    Ok(())
}
