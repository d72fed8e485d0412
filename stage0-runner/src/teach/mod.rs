//! The explainer page of `stage0-runner report --html`: the chain from the 181-byte seed
//! to a C compiler as one self-contained file.
//!
//! The story is told by stage ([`stages`]); each stage lists its steps, folded, with what
//! each read and wrote (sizes, hashes, previews), what it proves and which later step uses
//! its output. Hand-written steps carry a recorded instruction trace ([`recording`]) the
//! page's script steps through forward and backward. Script and style are separate asset
//! files compiled in; the data sits in one inline JSON block. The page loads nothing.

pub mod recording;
pub mod stages;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use base64::Engine as _;
use serde_json::{json, Value};

use crate::cmd::report::Run;
use crate::trace;
use stage0_chain::provenance::{FileHash, Process};
use stage0_chain::roles;

const CSS: &str = include_str!("assets/page.css");
const JS: &str = include_str!("assets/page.js");

/// Bytes of each file kept for its preview.
pub const PREVIEW_BYTES: usize = 512;

/// Read lists longer than this are folded behind a summary line.
const FOLD_FILES: usize = 6;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn base(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

fn commas(n: u64) -> String {
    let digits = n.to_string();
    let groups: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|g| std::str::from_utf8(g).unwrap_or(""))
        .collect();
    groups.join(",")
}

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// What the page knows about files: final contents (by hash) from the tree, and which
/// paths the answers list.
struct Files {
    /// sha256 → (size, first bytes) for files whose final content still has that hash.
    content: BTreeMap<String, (u64, Vec<u8>)>,
    /// Guest path → line number in the answers file.
    answers: BTreeMap<String, (usize, String)>,
    /// sha256 → first path it was seen under (inputs, then writes in order).
    first_seen: BTreeMap<String, String>,
}

impl Files {
    fn load(run: &Run, tree: Option<&Path>) -> Files {
        let mut content = BTreeMap::new();
        let mut answers = BTreeMap::new();
        let mut first_seen = BTreeMap::new();
        for f in &run.prov.inputs {
            first_seen
                .entry(f.sha256.clone())
                .or_insert(format!("/{}", f.path));
        }
        for p in &run.prov.processes {
            for w in p.writes.iter().filter(|w| !w.deleted) {
                first_seen.entry(w.sha256.clone()).or_insert(w.path.clone());
            }
        }
        if let Some(t) = tree {
            let all = run
                .prov
                .processes
                .iter()
                .flat_map(|p| p.reads.iter().chain(&p.writes));
            for f in all {
                if content.contains_key(&f.sha256) {
                    continue;
                }
                if let Ok(d) = std::fs::read(crate::cmd::step::host_path(t, &f.path)) {
                    if vm::record::sha256_hex(&d) == f.sha256 {
                        let head = d[..d.len().min(PREVIEW_BYTES)].to_vec();
                        content.insert(f.sha256.clone(), (d.len() as u64, head));
                    }
                }
            }
            if let Some(a) = &run.prov.answers {
                let text = std::fs::read_to_string(t.join(&a.file)).unwrap_or_default();
                for (k, line) in text.lines().enumerate() {
                    if let Some((sha, path)) = line.split_once("  ") {
                        let guest = crate::cmd::step::guest_path("/", path.trim());
                        answers.insert(guest, (k + 1, sha.trim().to_string()));
                    }
                }
            }
        }
        Files {
            content,
            answers,
            first_seen,
        }
    }
}

/// What a step proves, in sentences.
fn proofs(run: &Run, files: &Files, p: &Process) -> Vec<String> {
    let mut out = Vec::new();
    for w in p.writes.iter().filter(|w| !w.deleted) {
        if let Some(first) = files.first_seen.get(&w.sha256) {
            if *first != w.path {
                out.push(format!(
                    "{} is byte for byte the same file as {} (same SHA-256).",
                    w.path, first
                ));
            }
        }
        if let (Some((line, sha)), Some(a)) = (files.answers.get(&w.path), &run.prov.answers) {
            if *sha == w.sha256 {
                out.push(format!(
                    "{} has the SHA-256 published on line {line} of {}.",
                    w.path, a.file
                ));
            }
        }
    }
    let checks = base(&p.exe) == "sha256sum" && p.argv.iter().any(|a| a == "-c");
    if let (true, Some(a)) = (checks, &run.prov.answers) {
        out.push(format!(
            "Every file listed in {} was hashed by a sha256sum the chain built itself ({}); the host's own SHA-256 found {} of {} answers matching.",
            a.file, p.end, a.matched, a.total
        ));
    }
    if p.end == "exit 0" && !p.writes.is_empty() && out.is_empty() {
        out.push(format!(
            "{} ran to completion; what it wrote is pinned by its SHA-256 below, so any later step that reads it reads exactly this.",
            base(&p.exe)
        ));
    }
    if p.end != "exit 0" && p.end != "execve" {
        out.push(format!("It ended with {}: the chain stops here.", p.end));
    }
    out
}

/// One file line: path, size, hash, preview button, where it goes next.
fn file_item(files: &Files, f: &FileHash, next: Option<usize>, run: &Run) -> String {
    let size = files
        .content
        .get(&f.sha256)
        .map(|(n, _)| *n)
        .or_else(|| run.sizes.get(&f.path).copied())
        .map(|n| format!("<span class=\"size\">{} B</span> ", commas(n)))
        .unwrap_or_default();
    let preview = if files.content.contains_key(&f.sha256) {
        format!(
            " <button class=\"pv\" data-sha=\"{}\" data-name=\"{}\">preview</button>",
            f.sha256,
            esc(&f.path)
        )
    } else {
        String::new()
    };
    let next = next
        .map(|j| {
            format!(
                " <a class=\"next\" href=\"#step-{}\">→ step {}</a>",
                j + 1,
                j + 1
            )
        })
        .unwrap_or_default();
    let del = if f.deleted { " <i>(deleted)</i>" } else { "" };
    format!(
        "<li><code class=\"path\">{}</code>{del} {size}<code class=\"sha\" title=\"sha256 {sha}\">{}…</code>{preview}{next}</li>",
        esc(&f.path),
        &f.sha256[..f.sha256.len().min(12)],
        sha = f.sha256,
    )
}

fn file_list(title: &str, items: Vec<String>) -> String {
    if items.is_empty() {
        return format!("<p class=\"files\"><b>{title}</b>: none</p>");
    }
    let mut s = format!("<div class=\"files\"><b>{title} ({})</b><ul>", items.len());
    let (shown, folded) = if items.len() > FOLD_FILES {
        items.split_at(FOLD_FILES - 2)
    } else {
        (&items[..], &[][..])
    };
    s.extend(shown.iter().cloned());
    s.push_str("</ul>");
    if !folded.is_empty() {
        let _ = write!(
            s,
            "<details class=\"more\"><summary>and {} more</summary><ul>{}</ul></details>",
            folded.len(),
            folded.concat()
        );
    }
    s.push_str("</div>");
    s
}

/// The page.
pub fn page(run: &Run, tree: Option<&Path>) -> String {
    let p = &run.prov;
    let files = Files::load(run, tree);
    let stage_of = stages::classify(
        p.processes
            .iter()
            .map(|x| (x.exe.as_str(), x.argv.as_slice())),
    );
    // The first later step that runs or reads each file a step wrote.
    let mut next: BTreeMap<(usize, String), usize> = BTreeMap::new();
    for (i, j, path) in run.edges() {
        next.entry((i, path)).or_insert(j);
    }
    let mut traces = serde_json::Map::new();
    let mut body = String::new();
    let insns: u64 = p.processes.iter().map(|x| x.instructions).sum();
    let mut ladder = String::new();
    for (k, stage) in stages::STAGES.iter().enumerate() {
        let steps: Vec<usize> = (0..p.processes.len())
            .filter(|&i| stage_of[i] == k)
            .collect();
        if steps.is_empty() {
            continue;
        }
        let stage_insns: u64 = steps.iter().map(|&i| p.processes[i].instructions).sum();
        let _ = write!(
            ladder,
            "<a class=\"rung\" href=\"#stage-{id}\"><b>{t}</b><span>{n}</span></a>",
            id = stage.id,
            t = esc(stage.id),
            n = plural(steps.len(), "step")
        );
        let _ = write!(
            body,
            "<section class=\"stage\" id=\"stage-{id}\"><h2><span class=\"num\">{num}</span> {title}</h2><p class=\"adds\">{adds}</p><p class=\"meta\">{n}, {ins} instructions. <button class=\"openall\">open all steps</button></p>",
            id = stage.id,
            num = k + 1,
            title = esc(stage.title),
            adds = esc(stage.adds),
            n = plural(steps.len(), "step"),
            ins = commas(stage_insns),
        );
        body.push('\n');
        for &i in &steps {
            body.push_str(&step_html(run, &files, &next, i, tree, &mut traces));
        }
        body.push_str("</section>\n");
    }
    let verdict = match &p.answers {
        Some(a) if a.matched == a.total && a.mismatches.is_empty() => format!(
            "<p class=\"ok\" id=\"verdict\"><b>{} of {} answers in {} match.</b></p>",
            a.matched,
            a.total,
            esc(&a.file)
        ),
        Some(a) => {
            let mut s = format!(
                "<p class=\"bad\" id=\"verdict\"><b>{} of {} answers in {} match.</b></p><ul class=\"bad\">",
                a.matched,
                a.total,
                esc(&a.file)
            );
            for m in &a.mismatches {
                let _ = write!(
                    s,
                    "<li><code>{}</code>: expected {}, got {}</li>",
                    esc(&m.path),
                    esc(&m.expected),
                    esc(m.actual.as_deref().unwrap_or("nothing"))
                );
            }
            s + "</ul>"
        }
        None => "<p id=\"verdict\">No answers were checked.</p>".to_string(),
    };
    let wall = run
        .total_wall
        .map(|w| format!(", {w:.1} s"))
        .unwrap_or_default();
    let tree_note = if tree.is_none() {
        "<p class=\"note\">Made without the finished tree: no previews and no time travel (give the tree to <code>report</code> for both).</p>"
    } else {
        ""
    };
    let previews: serde_json::Map<String, Value> = files
        .content
        .iter()
        .map(|(sha, (size, head))| {
            let b64 = base64::engine::general_purpose::STANDARD.encode(head);
            (sha.clone(), json!([size, b64]))
        })
        .collect();
    let data = json!({ "traces": traces, "previews": previews, "window": recording::WINDOW });
    // `</` would end the script element early.
    let data = data.to_string().replace("</", "<\\/");
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>From 181 bytes to a C compiler</title><style>{CSS}</style></head><body>\n\
<header><h1>From 181 bytes to a C compiler</h1>\
<p class=\"lede\">The stage0-posix chain ({layout} layout) as it ran in the emulator: {n} program images, {ins} guest instructions{wall}, {inputs} input files. Each stage adds one idea to the one before; open a step to see what it read and wrote, and step through the hand-written ones instruction by instruction.</p>\
{verdict}{tree_note}<nav class=\"ladder\">{ladder}</nav>\
</header><div class=\"tools\"><input id=\"search\" type=\"search\" placeholder=\"Search steps: a file, a program, a hash…\" aria-label=\"search steps\"><span id=\"hits\"></span><button id=\"expand\">open all</button><button id=\"collapse\">fold all</button></div>\n\
<main>{body}</main>\n<div id=\"preview\" hidden><div class=\"pvhead\"><b id=\"pvname\"></b><button id=\"pvclose\">close</button></div><div class=\"pvbody\"><pre id=\"pvhex\"></pre><pre id=\"pvtext\"></pre></div></div>\n\
<script type=\"application/json\" id=\"teach-data\">{data}</script>\n<script>{JS}</script>\n</body></html>\n",
        layout = esc(&p.layout),
        n = p.processes.len(),
        ins = commas(insns),
        inputs = p.inputs.len(),
    )
}

/// One step, folded.
fn step_html(
    run: &Run,
    files: &Files,
    next: &BTreeMap<(usize, String), usize>,
    i: usize,
    tree: Option<&Path>,
    traces: &mut serde_json::Map<String, Value>,
) -> String {
    let x = &run.prov.processes[i];
    let reads: Vec<&FileHash> = x.reads.iter().filter(|r| r.path != x.exe).collect();
    let read_paths: Vec<&str> = reads.iter().map(|r| r.path.as_str()).collect();
    let write_paths: Vec<&str> = x.writes.iter().map(|w| w.path.as_str()).collect();
    let what = stages::describe(&x.exe, &x.argv, &read_paths, &write_paths);
    let calls: u64 = x.syscalls.values().sum();
    let mut sys: Vec<(&String, &u64)> = x.syscalls.iter().collect();
    sys.sort_by(|a, b| b.1.cmp(a.1));
    let sys = sys
        .iter()
        .map(|(k, v)| format!("{k} {}", commas(**v)))
        .collect::<Vec<_>>()
        .join(", ");
    let time = run.walls[i]
        .map(|w| format!(", {w:.3} s"))
        .unwrap_or_default();
    let mut s = format!(
        "<details class=\"step\" id=\"step-{n}\"><summary><span class=\"n\">{n}</span> <b class=\"prog\">{prog}</b> <span class=\"what\">{what}</span> <span class=\"cost\">{ins} insns</span></summary><div class=\"body\">\n",
        n = i + 1,
        prog = esc(base(&x.exe)),
        what = esc(&what),
        ins = commas(x.instructions),
    );
    let _ = write!(
        s,
        "<p class=\"cmd\"><code>$ {}</code> <span class=\"where\">in {}, pid {}, parent {}, {}</span></p><p class=\"role\"><b>The program:</b> {}</p>",
        esc(&x.argv.join(" ")),
        esc(&x.cwd),
        x.pid,
        x.parent,
        esc(&x.end),
        esc(roles::role_or_unknown(&x.exe))
    );
    let proofs = proofs(run, files, x);
    if !proofs.is_empty() {
        let _ = write!(
            s,
            "<div class=\"proves\"><b>What it proves:</b> {}</div>",
            proofs.iter().map(|p| esc(p)).collect::<Vec<_>>().join(" ")
        );
    }
    let exe_from = next
        .iter()
        .find(|((_, path), &j)| j == i && *path == x.exe)
        .map(|((k, _), _)| format!(" (written by <a href=\"#step-{0}\">step {0}</a>)", k + 1))
        .unwrap_or_default();
    let _ = write!(
        s,
        "<p class=\"prog\"><b>Runs</b> <code>{}</code>{exe_from}</p>",
        esc(&x.exe)
    );
    let read_items = reads
        .iter()
        .map(|f| file_item(files, f, None, run))
        .collect();
    s.push_str(&file_list("Reads", read_items));
    let write_items = x
        .writes
        .iter()
        .map(|f| file_item(files, f, next.get(&(i, f.path.clone())).copied(), run))
        .collect();
    s.push_str(&file_list("Writes", write_items));
    let _ = write!(
        s,
        "<p class=\"cost\">{} instructions, {} syscalls ({}){time}.</p>",
        commas(x.instructions),
        commas(calls),
        esc(&sys)
    );
    let first_run = run.prov.processes.iter().position(|q| q.exe == x.exe) == Some(i);
    if let (Some(_), true, false) = (tree, trace::has_source_map(&x.exe), first_run) {
        let k = run
            .prov
            .processes
            .iter()
            .position(|q| q.exe == x.exe)
            .unwrap_or(i);
        let _ = write!(
            s,
            "<p class=\"note\">Time travel through {} is in <a href=\"#step-{n}\">step {n}</a>, its first run.</p>",
            esc(base(&x.exe)),
            n = k + 1
        );
    }
    if let (Some(t), true) = (tree, first_run) {
        s.push_str(&how_it_works(t, &x.exe));
    }
    if let (Some(t), true, true) = (tree, trace::has_source_map(&x.exe), first_run) {
        let image = trace::Image {
            exe: &x.exe,
            argv: &x.argv,
            env: &x.env,
            cwd: &x.cwd,
        };
        match recording::record(t, &image) {
            Ok(mut v) => {
                v["total"] = json!(x.instructions);
                v["step"] = json!(i + 1);
                let shown = v["shown"].as_u64().unwrap_or(0);
                let _ = write!(
                    s,
                    "<div class=\"tt\" data-step=\"{n}\"><button class=\"ttopen\">Time travel: step through {what} of its {total} instructions</button></div>",
                    n = i + 1,
                    what = match v["start"].as_u64().unwrap_or(0) {
                        _ if shown >= x.instructions => "all".to_string(),
                        0 => format!("the first {}", commas(shown)),
                        from => format!(
                            "{} (from no. {}, just before its first byte out)",
                            commas(shown),
                            commas(from)
                        ),
                    },
                    total = commas(x.instructions)
                );
                traces.insert((i + 1).to_string(), v);
            }
            Err(e) => {
                let _ = write!(s, "<p class=\"note\">No trace: {}</p>", esc(&e));
            }
        }
    }
    s.push_str("</div></details>\n");
    s
}

/// Programs up to this size get the loop-level story of `seed explain` on their page.
const STORY_MAX_BYTES: u64 = 4096;

/// The story of a small program's loops, folded, or nothing.
fn how_it_works(tree: &Path, exe: &str) -> String {
    let path = crate::cmd::step::host_path(tree, exe);
    let small = std::fs::metadata(&path).is_ok_and(|m| m.len() <= STORY_MAX_BYTES);
    let Some(e) = small
        .then(|| std::fs::read(&path).ok())
        .flatten()
        .and_then(|b| seed::explain::analyse(&b).ok())
    else {
        return String::new();
    };
    let paragraphs = seed::explain::story::story(&e);
    if paragraphs.is_empty() {
        return String::new();
    }
    let mut s = format!(
        "<details class=\"how\"><summary>How this {}-byte program works (from its decoded code, as <code>seed explain</code> tells it)</summary>",
        e.size
    );
    for p in paragraphs {
        let _ = write!(s, "<p><b>{}.</b> {}</p>", esc(p.title), esc(&p.text));
    }
    s + "</details>"
}
