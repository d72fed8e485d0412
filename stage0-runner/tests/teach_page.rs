//! The explainer page of `report --html` on a chain the tests write themselves (see
//! `teach_chain`): the story by stage, what each step proves, and the recorded traces the
//! page steps through, checked against an independent replay. The browser test drives the
//! page in headless Chromium with Playwright (scripts/test.sh installs both and runs it).

mod teach_chain;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use stage0_chain::provenance::Provenance;
use stage0_runner::trace;

const BIN: &str = env!("CARGO_BIN_EXE_stage0-runner");

fn stage0(args: &[&std::ffi::OsStr]) {
    let o = Command::new(BIN).args(args).output().expect("starts");
    assert!(
        o.status.success(),
        "{args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Runs the test chain in `tree` and writes its page; returns the provenance and the page.
fn chain_page(tree: &Path) -> (Provenance, String, PathBuf) {
    let prov = tree.join("prov.json");
    let html = tree.join("page.html");
    stage0(&[
        "run".as_ref(),
        "-q".as_ref(),
        "--script".as_ref(),
        tree.join("chain.kaem").as_os_str(),
        "--answers".as_ref(),
        tree.join("x86.answers").as_os_str(),
        "--provenance".as_ref(),
        prov.as_os_str(),
        tree.as_os_str(),
    ]);
    stage0(&[
        "report".as_ref(),
        "--provenance".as_ref(),
        prov.as_os_str(),
        "--html".as_ref(),
        html.as_os_str(),
        tree.as_os_str(),
    ]);
    let p: Provenance = serde_json::from_str(&std::fs::read_to_string(&prov).unwrap()).unwrap();
    (p, std::fs::read_to_string(&html).unwrap(), html)
}

fn page_data(html: &str) -> Value {
    let open = "<script type=\"application/json\" id=\"teach-data\">";
    let start = html.find(open).expect("data block") + open.len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).expect("data is JSON")
}

#[test]
fn the_page_tells_the_chain_by_stage_and_what_each_step_proves() {
    let (sb, seed_bin, _) = teach_chain::tree("teach-page-story");
    let (prov, html, _) = chain_page(&sb.root);
    assert_eq!(prov.processes.len(), 4);
    for banned in ["http:", "https:", "src=", "<link", "@import", "url("] {
        assert!(
            !html.contains(banned),
            "the page refers to something outside: {banned}"
        );
    }
    // Two stages: the seed (step 1), then hex0 built from source (steps 2-4), in order.
    let seed_at = html.find("id=\"stage-seed\"").expect("seed stage");
    let hex0_at = html.find("id=\"stage-hex0\"").expect("hex0 stage");
    assert!(seed_at < html.find("id=\"step-1\"").unwrap());
    assert!(html.find("id=\"step-1\"").unwrap() < hex0_at);
    assert!(hex0_at < html.find("id=\"step-2\"").unwrap());
    assert!(
        !html.contains("id=\"stage-hex1\""),
        "a stage nothing ran in"
    );
    // Steps are folded: no <details> starts open.
    assert_eq!(html.matches("<details class=\"step\"").count(), 4);
    assert!(!html.contains("<details class=\"step\" open"));
    // Each step is told by what it does in the chain.
    assert!(html.contains(
        "hex0-seed assembles hex0_x86.hex0, the commented source of hex0 itself, into hex0"
    ));
    assert!(html.contains("hex0 assembles the hex0 text hello.hex0 into hello."));
    // What step 3 proves: its output is the seed again, and the published answer.
    let step2 = &html[html.find("id=\"step-2\"").unwrap()..html.find("id=\"step-3\"").unwrap()];
    let step3 = &html[html.find("id=\"step-3\"").unwrap()..html.find("id=\"step-4\"").unwrap()];
    assert!(
        step3.contains("/x86/artifact/hex0-again is byte for byte the same file as /bootstrap-seeds/POSIX/x86/hex0-seed"),
        "{step3}"
    );
    assert!(
        step3.contains("has the SHA-256 published on line 2 of x86.answers"),
        "{step3}"
    );
    // Its trace is in step 2, the first run of the same program.
    assert!(
        step3.contains("is in <a href=\"#step-2\">step 2</a>, its first run"),
        "{step3}"
    );
    // Step 1's output runs in step 2: a link, and step 2 says where its program came from.
    let step1 = &html[html.find("id=\"step-1\"").unwrap()..html.find("id=\"step-2\"").unwrap()];
    assert!(step1.contains("href=\"#step-2\">→ step 2</a>"), "{step1}");
    assert!(
        step2.contains("(written by <a href=\"#step-1\">step 1</a>)"),
        "{step2}"
    );
    assert!(html.contains("3 of 3 answers in x86.answers match."));
    // Previews: the seed's first bytes, by hash.
    let data = page_data(&html);
    let sha = vm::record::sha256_hex(&seed_bin);
    let pv = &data["previews"][&sha];
    assert_eq!(pv[0].as_u64(), Some(seed_bin.len() as u64));
    assert_eq!(
        pv[1].as_str().unwrap().len(),
        seed_bin.len().div_ceil(3) * 4
    );
}

/// Checks trace `tr` of process `p` against an independent replay (`step --trace-insns`):
/// same instructions, same register values, every one with a source line; returns the
/// bytes the window wrote to files, in order.
fn check_replay(tree: &Path, p: &stage0_chain::provenance::Process, tr: &Value) -> Vec<u8> {
    let (start, shown) = (tr["start"].as_u64().unwrap(), tr["shown"].as_u64().unwrap());
    let image = trace::Image {
        exe: &p.exe,
        argv: &p.argv,
        env: &p.env,
        cwd: &p.cwd,
    };
    let window = trace::Window {
        from: start,
        to: start + shown,
    };
    let (insns, _) = trace::trace_image(tree, &image, window).unwrap();
    let table = tr["insns"].as_array().unwrap();
    let order = tr["order"].as_array().unwrap();
    assert_eq!(insns.len(), order.len());
    let changes: Vec<&str> = tr["changes"].as_str().unwrap().split(';').collect();
    let mut regs: Vec<u32> = tr["regs0"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    for (k, (i, o)) in insns.iter().zip(order).enumerate() {
        let row = &table[o.as_u64().unwrap() as usize];
        assert_eq!(row[0].as_u64(), Some(i.eip as u64), "instruction {k}");
        assert!(
            row[4].as_u64().unwrap() > 0,
            "instruction {k} has no source line"
        );
        for c in changes[k].split(',').filter(|c| !c.is_empty()) {
            let (r, v) = c.split_once('=').unwrap();
            let r: usize = r.parse().unwrap();
            if r < 8 {
                regs[r] = u32::from_str_radix(v, 16).unwrap();
            }
        }
        for c in i
            .changes
            .iter()
            .filter(|c| c.starts_with('e') && c.contains('='))
        {
            let (name, v) = c.split_once('=').unwrap();
            let r = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"]
                .iter()
                .position(|n| *n == name)
                .unwrap();
            let v = u32::from_str_radix(v.trim_start_matches("0x"), 16).unwrap();
            assert_eq!(regs[r], v, "{name} after instruction {k}");
        }
    }
    tr["io"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e[1] == "w" && e[2].as_u64() > Some(2))
        .flat_map(|e| {
            let h = e[4].as_str().unwrap();
            (0..h.len() / 2).map(move |k| u8::from_str_radix(&h[2 * k..2 * k + 2], 16).unwrap())
        })
        .collect()
}

#[test]
fn the_recorded_traces_replay_like_the_step_trace_and_show_the_output_growing() {
    let (sb, seed_bin, hello) = teach_chain::tree("teach-page-trace");
    let (prov, html, _) = chain_page(&sb.root);
    let data = page_data(&html);
    let window = stage0_runner::teach::recording::WINDOW;
    // The seed writes within its first instructions: the window starts at the entry.
    let tr = &data["traces"]["1"];
    let total = prov.processes[0].instructions;
    assert_eq!(tr["start"].as_u64(), Some(0));
    assert_eq!(tr["shown"].as_u64(), Some(total.min(window)));
    assert_eq!(tr["total"].as_u64(), Some(total));
    let written = check_replay(&sb.root, &prov.processes[0], tr);
    assert!(
        written.len() >= 16,
        "only {} bytes written in the window",
        written.len()
    );
    assert_eq!(written, seed_bin[..written.len()]);
    // Block narration comes from the comment above each label of the source.
    assert!(tr["insns"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r[6] == "digit"
            && r[7]
                .as_str()
                .unwrap()
                .starts_with("Shift the digit in below the sentinel")));
    // hex0 reads 300 comment lines before its first byte out: the window moves there and
    // keeps the open input as context from before it.
    let tr = &data["traces"]["2"];
    let start = tr["start"].as_u64().unwrap();
    assert!(start > 0, "the window did not move");
    let io = tr["io"].as_array().unwrap();
    let first_write = io.iter().find(|e| e[1] == "w").unwrap();
    assert_eq!(first_write[0].as_u64(), Some(window / 5), "{first_write}");
    assert!(io
        .iter()
        .any(|e| e[1] == "o" && e[4] == "/x86/hello.hex0" && e[6] == 1));
    let written = check_replay(&sb.root, &prov.processes[1], tr);
    assert_eq!(written, hello[..written.len()]);
    assert!(!written.is_empty());
    // Later runs of hex0 and the program built from hex are not traced.
    assert!(data["traces"]["3"].is_null());
    assert!(data["traces"]["4"].is_null());
}

/// Chromium and playwright-core (tests/browser/node_modules), as scripts/test.sh installs them.
fn browser() -> Option<(PathBuf, PathBuf)> {
    let chromium = PathBuf::from("/usr/bin/chromium");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/browser");
    let ok = chromium.exists() && dir.join("node_modules/playwright-core").exists();
    ok.then_some((chromium, dir))
}

#[test]
#[ignore = "needs /usr/bin/chromium and tests/browser/node_modules (scripts/test.sh installs both and runs this)"]
fn the_page_works_in_headless_chromium() {
    let (chromium, dir) = browser().expect(
        "no /usr/bin/chromium or tests/browser/node_modules/playwright-core: run scripts/test.sh",
    );
    let (sb, _, _) = teach_chain::tree("teach-page-browser");
    let (_, _, html) = chain_page(&sb.root);
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("teach-page-shots");
    let o = Command::new("node")
        .arg(dir.join("page.test.mjs"))
        .arg("--page")
        .arg(&html)
        .arg("--shots")
        .arg(&shots)
        .arg("--chromium")
        .arg(&chromium)
        .args(["--search", "hello.hex0", "--expect-hits", "1"])
        .output()
        .expect("node starts");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "the browser test failed:\n{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    eprintln!("{out}\nscreenshots in {}", shots.display());
    for shot in [
        "1-overview.png",
        "2-search.png",
        "3-time-travel.png",
        "4-preview.png",
    ] {
        let png = std::fs::read(shots.join(shot)).expect("screenshot written");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{shot}");
    }
}

fn explain(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let o = Command::new(BIN)
        .args(["seed", "explain"])
        .args(args)
        .output()
        .expect("starts");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn seed_explain_tells_the_loops_and_links_each_instruction_to_its_source_line() {
    let (sb, _, _) = teach_chain::tree("teach-explain");
    let seed = sb.root.join("bootstrap-seeds/POSIX/x86/hex0-seed");
    // Found beside the seed as in stage0-posix: x86/hex0_x86.hex0.
    let (code, out, err) = explain(&[seed.as_os_str()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ELF32 i386 executable"), "{out}");
    assert!(out.contains("\ncommented source: "), "{out}");
    let source = std::fs::read_to_string(sb.root.join("x86/hex0_x86.hex0")).unwrap();
    let lines: Vec<&str> = source.lines().collect();
    // Every instruction line names the source line that spells its bytes.
    let code_lines: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("== Code"))
        .skip(2)
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(code_lines.len() > 40, "{out}");
    for l in &code_lines {
        let at = l
            .find("hex0_x86.hex0:")
            .unwrap_or_else(|| panic!("no source in {l:?}"));
        let n: usize = l[at + 14..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let bytes: String = l.split_whitespace().nth(2).unwrap().to_string();
        assert!(
            lines[n - 1].trim_start().starts_with(&bytes),
            "{l:?} points at line {n}: {:?}",
            lines[n - 1]
        );
    }
    // The story of this program's loops: its one-byte read and its digit idiom; it keeps
    // no comment counter and no sign bit, so those paragraphs are absent.
    assert!(out.contains("== How it works =="), "{out}");
    assert!(
        out.contains("\nOne byte at a time [hex0_x86.hex0 lines "),
        "{out}"
    );
    assert!(
        out.contains("\nTwo hex digits become one byte [hex0_x86.hex0 lines "),
        "{out}"
    );
    assert!(out.contains("`shl ebp,4`"), "{out}");
    assert!(!out.contains("neg:"), "{out}");
    assert!(!out.contains("Comments: a counter"), "{out}");
    // A source that does not spell the file is refused when given.
    let (code, _, err) = explain(&[
        seed.as_os_str(),
        "--source".as_ref(),
        sb.root.join("x86/hello.hex0").as_os_str(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("not its source"), "{err}");
}
