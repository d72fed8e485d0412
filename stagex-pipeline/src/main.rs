//! `stagex-pipeline`: StageX build graph, source fetching, and the bootstrap-stage0 image.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use stage0_chain::verbosity::Verbosity;

use stagex_pipeline::attest;
use stagex_pipeline::containerfile::Containerfile;
use stagex_pipeline::emulated::build_emulated;
use stagex_pipeline::engine;
use stagex_pipeline::fetch::{fetch_source, FetchOutcome, Provider};
use stagex_pipeline::graph::Graph;
use stagex_pipeline::sources::{fetch_dir, resolve_sources};
use stagex_pipeline::stage_image::{
    write_stage_image, BuildOutputs, ExportOptions, LayerCompression,
};
use stagex_pipeline::{Error, Result};

#[derive(Parser)]
#[command(
    name = "stagex-pipeline",
    version,
    propagate_version = true,
    about = "StageX hand-off: graph, sources, OCI image of bootstrap-stage0",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(flatten)]
    verbosity: Verbosity,
    #[command(subcommand)]
    command: Cmd,
}

const EXIT_CODES: &str = "Exit status (every command): 0 success; 1 the command failed (the \
reason is printed after `error:`); 2 bad arguments.";

#[derive(Subcommand)]
enum Cmd {
    /// Print the build graph's levels and counts.
    Graph {
        /// StageX checkout (holds packages/).
        #[arg(long)]
        stagex: PathBuf,
        /// Also write the graph as Graphviz text.
        #[arg(long)]
        dot: Option<PathBuf>,
        /// List every target under its level.
        #[arg(long)]
        list: bool,
    },
    /// Place a package's sources into fetch/<stage>/<name>/, hash-checked.
    Fetch {
        /// Package: directory name (`stage0`), `stage/name` or `stage-name`.
        package: String,
        /// StageX checkout (holds packages/; fetch/ is written there).
        #[arg(long)]
        stagex: PathBuf,
        /// Directory of tarballs named as in fetch/.
        #[arg(long)]
        tarballs: Option<PathBuf>,
        /// Root of git snapshots `<owner>+<repo>/repo` to recreate GitHub archives from.
        #[arg(long)]
        snapshots: Option<PathBuf>,
    },
    /// Build a package without a container engine: fetch, lay out, run its Containerfile
    /// in the i386 emulator, write the OCI layout (only packages built FROM scratch).
    /// With `--engine docker`: the target's whole dependency closure with BuildKit.
    Build {
        /// Target, `stage-name` (e.g. bootstrap-stage0).
        target: String,
        /// StageX checkout (holds packages/; fetch/ is written there).
        #[arg(long)]
        stagex: PathBuf,
        /// Directory of tarballs named as in fetch/.
        #[arg(long)]
        tarballs: Option<PathBuf>,
        /// Root of git snapshots `<owner>+<repo>/repo` to recreate GitHub archives from.
        #[arg(long)]
        snapshots: Option<PathBuf>,
        /// Output directory for the OCI layout.
        #[arg(long)]
        out: PathBuf,
        /// Scratch directory for the build root (default: OUT.work); must not hold root/.
        #[arg(long)]
        work: Option<PathBuf>,
        /// No progress bar.
        #[arg(short, long)]
        quiet: bool,
        #[command(flatten)]
        engine: Box<stagex_pipeline::engine_cli::EngineArgs>,
        /// Write an in-toto Statement v1 (SLSA Provenance v1) of the image to FILE: the
        /// subject is the manifest, the dependencies the package's files and sources
        /// (the emulated build; not with --engine).
        #[arg(long, value_name = "FILE", conflicts_with = "engine")]
        attestation: Option<PathBuf>,
        /// Print one JSON summary object on stdout (digests, counts, times, whether the
        /// manifest matches the published digest); the human lines go to stderr (the
        /// emulated build; not with --engine).
        #[arg(long, conflicts_with = "engine")]
        json: bool,
    },
    /// Print the ordered build plan (levels) of a target's dependency closure.
    Plan {
        /// Target, `stage-name`.
        target: String,
        /// StageX checkout (holds packages/).
        #[arg(long)]
        stagex: PathBuf,
    },
    /// Hand a built OCI layout to StageX's Makefile/BuildKit: print (or, with --run, run)
    /// the commands that place and load it and build the targets that become ready.
    Load {
        /// The target the layout is, `stage-name` (e.g. bootstrap-stage0).
        target: String,
        /// StageX checkout the commands run in.
        #[arg(long)]
        stagex: PathBuf,
        /// The OCI layout written by `build` or `image` (read, not written).
        #[arg(long, value_name = "DIR", alias = "out")]
        oci_layout: PathBuf,
        /// Run the commands (needs Docker + buildx + the containerd image store).
        #[arg(long)]
        run: bool,
        /// Docker client to use.
        #[arg(long, default_value = "docker")]
        docker: String,
    },
    /// Print each built target's digest beside StageX's published one.
    Verify {
        /// StageX checkout (holds digests/).
        #[arg(long)]
        stagex: PathBuf,
        /// The build's output directory.
        #[arg(long)]
        out: PathBuf,
    },
    /// Check the container engine like StageX's `make compat` and print the fix for each miss.
    Doctor {
        /// Docker client to use.
        #[arg(long, default_value = "docker")]
        docker: String,
    },
    /// Write the OCI layout of bootstrap-stage0 from an already built root.
    Image {
        /// StageX checkout (holds packages/bootstrap/stage0).
        #[arg(long)]
        stagex: PathBuf,
        /// Root holding build/ with the Containerfile's outputs (`/build/hex2` = ROOT/build/hex2).
        #[arg(long)]
        build_root: PathBuf,
        /// Output directory for the OCI layout.
        #[arg(long)]
        out: PathBuf,
        /// Target, `stage-name`.
        #[arg(long, default_value = "bootstrap-stage0")]
        target: String,
        /// Compress layers with the host's `gzip -n` instead of Go's encoder.
        #[arg(long)]
        gnu_gzip: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout: `stagex-pipeline man | man -l -`.
    Man,
}

fn find_target<'a>(
    graph: &'a Graph,
    package: &str,
) -> Result<Vec<&'a stagex_pipeline::graph::Target>> {
    let wanted = package.replace('/', "-");
    let hits: Vec<_> = graph
        .targets
        .values()
        .filter(|t| t.id() == wanted || t.name == package || t.origin == package)
        .collect();
    if hits.is_empty() {
        return Err(Error::Tree(format!("no package {package:?}")));
    }
    Ok(hits)
}

fn graph_cmd(stagex: PathBuf, dot: Option<PathBuf>, list: bool) -> Result<()> {
    let g = Graph::load(&stagex)?;
    let levels = g.by_level()?;
    println!("targets: {}", g.targets.len());
    println!("levels: {}", levels.len());
    println!("edges: {}", g.edge_count());
    for (i, ids) in levels.iter().enumerate() {
        println!(
            "level {i:2}: {:3} {}",
            ids.len(),
            if ids.len() == 1 { "target" } else { "targets" }
        );
        if list {
            for id in ids {
                println!("    {id}");
            }
        }
    }
    for (t, d) in g.missing_deps() {
        println!("missing dependency: {t} -> {d}");
    }
    for s in &g.skipped {
        println!("skipped (no package.toml): {}", s.display());
    }
    if let Some(path) = dot {
        std::fs::write(&path, g.to_dot()).map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}

fn fetch_cmd(
    package: String,
    stagex: PathBuf,
    tarballs: Option<PathBuf>,
    snapshots: Option<PathBuf>,
) -> Result<()> {
    let g = Graph::load(&stagex)?;
    let mut providers = Vec::new();
    providers.extend(tarballs.map(Provider::Tarballs));
    providers.extend(snapshots.map(Provider::Snapshots));
    let mut done = std::collections::BTreeSet::new();
    for t in find_target(&g, &package)? {
        let pkg_name = &t.package.package.name;
        if !done.insert((t.stage.clone(), pkg_name.clone())) {
            continue;
        }
        let dir = fetch_dir(&stagex, &t.stage, pkg_name);
        for src in resolve_sources(&t.package, t.version.as_deref())? {
            match fetch_source(&src, &dir, &t.stage, pkg_name, &providers)? {
                FetchOutcome::AlreadyPresent => {
                    println!("ok      {} {} (already present)", src.hash, src.file)
                }
                FetchOutcome::Placed(by) => {
                    println!("placed  {} {} (from {by})", src.hash, src.file)
                }
            }
        }
    }
    Ok(())
}

fn image_cmd(
    stagex: PathBuf,
    build_root: PathBuf,
    out: PathBuf,
    target: String,
    gnu_gzip: bool,
) -> Result<()> {
    let g = Graph::load(&stagex)?;
    let t = g
        .targets
        .get(&target)
        .ok_or_else(|| Error::Tree(format!("no target {target}")))?;
    let cf = Containerfile::read(&t.dir(&stagex).join("Containerfile"))?;
    let platform = t
        .package
        .package
        .platforms
        .first()
        .cloned()
        .unwrap_or_else(|| "linux/amd64".into());
    let options = ExportOptions::stagex(&t.stage, &t.name, t.version.as_deref(), &platform);
    let compression = if gnu_gzip {
        LayerCompression::GnuGzip
    } else {
        LayerCompression::GoGzip
    };
    let d = write_stage_image(
        &cf,
        &BuildOutputs::Root(build_root),
        &options,
        compression,
        &out,
    )?;
    for (diff, blob) in d.diff_ids.iter().zip(&d.layers) {
        println!("layer   {blob} (diff_id {diff})");
    }
    println!("config   {}", d.config);
    let published = attest::published(&stagex, &t.stage, &target, &d.manifest);
    println!("manifest {} {published}", d.manifest);
    println!("index    {}", d.index);
    Ok(())
}

/// `build`'s options beyond where things are.
struct BuildOutput {
    quiet: bool,
    attestation: Option<PathBuf>,
    json: bool,
}

/// Human output of `build`: stdout, or stderr when stdout carries the `--json` summary.
macro_rules! say {
    ($json:expr, $($t:tt)*) => {
        if $json { eprintln!($($t)*) } else { println!($($t)*) }
    };
}

fn build_cmd(
    target: String,
    stagex: PathBuf,
    tarballs: Option<PathBuf>,
    snapshots: Option<PathBuf>,
    out: PathBuf,
    work: Option<PathBuf>,
    o: BuildOutput,
) -> Result<()> {
    let (quiet, json) = (o.quiet, o.json);
    let g = Graph::load(&stagex)?;
    let t = g
        .targets
        .get(&target)
        .ok_or_else(|| Error::Tree(format!("no target {target}")))?;
    if !t.deps.is_empty() {
        return Err(Error::Tree(format!(
            "{target} builds on {} and needs a container engine: add `--engine docker` (or see `stagex-pipeline load`)",
            t.deps.join(", ")
        )));
    }
    let mut providers = Vec::new();
    providers.extend(tarballs.map(Provider::Tarballs));
    providers.extend(snapshots.map(Provider::Snapshots));
    let work = work.unwrap_or_else(|| {
        let mut w = out.clone().into_os_string();
        w.push(".work");
        PathBuf::from(w)
    });
    let b = build_emulated(&stagex, t, &providers, &work, &out, quiet)?;
    for (src, outcome) in &b.fetched {
        say!(json, "source   {} {} ({outcome})", src.hash, src.file);
    }
    for p in &b.placed {
        say!(json, "line {:3} {}", p.line, p.action);
    }
    say!(
        json,
        "emulated {} steps, {} programs, {} instructions, {:.1} s (root {})",
        b.run.steps,
        b.run.programs,
        b.run.instructions,
        b.run.wall.as_secs_f64(),
        b.root.display()
    );
    let published = attest::published(&stagex, &t.stage, &target, &b.digests.manifest);
    say!(json, "config   {}", b.digests.config);
    say!(json, "manifest {} {published}", b.digests.manifest);
    say!(json, "index    {}", b.digests.index);
    if let Some(path) = &o.attestation {
        let platform = t.package.package.platforms.first().map(String::as_str);
        let s = attest::image_statement(&stagex, t, platform.unwrap_or("linux/amd64"), &b)?;
        std::fs::write(path, stage0_chain::attestation::to_json(&s))
            .map_err(|e| Error::io(path, e))?;
        say!(json, "attestation {}", path.display());
    }
    if json {
        let summary = serde_json::json!({
            "format": "stagex-pipeline build summary v1",
            "target": target,
            "steps": b.run.steps,
            "programs": b.run.programs,
            "instructions": b.run.instructions,
            "wall_seconds": b.run.wall.as_secs_f64(),
            "layers": b.digests.layers,
            "diff_ids": b.digests.diff_ids,
            "config": b.digests.config,
            "manifest": b.digests.manifest,
            "index": b.digests.index,
            "published": published,
        });
        println!("{summary}");
    }
    Ok(())
}

fn plan_cmd(target: String, stagex: PathBuf) -> Result<()> {
    let g = Graph::load(&stagex)?;
    let plan = engine::build_plan(&g, &target)?;
    let total: usize = plan.iter().map(|(_, ids)| ids.len()).sum();
    println!("{target}: {total} targets in {} levels", plan.len());
    for (level, ids) in &plan {
        println!("level {level:2}: {}", ids.join(" "));
    }
    Ok(())
}

fn shell(stagex: &std::path::Path, script: &str) -> Result<()> {
    println!("+ {script}");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(stagex)
        .envs(engine::MAKE_ENV.iter().copied())
        .status()
        .map_err(|e| Error::Command {
            command: script.to_string(),
            message: e.to_string(),
        })?;
    if !status.success() {
        return Err(Error::Command {
            command: script.to_string(),
            message: status.to_string(),
        });
    }
    Ok(())
}

fn load_cmd(
    target: String,
    stagex: PathBuf,
    layout: PathBuf,
    run: bool,
    docker: String,
) -> Result<()> {
    let out = layout;
    let g = Graph::load(&stagex)?;
    let t = g
        .targets
        .get(&target)
        .ok_or_else(|| Error::Tree(format!("no target {target}")))?;
    let index = out.join("index.json");
    let text = std::fs::read_to_string(&index).map_err(|e| Error::io(&index, e))?;
    let parsed: oci_spec::image::ImageIndex = serde_json::from_str(&text)
        .map_err(|e| Error::Image(format!("{}: not an OCI image index: {e}", index.display())))?;
    let index_digest = parsed
        .manifests()
        .first()
        .map(|m| m.digest().to_string())
        .ok_or_else(|| Error::Image(format!("{}: no manifests", index.display())))?;
    let out_abs = std::fs::canonicalize(&out).map_err(|e| Error::io(&out, e))?;
    let place = format!(
        "rm -rf out/{target} && mkdir -p out && cp -a {} out/{target} && touch out/{target}/index.json",
        out_abs.display()
    );
    let mut scripts = vec![place];
    scripts.extend(engine::import_commands(t));
    let built = std::collections::BTreeSet::from([target.clone()]);
    let ready = engine::ready_targets(&g, &built);
    let recipes = ready
        .iter()
        .map(|id| engine::make_recipe(&g.targets[id]))
        .collect::<Result<Vec<_>>>()?;
    println!(
        "# {target}: OCI layout {} (index {})",
        out.display(),
        index_digest
    );
    println!("# in {} with the Makefile's environment:", stagex.display());
    let env: Vec<String> = engine::MAKE_ENV
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    println!("export {}", env.join(" "));
    println!(
        "# 1. the layout where the Makefile's oci-layout:// contexts look, newer than its inputs"
    );
    println!("{}", scripts[0]);
    println!("# 2. make import-{target}");
    for s in &scripts[1..] {
        println!("{s}");
    }
    let version = t.version.as_deref().unwrap_or("latest");
    println!(
        "# 2b. if `docker load` cannot read an OCI layout (Docker before 25, or without the \
         containerd image store), either copy it with skopeo:"
    );
    println!(
        "#   skopeo copy oci:{} docker-daemon:stagex/{target}:{version}",
        out_abs.display()
    );
    println!(
        "#   or give it to buildx as a build context, no load needed: docker buildx build \
         --build-context stagex/{target}=oci-layout://{} ...",
        out_abs.display()
    );
    println!(
        "#   (to inspect it: skopeo inspect --override-arch 386 oci:{}; the image is \
         linux/386, so skopeo on another host needs --override-arch)",
        out_abs.display()
    );
    println!(
        "# 3. targets ready now ({}): make {}",
        ready.len(),
        ready.join(" ")
    );
    for (id, r) in ready.iter().zip(&recipes) {
        println!("# make {id}\n{r}");
    }
    if !run {
        return Ok(());
    }
    let engine = engine::detect_engine(&docker).map_err(|p| Error::Command {
        command: format!("{docker} (engine check)"),
        message: p.to_string(),
    })?;
    println!(
        "# engine: docker {} / buildx {}",
        engine.server, engine.buildx
    );
    for s in scripts.iter().chain(&recipes) {
        shell(&stagex, s)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    // Exit quietly when stdout is closed early (`| head`) instead of panicking in println!.
    // SAFETY: restoring the default disposition of SIGPIPE before any output.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Graph { stagex, dot, list } => graph_cmd(stagex, dot, list),
        Cmd::Fetch {
            package,
            stagex,
            tarballs,
            snapshots,
        } => fetch_cmd(package, stagex, tarballs, snapshots),
        Cmd::Build {
            target,
            stagex,
            tarballs,
            snapshots,
            out,
            work,
            quiet,
            engine,
            attestation,
            json,
        } => match engine.engine {
            Some(_) => {
                let mut providers = Vec::new();
                providers.extend(tarballs.map(Provider::Tarballs));
                providers.extend(snapshots.map(Provider::Snapshots));
                stagex_pipeline::engine_cli::engine_build_cmd(
                    &target, stagex, providers, out, &engine,
                )
            }
            None => build_cmd(
                target,
                stagex,
                tarballs,
                snapshots,
                out,
                work,
                BuildOutput {
                    quiet: quiet || cli.verbosity.quiet,
                    attestation,
                    json,
                },
            ),
        },
        Cmd::Plan { target, stagex } => plan_cmd(target, stagex),
        Cmd::Load {
            target,
            stagex,
            oci_layout,
            run,
            docker,
        } => load_cmd(target, stagex, oci_layout, run, docker),
        Cmd::Image {
            stagex,
            build_root,
            out,
            target,
            gnu_gzip,
        } => image_cmd(stagex, build_root, out, target, gnu_gzip),
        Cmd::Verify { stagex, out } => stagex_pipeline::engine_cli::verify_cmd(&stagex, &out),
        Cmd::Doctor { docker } => stagex_pipeline::engine_cli::doctor_cmd(&docker),
        Cmd::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "stagex-pipeline", &mut std::io::stdout());
            Ok(())
        }
        Cmd::Man => clap_mangen::Man::new(Cli::command())
            .render(&mut std::io::stdout())
            .map_err(|e| Error::io(std::path::Path::new("<stdout>"), e)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
