//! `stage0-runner report`: a finished run as one self-contained HTML page or a Graphviz graph.
//!
//! The page shows the chain as an arc diagram (one row per program image; an arc from the
//! step that wrote a file to each later step that read it), then every step with its
//! provenance, and the answers verdict. Everything is inline (CSS, SVG): the page loads
//! nothing else.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::provenance::{self, Provenance};
use crate::roles;

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
    /// The finished tree, for file sizes (optional).
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
    let outputs = [(a.html, html(&run)), (a.dot, dot(&run))];
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

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn short_name(exe: &str) -> &str {
    exe.rsplit('/').next().unwrap_or(exe)
}

const CSS: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;background:#fcfcfa}\
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}.ok{color:#17702a}.bad{color:#b00020}\
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:4px 6px;vertical-align:top;text-align:left}\
th{background:#eee}code{font:12px ui-monospace,monospace}.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}\
.role{color:#555;font-size:12px}.files{font:11px ui-monospace,monospace;color:#333}\
svg text{font:11px ui-monospace,monospace}svg .arc{fill:none;stroke:#4a7ab5;stroke-opacity:.45}\
svg .row{fill:#eef3f9}svg .seed{fill:#fbeee0}";

/// The HTML page.
pub fn html(run: &Run) -> String {
    let p = &run.prov;
    let insns: u64 = p.processes.iter().map(|x| x.instructions).sum();
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>stage0 chain run</title><style>{CSS}</style></head><body>\n"
    );
    let _ = writeln!(s, "<h1>stage0 chain run ({} layout)</h1>", esc(&p.layout));
    match &p.answers {
        Some(a) => {
            let class = if a.matched == a.total && a.mismatches.is_empty() {
                "ok"
            } else {
                "bad"
            };
            let _ = writeln!(
                s,
                "<p class=\"{class}\" id=\"verdict\"><b>{} of {} answers in {} match.</b></p>",
                a.matched,
                a.total,
                esc(&a.file)
            );
            if !a.mismatches.is_empty() {
                s.push_str("<ul class=\"bad\">");
                for m in &a.mismatches {
                    let _ = write!(
                        s,
                        "<li><code>{}</code>: expected {}, got {}</li>",
                        esc(&m.path),
                        esc(&m.expected),
                        esc(m.actual.as_deref().unwrap_or("nothing"))
                    );
                }
                s.push_str("</ul>\n");
            }
        }
        None => s.push_str("<p id=\"verdict\">No answers were checked.</p>\n"),
    }
    let wall = run
        .total_wall
        .map(|w| format!(", {w:.1} s"))
        .unwrap_or_default();
    let _ = writeln!(
        s,
        "<p>{} program images, {} guest instructions{wall}, {} input files.</p>",
        p.processes.len(),
        insns,
        p.inputs.len()
    );
    s.push_str("<h2>The chain</h2>\n<p>One row per program image, in the order they started. An arc joins the step that wrote a file to each later step that ran or read it (hover an arc for the file).</p>\n");
    s.push_str(&svg(run));
    s.push_str("<h2>Steps</h2>\n<table><tr><th>#</th><th>program and role</th><th>read</th><th>wrote</th><th class=\"num\">instructions</th><th class=\"num\">syscalls</th><th class=\"num\">time</th><th>end</th></tr>\n");
    for (i, x) in p.processes.iter().enumerate() {
        let files = |v: &[provenance::FileHash]| -> String {
            v.iter()
                .map(|f| {
                    let size = run
                        .sizes
                        .get(&f.path)
                        .map(|n| format!(" {n} B"))
                        .unwrap_or_default();
                    let del = if f.deleted { " (deleted)" } else { "" };
                    format!(
                        "{}{size}{del}<br>sha256 {}…",
                        esc(&f.path),
                        &f.sha256[..f.sha256.len().min(16)]
                    )
                })
                .collect::<Vec<_>>()
                .join("<br>")
        };
        let calls: u64 = x.syscalls.values().sum();
        let time = run.walls[i]
            .map(|w| format!("{w:.3} s"))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "<tr id=\"step-{n}\" class=\"step\"><td>{n}</td><td><code>{argv}</code><div class=\"role\">pid {pid}, parent {parent}. {role}</div></td><td class=\"files\">{reads}</td><td class=\"files\">{writes}</td><td class=\"num\">{insns}</td><td class=\"num\">{calls}</td><td class=\"num\">{time}</td><td>{end}</td></tr>",
            n = i + 1,
            argv = esc(&x.argv.join(" ")),
            pid = x.pid,
            parent = x.parent,
            role = esc(roles::role_or_unknown(&x.exe)),
            reads = files(&x.reads),
            writes = files(&x.writes),
            insns = x.instructions,
            end = esc(&x.end),
        );
    }
    s.push_str("</table>\n</body></html>\n");
    s
}

/// The arc diagram.
fn svg(run: &Run) -> String {
    const ROW: usize = 16;
    const GUTTER: usize = 260;
    let procs = &run.prov.processes;
    let height = procs.len() * ROW + 10;
    let mut s = format!(
        "<svg width=\"1100\" height=\"{height}\" viewBox=\"0 0 1100 {height}\" role=\"img\">\n"
    );
    for (i, x) in procs.iter().enumerate() {
        let y = i * ROW + 4;
        let class = if x.exe.contains("bootstrap-seeds") {
            "seed"
        } else {
            "row"
        };
        let label = format!(
            "{:>3} {} {}",
            i + 1,
            short_name(&x.exe),
            x.argv
                .iter()
                .skip(1)
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        );
        let label: String = label.chars().take(120).collect();
        let _ = writeln!(
            s,
            "<rect class=\"{class}\" x=\"{GUTTER}\" y=\"{y}\" width=\"830\" height=\"{}\" rx=\"3\"/><text x=\"{}\" y=\"{}\" xml:space=\"preserve\">{}</text>",
            ROW - 2,
            GUTTER + 4,
            y + ROW - 5,
            esc(&label)
        );
    }
    for (i, j, path) in run.edges() {
        let (y1, y2) = (i * ROW + 4 + ROW / 2, j * ROW + 4 + ROW / 2);
        let bend =
            (GUTTER as f64 - 10.0 - ((j - i) as f64 * 6.0).min(GUTTER as f64 - 20.0)).max(10.0);
        let _ = writeln!(
            s,
            "<path class=\"arc\" d=\"M{GUTTER} {y1} C{bend:.0} {y1} {bend:.0} {y2} {GUTTER} {y2}\"><title>{} → step {}: {}</title></path>",
            i + 1,
            j + 1,
            esc(&path)
        );
    }
    s.push_str("</svg>\n");
    s
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
