//! `build TARGET --engine docker`: TARGET's dependency closure level by level into StageX's
//! layout (`OUT/<stage>-<name>/` OCI layouts, `OUT/digests/<stage>.txt`). bootstrap-stage0
//! comes from the emulator (default) or the engine; before any engine build a canary
//! checks that the engine's bootstrap-stage0 equals the emulated one and the published
//! digest. Independent targets of a level go to several builders at once (`--builder`,
//! `--jobs`). Sources are checked for the whole closure first, so a missing one stops the
//! build before anything is written.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::buildx_args::MakeVars;
use crate::buildx_run::{prepare_fetch, run_build, BuildxJob};
use crate::digests::{manifest_digest, published_for, write_digests};
use crate::emulated::{build_emulated, fetch_target_sources};
use crate::engine::build_plan;
use crate::error::{Error, Result};
use crate::fetch::{fetch_source, Provider};
use crate::graph::{Graph, Target};
use crate::sources::{fetch_dir, resolve_sources};

/// The root of the bootstrap.
pub const STAGE0: &str = "bootstrap-stage0";

/// Where bootstrap-stage0 comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage0From {
    /// The i386 emulator (`build bootstrap-stage0` without an engine).
    Emulated,
    /// BuildKit, like every other target.
    Engine,
}

/// What to do when a source of the closure cannot be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingSources {
    /// Name every missing source and stop before building anything.
    Fail,
    /// Name them and build anyway: the steps before the first use of a missing file run.
    Continue,
}

/// Options of an engine build.
#[derive(Debug, Clone)]
pub struct EngineBuild {
    /// The StageX checkout.
    pub stagex: PathBuf,
    /// Output root.
    pub out: PathBuf,
    /// Where sources come from.
    pub providers: Vec<Provider>,
    /// The docker CLI.
    pub client: String,
    /// Builders to spread a level over (empty: the client's current builder).
    pub builders: Vec<String>,
    /// Builds running at once.
    pub jobs: usize,
    /// Source of bootstrap-stage0.
    pub stage0: Stage0From,
    /// Missing-source policy.
    pub missing: MissingSources,
    /// Makefile variables (progress, platform).
    pub vars: MakeVars,
    /// Copy builder logs to stderr.
    pub echo_logs: bool,
    /// Rebuild targets whose layout is already in OUT.
    pub rebuild: bool,
}

/// One source nobody could provide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingSource {
    /// The target needing it.
    pub target: String,
    /// File name in fetch/.
    pub file: String,
    /// Expected sha256.
    pub hash: String,
    /// Where upstream has it.
    pub mirrors: Vec<String>,
    /// Why the providers could not.
    pub reason: String,
}

/// A progress event: level, target, builder, state, elapsed.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// Graph level of the target.
    pub level: usize,
    /// `<stage>-<name>`.
    pub target: &'a str,
    /// Builder name (`emulator` for the emulated Stage0).
    pub builder: &'a str,
    /// `present`, `building`, `built <digest>`, `FAILED`.
    pub state: String,
    /// Time since the target started.
    pub elapsed: Duration,
}

/// Result of the canary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canary {
    /// Manifest digest of the emulated bootstrap-stage0.
    pub emulated: String,
    /// Manifest digest of the engine's bootstrap-stage0.
    pub engine: String,
    /// StageX's published digest, when listed.
    pub published: Option<String>,
}

impl Canary {
    /// None when all agree, else which differ.
    pub fn disagreement(&self) -> Option<String> {
        let mut out = Vec::new();
        if self.engine != self.emulated {
            out.push(format!(
                "engine {} != emulated {}",
                self.engine, self.emulated
            ));
        }
        if let Some(p) = &self.published {
            for (what, d) in [("engine", &self.engine), ("emulated", &self.emulated)] {
                if d != p {
                    out.push(format!("{what} {d} != published {p}"));
                }
            }
        }
        (!out.is_empty()).then(|| out.join("; "))
    }
}

/// What a build did.
#[derive(Debug, Clone, Default)]
pub struct BuildReport {
    /// `(target, manifest digest)` of every target now in OUT, in plan order.
    pub digests: Vec<(String, String)>,
    /// The canary, when it ran.
    pub canary: Option<Canary>,
    /// Missing sources (only when continuing past them).
    pub missing: Vec<MissingSource>,
    /// digests/<stage>.txt files written.
    pub digest_files: Vec<PathBuf>,
}

/// Checks (and places, when a provider has it) every source of `ids`; returns the missing.
/// A source whose bytes have the wrong hash is an error at once.
pub fn check_sources(
    stagex: &Path,
    graph: &Graph,
    ids: &[String],
    providers: &[Provider],
) -> Result<Vec<MissingSource>> {
    let mut missing = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for id in ids {
        let t = &graph.targets[id];
        let name = &t.package.package.name;
        if !seen.insert((t.stage.clone(), name.clone())) {
            continue;
        }
        let dir = fetch_dir(stagex, &t.stage, name);
        for src in resolve_sources(&t.package, t.version.as_deref())? {
            match fetch_source(&src, &dir, &t.stage, name, providers) {
                Ok(_) => {}
                Err(Error::SourceUnavailable { reason, .. }) => missing.push(MissingSource {
                    target: id.clone(),
                    file: src.file.clone(),
                    hash: src.hash.clone(),
                    mirrors: src.urls.clone(),
                    reason,
                }),
                Err(e) => return Err(e),
            }
        }
    }
    Ok(missing)
}

/// Renders the missing sources, one block each.
pub fn describe_missing(missing: &[MissingSource]) -> String {
    let mut s = String::new();
    for m in missing {
        s.push_str(&format!(
            "missing source for {}: {} sha256 {}\n  mirrors: {}\n",
            m.target,
            m.file,
            m.hash,
            m.mirrors.join(" ")
        ));
    }
    s
}

fn emulated_stage0(opts: &EngineBuild, graph: &Graph, dest: &Path) -> Result<()> {
    let t = &graph.targets[STAGE0];
    let tmp = partial(dest);
    let work = opts.out.join(".work-emulated-stage0");
    for d in [&tmp, &work] {
        if d.exists() {
            std::fs::remove_dir_all(d).map_err(|e| Error::io(d, e))?;
        }
    }
    build_emulated(&opts.stagex, t, &opts.providers, &work, &tmp, true)?;
    std::fs::remove_dir_all(&work).map_err(|e| Error::io(&work, e))?;
    replace_dir(&tmp, dest)
}

fn partial(dest: &Path) -> PathBuf {
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned());
    dest.with_file_name(format!(".partial-{}", name.unwrap_or_default()))
}

fn replace_dir(tmp: &Path, dest: &Path) -> Result<()> {
    if dest.exists() {
        std::fs::remove_dir_all(dest).map_err(|e| Error::io(dest, e))?;
    }
    if let Some(p) = dest.parent() {
        std::fs::create_dir_all(p).map_err(|e| Error::io(p, e))?;
    }
    std::fs::rename(tmp, dest).map_err(|e| Error::io(dest, e))
}

fn engine_job<'a>(opts: &'a EngineBuild, builder: Option<&'a str>, out: &'a Path) -> BuildxJob<'a> {
    BuildxJob {
        client: &opts.client,
        builder,
        stagex: &opts.stagex,
        out,
        vars: opts.vars.clone(),
        echo: opts.echo_logs,
    }
}

/// Builds bootstrap-stage0 the other way (engine when OUT's is emulated, and back) into
/// `OUT/.canary/` and compares both with the published digest.
fn canary(opts: &EngineBuild, graph: &Graph, report: &mut dyn FnMut(Event)) -> Result<Canary> {
    let main = opts.out.join(STAGE0);
    let canary_out = opts.out.join(".canary");
    let other = canary_out.join(STAGE0);
    let start = Instant::now();
    let (way, builder) = match opts.stage0 {
        Stage0From::Emulated => ("engine", opts.builders.first().map(String::as_str)),
        Stage0From::Engine => ("emulator", None),
    };
    if !other.join("index.json").is_file() {
        report(Event {
            level: 0,
            target: STAGE0,
            builder: builder.unwrap_or(way),
            state: format!("canary: building with the {way}"),
            elapsed: start.elapsed(),
        });
        match opts.stage0 {
            Stage0From::Emulated => {
                prepare_fetch(&opts.stagex, &graph.targets[STAGE0])?;
                run_build(
                    &engine_job(opts, builder, &canary_out),
                    &graph.targets[STAGE0],
                )?;
            }
            Stage0From::Engine => emulated_stage0(opts, graph, &other)?,
        }
    }
    let (mine, theirs) = (manifest_digest(&main)?, manifest_digest(&other)?);
    let (emulated, engine) = match opts.stage0 {
        Stage0From::Emulated => (mine, theirs),
        Stage0From::Engine => (theirs, mine),
    };
    let c = Canary {
        emulated,
        engine,
        published: published_for(&opts.stagex, graph, STAGE0)?,
    };
    report(Event {
        level: 0,
        target: STAGE0,
        builder: builder.unwrap_or(way),
        state: match c.disagreement() {
            None if c.published.is_some() => {
                format!("canary: engine = emulated = published ({})", c.engine)
            }
            None => format!("canary: engine = emulated ({}), none published", c.engine),
            Some(d) => format!("canary FAILED: {d}"),
        },
        elapsed: start.elapsed(),
    });
    Ok(c)
}

/// Builds `target`'s closure. `report` gets every progress event.
pub fn build_closure(
    opts: &EngineBuild,
    graph: &Graph,
    target: &str,
    report: &mut (dyn FnMut(Event) + Send),
) -> Result<BuildReport> {
    let plan = build_plan(graph, target)?;
    let all: Vec<String> = plan.iter().flat_map(|(_, ids)| ids.clone()).collect();
    std::fs::create_dir_all(&opts.out).map_err(|e| Error::io(&opts.out, e))?;
    let mut result = BuildReport::default();
    let missing = check_sources(&opts.stagex, graph, &all, &opts.providers)?;
    if !missing.is_empty() {
        match opts.missing {
            MissingSources::Fail => {
                return Err(Error::MissingSources {
                    count: missing.len(),
                    list: describe_missing(&missing),
                })
            }
            MissingSources::Continue => result.missing = missing,
        }
    }
    let present = |id: &str| !opts.rebuild && opts.out.join(id).join("index.json").is_file();
    for (level, ids) in &plan {
        let mut queue: VecDeque<&Target> = VecDeque::new();
        for id in ids {
            if present(id) {
                report(Event {
                    level: *level,
                    target: id,
                    builder: "-",
                    state: "present".into(),
                    elapsed: Duration::ZERO,
                });
            } else if id != STAGE0 {
                queue.push_back(&graph.targets[id]);
            }
        }
        if ids.iter().any(|i| i == STAGE0) {
            let t = &graph.targets[STAGE0];
            if !present(STAGE0) {
                match opts.stage0 {
                    Stage0From::Emulated => {
                        let start = Instant::now();
                        let ev = |state: String| Event {
                            level: *level,
                            target: STAGE0,
                            builder: "emulator",
                            state,
                            elapsed: start.elapsed(),
                        };
                        report(ev("building".into()));
                        fetch_target_sources(&opts.stagex, t, &opts.providers)?;
                        emulated_stage0(opts, graph, &opts.out.join(STAGE0))?;
                        report(ev(format!(
                            "built {}",
                            manifest_digest(&opts.out.join(STAGE0))?
                        )));
                    }
                    Stage0From::Engine => run_level(opts, *level, VecDeque::from([t]), report)?,
                }
            }
            // The canary, before any other engine build.
            let c = canary(opts, graph, report)?;
            if let Some(d) = c.disagreement() {
                return Err(Error::Canary(d));
            }
            result.canary = Some(c);
        }
        if let Err(e) = run_level(opts, *level, queue, report) {
            // What was built stays listed, as digests.py would list it.
            write_digests(&opts.out, graph)?;
            return Err(e);
        }
    }
    for id in &all {
        let layout = opts.out.join(id);
        if layout.join("index.json").is_file() {
            result.digests.push((id.clone(), manifest_digest(&layout)?));
        }
    }
    result.digest_files = write_digests(&opts.out, graph)?;
    Ok(result)
}

/// Builds one level's targets: `jobs` workers, worker k on builder k mod n, each taking
/// the next target; after a failure no new target starts and the failures are returned.
fn run_level(
    opts: &EngineBuild,
    level: usize,
    queue: VecDeque<&Target>,
    report: &mut (dyn FnMut(Event) + Send),
) -> Result<()> {
    if queue.is_empty() {
        return Ok(());
    }
    let builders: Vec<Option<&str>> = if opts.builders.is_empty() {
        vec![None]
    } else {
        opts.builders.iter().map(|b| Some(b.as_str())).collect()
    };
    // Subpackages of one package share its directory: prepare each once, before any build
    // of the level reads it.
    let mut prepared = std::collections::BTreeSet::new();
    for t in &queue {
        if prepared.insert((t.stage.clone(), t.origin.clone())) {
            prepare_fetch(&opts.stagex, t)?;
        }
    }
    let jobs = opts.jobs.max(1).min(queue.len());
    let queue = Mutex::new(queue);
    let report = Mutex::new(report);
    let failures: Mutex<Vec<Error>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for k in 0..jobs {
            let builder = builders[k % builders.len()];
            let (queue, report, failures) = (&queue, &report, &failures);
            s.spawn(move || loop {
                if !failures.lock().unwrap().is_empty() {
                    return;
                }
                let Some(t) = queue.lock().unwrap().pop_front() else {
                    return;
                };
                let id = t.id();
                let name = builder.unwrap_or("default");
                let start = Instant::now();
                let ev = |state: String| Event {
                    level,
                    target: &id,
                    builder: name,
                    state,
                    elapsed: start.elapsed(),
                };
                (report.lock().unwrap())(ev("building".into()));
                let res = run_build(&engine_job(opts, builder, &opts.out), t)
                    .and_then(|dest| manifest_digest(&dest));
                match res {
                    Ok(d) => (report.lock().unwrap())(ev(format!("built {d}"))),
                    Err(e) => {
                        (report.lock().unwrap())(ev("FAILED".into()));
                        failures.lock().unwrap().push(e);
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    match failures.len() {
        0 => Ok(()),
        1 => Err(failures.remove(0)),
        _ => Err(Error::Engine(
            failures
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canary_names_what_differs() {
        let c = |emulated: &str, engine: &str, published: Option<&str>| Canary {
            emulated: emulated.into(),
            engine: engine.into(),
            published: published.map(str::to_string),
        };
        assert_eq!(c("a", "a", Some("a")).disagreement(), None);
        assert_eq!(c("a", "a", None).disagreement(), None);
        assert_eq!(
            c("a", "b", Some("a")).disagreement().unwrap(),
            "engine b != emulated a; engine b != published a"
        );
        assert_eq!(
            c("a", "a", Some("p")).disagreement().unwrap(),
            "engine a != published p; emulated a != published p"
        );
    }

    #[test]
    fn missing_sources_list_file_hash_mirrors() {
        let m = MissingSource {
            target: "bootstrap-stage1".into(),
            file: "mes-0.27.tar.gz".into(),
            hash: "ab".into(),
            mirrors: vec!["https://a/mes".into(), "https://b/mes".into()],
            reason: "no".into(),
        };
        assert_eq!(
            describe_missing(&[m]),
            "missing source for bootstrap-stage1: mes-0.27.tar.gz sha256 ab\n  mirrors: https://a/mes https://b/mes\n"
        );
    }
}
