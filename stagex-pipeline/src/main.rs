//! `stagex-pipeline`: StageX build graph, source fetching, and the bootstrap-stage0 image.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use stagex_pipeline::containerfile::Containerfile;
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
    about = "StageX hand-off: graph, sources, OCI image of bootstrap-stage0"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

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
        println!("level {i:2}: {:3} targets", ids.len());
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
    println!("manifest {}", d.manifest);
    println!("index    {}", d.index);
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
        Cmd::Image {
            stagex,
            build_root,
            out,
            target,
            gnu_gzip,
        } => image_cmd(stagex, build_root, out, target, gnu_gzip),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
