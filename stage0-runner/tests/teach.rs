//! The teaching tools: `step` narrates what `run` records, `report` draws it, source maps
//! point at the lines that made each byte. Small chains are built here; the upstream tree
//! (STAGE0_POSIX_TREE) is used by ignored tests, which fail naming it when run without it. The page in a
//! real browser: tests/teach_page.rs.

use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;

use stage0_chain::plan as chain;
use stage0_chain::provenance::Provenance;
use stage0_runner::cmd::step as step_cmd;
use stage0_runner::trace;
use stage0_testkit::programs::{copy, fork_exec_wait_plus};
use stage0_testkit::Sandbox;

const BIN: &str = env!("CARGO_BIN_EXE_stage0-runner");

/// /bin/copy1 copies /src/input to /out/a; /bin/parent forks and execs /bin/copy2, which
/// copies /out/a to /out/b.
fn small_tree(name: &str) -> Sandbox {
    let sb = Sandbox::new(name);
    sb.put("src/input", &b"bytes to pass along\n".repeat(20));
    sb.put("out/.keep", b"");
    sb.put("bin/copy1", &copy("/src/input", "/out/a"));
    sb.put("bin/copy2", &copy("/out/a", "/out/b"));
    sb.put("bin/parent", &fork_exec_wait_plus("/bin/copy2", "x", 0));
    sb.put("chain.kaem", b"/bin/copy1 /src/input\n/bin/parent\n");
    sb
}

fn provenance_of(tree: &Path, script: &Path, out: &Path) -> Provenance {
    let o = Command::new(BIN)
        .args(["run", "--quiet", "--script"])
        .arg(script)
        .arg("--provenance")
        .arg(out)
        .arg(tree)
        .output()
        .expect("run starts");
    assert!(
        o.status.success(),
        "run failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
}

fn step_narrative(tree: &Path, script: &Path, extra: &[&str]) -> String {
    let o = Command::new(BIN)
        .arg("step")
        .arg("--script")
        .arg(script)
        .args(extra)
        .arg(tree)
        .output()
        .expect("step starts");
    assert!(
        o.status.success(),
        "step failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// Every process of the provenance appears in the narrative with its pid, command line
/// and every file it wrote (path, size in `tree`, sha256), in the same order.
fn assert_narrative_matches(narrative: &str, prov: &Provenance, tree: &Path) {
    let mut at = 0;
    for (i, p) in prov.processes.iter().enumerate() {
        let head = format!(
            "== step {} (pid {}, parent {}) ==\n$ {}\n",
            i + 1,
            p.pid,
            p.parent,
            p.argv.join(" ")
        );
        let found = narrative[at..].find(&head);
        assert!(
            found.is_some(),
            "step {} missing or out of order:\n{head}\nin\n{narrative}",
            i + 1
        );
        at += found.unwrap();
        let ended = format!(
            "-- step {} `{}` ended ({}): {} instructions",
            i + 1,
            p.exe,
            p.end,
            p.instructions
        );
        assert!(narrative.contains(&ended), "no end line {ended:?}");
        for w in &p.writes {
            let size = std::fs::metadata(tree.join(w.path.trim_start_matches('/')))
                .unwrap()
                .len();
            let line = format!("wrote {}: {size} bytes, sha256 {}", w.path, w.sha256);
            assert!(narrative.contains(&line), "no {line:?} in\n{narrative}");
        }
        for r in &p.reads {
            assert!(
                narrative.contains(&format!("read  {}", r.path)),
                "read {} not told",
                r.path
            );
        }
    }
}

#[test]
fn step_narrative_names_the_tools_and_files_that_run_recorded() {
    let a = small_tree("teach-step-a");
    let b = small_tree("teach-step-b");
    let prov = provenance_of(
        &a.root,
        &a.root.join("chain.kaem"),
        &a.root.join("../teach-prov.json"),
    );
    assert_eq!(prov.processes.len(), 3, "copy1, parent, copy2");
    let narrative = step_narrative(&b.root, &b.root.join("chain.kaem"), &[]);
    assert_narrative_matches(&narrative, &prov, &b.root);
    // Before copy1 runs, its one existing argument is listed as an input with its size.
    assert!(
        narrative.contains("    /src/input (400 bytes)"),
        "{narrative}"
    );
    assert!(
        narrative.contains("first bytes: 62 79 74 65 73 20"),
        "{narrative}"
    );
    let _ = std::fs::remove_file(a.root.join("../teach-prov.json"));
}

#[test]
fn step_keys_show_the_syscall_log_and_a_trace_of_the_last_step() {
    let sb = small_tree("teach-keys");
    let plan = chain::upstream::plan_script(&sb.root.join("chain.kaem")).unwrap();
    let buf = Rc::new(RefCell::new(Vec::new()));
    let sink: Rc<RefCell<Box<dyn Write>>> = Rc::new(RefCell::new(Box::new(SharedVec(buf.clone()))));
    // Before step 1: next. Before step 2 (copy1 finished): syscalls, trace, then continue.
    let keys = std::io::Cursor::new(b"n\ns\nt\nc\n".to_vec());
    let records = step_cmd::run_steps(
        &sb.root,
        &plan,
        sink,
        Some(Box::new(keys)),
        step_cmd::StepOptions::default(),
    )
    .expect("chain runs");
    assert_eq!(records.len(), 3);
    let text = String::from_utf8(buf.borrow().clone()).unwrap();
    let pid = records[0].pid;
    assert!(text.contains("syscalls of step 1:"), "{text}");
    assert!(
        text.contains(&format!("{pid} open(")),
        "no open in the log:\n{text}"
    );
    assert!(
        text.contains(&format!("{pid} exit(")),
        "no exit in the log:\n{text}"
    );
    // copy1's byte-by-byte loop is folded, not dumped: 805 calls in a dozen lines.
    assert!(
        text.contains("more read(3, …)/write(4, …) cycles like these"),
        "{text}"
    );
    assert!(
        text.contains("what it did: copy1 reads input and writes a."),
        "{text}"
    );
    assert!(
        text.contains("instruction trace of `/bin/copy1 /src/input`"),
        "{text}"
    );
    assert!(
        text.contains("int 80h"),
        "trace has no syscall instruction:\n{text}"
    );
    // After `c`, no more prompts.
    assert_eq!(text.matches("[q] quit >").count(), 4, "{text}");
}

struct SharedVec(Rc<RefCell<Vec<u8>>>);

impl Write for SharedVec {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn report(prov: &Path, tree: &Path, html: &Path, dot: &Path) {
    let o = Command::new(BIN)
        .args(["report", "--provenance"])
        .arg(prov)
        .arg("--html")
        .arg(html)
        .arg("--dot")
        .arg(dot)
        .arg(tree)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "report failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn report_is_self_contained_and_shows_every_step_and_the_flow_of_files() {
    let sb = small_tree("teach-report");
    let prov_path = sb.root.join("prov.json");
    let prov = provenance_of(&sb.root, &sb.root.join("chain.kaem"), &prov_path);
    let (html_path, dot_path) = (sb.root.join("r.html"), sb.root.join("r.dot"));
    report(&prov_path, &sb.root, &html_path, &dot_path);
    let html = std::fs::read_to_string(&html_path).unwrap();
    for banned in ["http:", "https:", "src=", "<link", "@import", "url("] {
        assert!(
            !html.contains(banned),
            "the page refers to something outside: {banned}"
        );
    }
    assert_eq!(html.matches("class=\"step\"").count(), prov.processes.len());
    for (i, p) in prov.processes.iter().enumerate() {
        assert!(html.contains(&format!("id=\"step-{}\"", i + 1)));
        assert!(html.contains(&p.argv.join(" ")), "{:?} missing", p.argv);
    }
    // copy1 wrote /out/a, which copy2 (step 3) read: step 1 links to step 3.
    let step1 = &html[html.find("id=\"step-1\"").unwrap()..html.find("id=\"step-2\"").unwrap()];
    assert!(
        step1.contains("<code class=\"path\">/out/a</code>"),
        "{step1}"
    );
    assert!(step1.contains("href=\"#step-3\">→ step 3</a>"), "{step1}");
    assert!(html.contains("No answers were checked."));
    let dot = std::fs::read_to_string(&dot_path).unwrap();
    assert!(
        dot.contains("s1 -> \"/out/a\";") && dot.contains("\"/out/a\" -> s3;"),
        "{dot}"
    );
}

fn posix_tree(test: &str) -> PathBuf {
    match std::env::var_os("STAGE0_POSIX_TREE") {
        Some(t) => PathBuf::from(t),
        None => {
            panic!(
                "missing input: {test} needs $STAGE0_POSIX_TREE (a pristine stage0-posix checkout); this test is ignored unless run with --ignored; README, 'Tests and the upstream tree'"
            )
        }
    }
}

/// A private copy of the seed stage's inputs (the tree is never written).
fn seed_stage_copy(tree: &Path, name: &str) -> Sandbox {
    let sb = Sandbox::new(name);
    for f in [
        "bootstrap-seeds/POSIX/x86/kaem-optional-seed",
        "bootstrap-seeds/POSIX/x86/hex0-seed",
        "x86/mescc-tools-seed-kaem.kaem",
        "x86/hex0_x86.hex0",
        "x86/kaem-minimal.hex0",
    ] {
        sb.put(f, &std::fs::read(tree.join(f)).unwrap());
    }
    sb.put("x86/artifact/.keep", b"");
    sb.put(
        "seed.kaem",
        b"./bootstrap-seeds/POSIX/x86/kaem-optional-seed ./x86/mescc-tools-seed-kaem.kaem\n",
    );
    sb
}

#[test]
#[ignore = "needs STAGE0_POSIX_TREE (a pristine stage0-posix checkout)"]
fn seed_stage_narrative_matches_its_provenance() {
    let tree = posix_tree("seed_stage_narrative_matches_its_provenance");
    let a = seed_stage_copy(&tree, "teach-seed-a");
    let b = seed_stage_copy(&tree, "teach-seed-b");
    let prov = provenance_of(
        &a.root,
        &a.root.join("seed.kaem"),
        &a.root.join("prov.json"),
    );
    let narrative = step_narrative(&b.root, &b.root.join("seed.kaem"), &["--trace-insns", "8"]);
    assert_narrative_matches(&narrative, &prov, &b.root);
    let names: Vec<&str> = prov
        .processes
        .iter()
        .map(|p| p.exe.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(names, ["kaem-optional-seed", "hex0-seed", "hex0"]);
    for n in names {
        let role = stage0_chain::roles::role(n).unwrap();
        assert!(
            narrative.contains(&format!("  role: {role}\n")),
            "role of {n} not told"
        );
    }
    assert!(
        narrative.contains("/x86/hex0_x86.hex0:64  58  ; pop_eax"),
        "{narrative}"
    );
    // The report draws hex0-seed's output running as step 3.
    let (html, dot) = (a.root.join("r.html"), a.root.join("r.dot"));
    report(&a.root.join("prov.json"), &a.root, &html, &dot);
    let html = std::fs::read_to_string(html).unwrap();
    let step2 = &html[html.find("id=\"step-2\"").unwrap()..html.find("id=\"step-3\"").unwrap()];
    assert!(step2.contains("href=\"#step-3\">→ step 3</a>"), "{step2}");
    let dot = std::fs::read_to_string(dot).unwrap();
    assert!(
        dot.contains("\"/x86/artifact/hex0\" -> s3 [style=bold"),
        "{dot}"
    );
}

#[test]
#[ignore = "needs STAGE0_POSIX_TREE (a pristine stage0-posix checkout)"]
fn every_byte_of_hex0_maps_to_the_source_line_that_spells_it() {
    let tree = posix_tree("every_byte_of_hex0_maps_to_the_source_line_that_spells_it");
    let sb = seed_stage_copy(&tree, "teach-map");
    let map = trace::source_map(&sb.root, "/bootstrap-seeds/POSIX/x86/hex0-seed")
        .expect("map fits the seed");
    let seed = sb.get("bootstrap-seeds/POSIX/x86/hex0-seed");
    let source = sb.get("x86/hex0_x86.hex0");
    let lines: Vec<&[u8]> = source.split(|&b| b == b'\n').collect();
    assert_eq!(map.len(), seed.len());
    // Bytes grouped by the line they map to must be exactly what hex0 makes of that line.
    let mut k = 0;
    while k < seed.len() {
        let line = map.origins[k].line;
        let mut end = k;
        while end < seed.len() && map.origins[end].line == line {
            end += 1;
        }
        let alone = seed::Source::new("line", lines[line - 1].to_vec());
        let bytes = seed::hex0::assemble(&alone).expect("line assembles alone");
        assert_eq!(
            bytes,
            seed[k..end],
            "bytes {k}..{end} vs line {line}: {:?}",
            String::from_utf8_lossy(lines[line - 1])
        );
        k = end;
    }
    // And the trace shows those lines for what runs.
    let plan = chain::upstream::plan_script(&sb.root.join("seed.kaem")).unwrap();
    let sink: Rc<RefCell<Box<dyn Write>>> = Rc::new(RefCell::new(Box::new(std::io::sink())));
    let records = step_cmd::run_steps(&sb.root, &plan, sink, None, Default::default()).unwrap();
    let r = records
        .iter()
        .find(|r| r.exe.ends_with("/hex0-seed"))
        .expect("hex0-seed ran");
    let (insns, note) = trace::trace(
        &sb.root,
        r,
        trace::Window {
            from: 0,
            to: 100_000_000,
        },
    )
    .unwrap();
    assert_eq!(note.as_deref(), Some("the program exited with status 0"));
    assert!(insns.len() > 1000);
    assert!(
        insns.iter().all(|i| i.source.is_some()),
        "an instruction without a source line"
    );
}

#[test]
#[ignore = "needs STAGE0_NATIVE_TREE (a stage0-posix tree after a native run)"]
fn every_hand_written_program_of_a_finished_tree_has_a_fitting_source_map() {
    let Some(tree) = std::env::var_os("STAGE0_NATIVE_TREE").map(PathBuf::from) else {
        panic!("missing input: every_hand_written_program_of_a_finished_tree_has_a_fitting_source_map needs $STAGE0_NATIVE_TREE (a tree after a native run) (this test is ignored unless run with --ignored; README, 'Tests and the upstream tree')");
    };
    let programs = [
        "/bootstrap-seeds/POSIX/x86/hex0-seed",
        "/bootstrap-seeds/POSIX/x86/kaem-optional-seed",
        "/x86/artifact/hex0",
        "/x86/artifact/kaem-0",
        "/x86/artifact/hex1",
        "/x86/artifact/hex2-0",
        "/x86/artifact/catm",
        "/x86/artifact/M0",
        "/x86/artifact/cc_x86",
    ];
    for exe in programs {
        let map = trace::source_map(&tree, exe).unwrap_or_else(|e| panic!("{exe}: {e}"));
        // The ELF header's first byte (0x7F) comes from the first code line of the first file.
        let first = map.line_at(0).unwrap();
        assert!(
            first.code.starts_with("7F") || first.code.starts_with("7f"),
            "{exe}: {first:?}"
        );
    }
    // cc_x86's code comes from cc_x86.M1, line by line.
    let map = trace::source_map(&tree, "/x86/artifact/cc_x86").unwrap();
    let last = map.line_at(map.len() - 1).unwrap();
    assert_eq!(last.file, "/x86/cc_x86.M1");
}

#[test]
#[ignore = "needs $STAGE0_POSIX_TREE (a pristine stage0-posix checkout)"]
fn seed_explain_tells_how_the_seed_turns_two_digits_into_a_byte() {
    let tree = PathBuf::from(
        std::env::var_os("STAGE0_POSIX_TREE").expect("$STAGE0_POSIX_TREE: a stage0-posix checkout"),
    );
    let o = Command::new(BIN)
        .args(["seed", "explain"])
        .arg(tree.join("bootstrap-seeds/POSIX/x86/hex0-seed"))
        .output()
        .unwrap();
    assert!(o.status.success());
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.contains(
            "0xa7   0x80480a7  F7 DF                neg edi                      hex0_x86.hex0:146"
        ),
        "{out}"
    );
    for para in [
        "\nStart-up [hex0_x86.hex0 lines 64-81]\n",
        "\nOne byte at a time [hex0_x86.hex0 lines 102-110]\n",
        "\nComments: a counter that is zero outside them [hex0_x86.hex0 lines 93-128]\n",
        "\nTwo hex digits become one byte [hex0_x86.hex0 lines 131-143]\n",
        "\nneg: counting digits in a sign bit [hex0_x86.hex0 lines 146-153]\n",
    ] {
        assert!(out.contains(para), "no {para:?} in\n{out}");
    }
    let flat = out.replace('\n', " ");
    assert!(flat.contains("jump to `dec esi` at 0x804806d"), "{out}");
    assert!(
        flat.contains(
            "edi holds the output file descriptor (moved there from open()'s result at 0x8048068)"
        ),
        "{out}"
    );
}
