//! `stage0-runner report`: a finished run as one self-contained HTML page or a Graphviz graph.
//!
//! The page is the explainer of [`crate::teach`]: the chain by stage, every step with what
//! it read and wrote, and time travel through the hand-written programs when the finished
//! tree is given. Everything is inline: the page loads nothing else.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;

use stage0_chain::provenance::{self, Provenance};

#[derive(Args)]
pub struct ReportArgs {
    /// The run's provenance (from `stage0-runner run --provenance`).
    #[arg(long, value_name = "FILE")]
    pub provenance: PathBuf,
    /// The run's report (from `stage0-runner run --report`), for wall times.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Write the HTML page to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write a Graphviz graph (steps and the files between them) to FILE.
    #[arg(long, value_name = "FILE")]
    pub dot: Option<PathBuf>,
    /// The finished tree, for file sizes, previews and instruction traces (optional).
    pub tree: Option<PathBuf>,
}

/// Entry point of the subcommand.
pub fn report(a: ReportArgs) -> u8 {
    let run = match Run::load(&a.provenance, a.report.as_deref(), a.tree.as_deref()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("stage0-runner report: {e}");
            return 2;
        }
    };
    if a.html.is_none() && a.dot.is_none() {
        eprintln!("stage0-runner report: nothing to write (give --html FILE and/or --dot FILE)");
        return 2;
    }
    let page = a
        .html
        .as_ref()
        .map(|_| crate::teach::page(&run, a.tree.as_deref()));
    let outputs = [(a.html, page.unwrap_or_default()), (a.dot, dot(&run))];
    for (path, text) in outputs {
        if let Some(p) = path {
            if let Err(e) = std::fs::write(&p, text) {
                eprintln!("stage0-runner report: writing {}: {e}", p.display());
                return 2;
            }
        }
    }
    0
}

/// A finished run: provenance plus what the optional report and tree add.
pub struct Run {
    pub prov: Provenance,
    /// Wall seconds per process (same order as `prov.processes`), when a report was given.
    pub walls: Vec<Option<f64>>,
    pub total_wall: Option<f64>,
    /// File sizes by guest path, when the tree was given.
    pub sizes: BTreeMap<String, u64>,
}

impl Run {
    /// Reads the files; the report must describe the same processes as the provenance.
    pub fn load(prov: &Path, report: Option<&Path>, tree: Option<&Path>) -> Result<Run, String> {
        let text = std::fs::read_to_string(prov).map_err(|e| format!("{}: {e}", prov.display()))?;
        let prov: Provenance = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a provenance file: {e}", prov.display()))?;
        if prov.format != provenance::FORMAT {
            return Err(format!(
                "provenance format {:?}, expected {:?}",
                prov.format,
                provenance::FORMAT
            ));
        }
        let mut walls = vec![None; prov.processes.len()];
        let mut total_wall = None;
        if let Some(r) = report {
            let text = std::fs::read_to_string(r).map_err(|e| format!("{}: {e}", r.display()))?;
            let v: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", r.display()))?;
            total_wall = v["wall_seconds"].as_f64();
            let procs = v["processes"].as_array().cloned().unwrap_or_default();
            for (k, p) in procs.iter().enumerate() {
                let same = prov.processes.get(k).is_some_and(|q| {
                    p["argv"].as_array().is_some_and(|a| {
                        a.iter()
                            .map(|x| x.as_str().unwrap_or(""))
                            .eq(q.argv.iter().map(String::as_str))
                    })
                });
                if !same {
                    return Err(format!(
                        "{}: process {} does not match the provenance",
                        r.display(),
                        k + 1
                    ));
                }
                walls[k] = p["wall_seconds"].as_f64();
            }
        }
        let mut sizes = BTreeMap::new();
        if let Some(t) = tree {
            let paths = prov
                .processes
                .iter()
                .flat_map(|p| p.reads.iter().chain(&p.writes));
            for f in paths {
                if let Ok(m) = std::fs::metadata(t.join(f.path.trim_start_matches('/'))) {
                    sizes.insert(f.path.clone(), m.len());
                }
            }
        }
        Ok(Run {
            prov,
            walls,
            total_wall,
            sizes,
        })
    }

    /// For each step, the earlier steps whose files it ran or read: (producer, consumer, path).
    pub fn edges(&self) -> Vec<(usize, usize, String)> {
        let mut last_writer: BTreeMap<&str, usize> = BTreeMap::new();
        let mut edges = Vec::new();
        for (j, p) in self.prov.processes.iter().enumerate() {
            // The program itself is the first thing a step takes from an earlier one.
            if let Some(&i) = last_writer.get(p.exe.as_str()) {
                edges.push((i, j, p.exe.clone()));
            }
            for r in p.reads.iter().filter(|r| r.path != p.exe) {
                if let Some(&i) = last_writer.get(r.path.as_str()) {
                    edges.push((i, j, r.path.clone()));
                }
            }
            for w in &p.writes {
                last_writer.insert(w.path.as_str(), j);
            }
        }
        edges
    }
}

fn short_name(exe: &str) -> &str {
    exe.rsplit('/').next().unwrap_or(exe)
}

fn dot_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The Graphviz graph: a box per step, an ellipse per file written, edges for writes and
/// for reads of written files.
pub fn dot(run: &Run) -> String {
    let mut s = String::from(
        "digraph chain {\n  rankdir=TB;\n  node [fontname=\"monospace\", fontsize=10];\n",
    );
    let mut files: BTreeMap<&str, ()> = BTreeMap::new();
    for (i, x) in run.prov.processes.iter().enumerate() {
        let label = format!(
            "{} {}\\n{} insns",
            i + 1,
            short_name(&x.exe),
            x.instructions
        );
        let _ = writeln!(
            s,
            "  s{} [shape=box, label={}];",
            i + 1,
            dot_quote(&label).replace("\\\\n", "\\n")
        );
        for w in &x.writes {
            files.insert(&w.path, ());
            let _ = writeln!(s, "  s{} -> {};", i + 1, dot_quote(&w.path));
        }
    }
    for (i, x) in run.prov.processes.iter().enumerate() {
        if files.contains_key(x.exe.as_str()) {
            let _ = writeln!(
                s,
                "  {} -> s{} [style=bold, label=\"runs\"];",
                dot_quote(&x.exe),
                i + 1
            );
        }
        for r in x
            .reads
            .iter()
            .filter(|r| files.contains_key(r.path.as_str()))
        {
            let _ = writeln!(s, "  {} -> s{};", dot_quote(&r.path), i + 1);
        }
    }
    for f in files.keys() {
        let _ = writeln!(s, "  {} [shape=ellipse];", dot_quote(f));
    }
    s.push_str("}\n");
    s
}
