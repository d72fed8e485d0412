//! `stage0-runner run` on a chain the test builds itself: guest programs that fork, exec
//! each other and write files; checks the answers, provenance and the compare report.

use std::path::Path;
use std::process::{Command, Output};

use stage0_testkit::programs::{copy, fork_exec_wait_plus};
use stage0_testkit::Sandbox;

fn sha(data: &[u8]) -> String {
    vm::record::sha256_hex(data)
}

/// A tree with a two-step chain: /bin/copy1 copies /src/input to /out/a; /bin/parent forks
/// and execs /bin/copy2, which copies /out/a to /out/b.
fn small_tree(name: &str, input: &[u8]) -> Sandbox {
    let sb = Sandbox::new(name);
    sb.put("src/input", input);
    sb.put("out/.keep", b"");
    sb.put("bin/copy1", &copy("/src/input", "/out/a"));
    sb.put("bin/copy2", &copy("/out/a", "/out/b"));
    sb.put("bin/parent", &fork_exec_wait_plus("/bin/copy2", "x", 0));
    sb.put("chain.kaem", b"# a small chain\n/bin/copy1\n/bin/parent\n");
    sb
}

fn run(tree: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stage0-runner"))
        .arg("run")
        .arg("--script")
        .arg(tree.join("chain.kaem"))
        .args(extra)
        .arg(tree)
        .output()
        .expect("runs")
}

#[test]
fn small_chain_verifies_answers_and_writes_reproducible_provenance() {
    let input = b"the seed of everything\n".repeat(50);
    let a = small_tree("chain-a", &input);
    let b = small_tree("chain-b", &input);
    for sb in [&a, &b] {
        sb.put(
            "answers",
            format!("{h}  out/a\n{h}  out/b\n", h = sha(&input)).as_bytes(),
        );
    }
    let pa = a.root.join("../prov-a.json");
    let pb = b.root.join("../prov-b.json");
    let oa = run(
        &a.root,
        &[
            "--answers",
            a.root.join("answers").to_str().unwrap(),
            "--provenance",
            pa.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&oa.stdout);
    assert_eq!(
        oa.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&oa.stderr)
    );
    assert!(
        stdout.contains("VERIFIED: 2/2 answers match (3 programs"),
        "{stdout}"
    );
    let ob = run(
        &b.root,
        &[
            "-q",
            "--answers",
            b.root.join("answers").to_str().unwrap(),
            "--provenance",
            pb.to_str().unwrap(),
        ],
    );
    assert_eq!(ob.status.code(), Some(0));
    assert!(
        ob.stderr.is_empty(),
        "-q prints only the verdict: {}",
        String::from_utf8_lossy(&ob.stderr)
    );
    let (ja, jb) = (std::fs::read(&pa).unwrap(), std::fs::read(&pb).unwrap());
    assert_eq!(
        ja, jb,
        "two runs (in different host directories) must give identical provenance"
    );
    let text = String::from_utf8(ja).unwrap();
    assert!(
        !text.contains(a.root.to_str().unwrap()),
        "no host paths in provenance"
    );
    let p: serde_json::Value = serde_json::from_str(&text).unwrap();
    let procs = p["processes"].as_array().unwrap();
    assert_eq!(procs.len(), 3);
    assert_eq!(procs[1]["argv"][0], "/bin/parent");
    assert_eq!(procs[2]["exe"], "/bin/copy2");
    assert_eq!(procs[2]["parent"], procs[1]["pid"]);
    assert_eq!(procs[2]["writes"][0]["path"], "/out/b");
    assert_eq!(procs[2]["writes"][0]["sha256"], sha(&input));
    assert_eq!(procs[2]["reads"][0]["path"], "/out/a");
    assert_eq!(p["answers"]["matched"], 2);
    let inputs: Vec<&str> = p["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert!(
        inputs.contains(&"src/input") && inputs.contains(&"bin/copy1"),
        "{inputs:?}"
    );
    let _ = std::fs::remove_file(&pa);
    let _ = std::fs::remove_file(&pb);
}

#[test]
fn a_changed_input_fails_and_compare_names_the_first_differing_step() {
    let good = b"good input\n".to_vec();
    let reference = small_tree("chain-ref", &good);
    let prov = reference.root.join("../prov-ref.json");
    let o = run(
        &reference.root,
        &["-q", "--provenance", prov.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0));

    let bad = small_tree("chain-bad", b"bad input!!\n");
    bad.put(
        "answers",
        format!("{h}  out/a\n{h}  out/b\n", h = sha(&good)).as_bytes(),
    );
    let o = run(
        &bad.root,
        &[
            "--answers",
            bad.root.join("answers").to_str().unwrap(),
            "--compare",
            prov.to_str().unwrap(),
            "--compare-tree",
            reference.root.to_str().unwrap(),
        ],
    );
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("FAILED: 0/2 answers match"), "{stdout}");
    assert!(stderr.contains("MISMATCH out/a"), "{stderr}");
    assert!(
        stderr.contains("first differing step is #1 `/bin/copy1`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("first difference at offset 0x0"),
        "{stderr}"
    );
    let _ = std::fs::remove_file(&prov);
}

#[test]
fn a_missing_tree_says_how_to_clone_it() {
    let o = Command::new(env!("CARGO_BIN_EXE_stage0-runner"))
        .args(["run", "/nonexistent/stage0-posix"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("git clone --recursive") && e.contains("stage0-posix"),
        "{e}"
    );
}

#[test]
fn a_tree_without_submodules_is_named_precisely() {
    let sb = Sandbox::new("no-submodules");
    sb.put(
        "kaem.x86",
        b"./bootstrap-seeds/POSIX/x86/kaem-optional-seed ./x86/mescc-tools-seed-kaem.kaem\n",
    );
    sb.put("x86.answers", b"");
    let o = Command::new(env!("CARGO_BIN_EXE_stage0-runner"))
        .arg("run")
        .arg(&sb.root)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    for part in [
        "bootstrap-seeds",
        "M2libc",
        "M2-Planet",
        "mescc-tools-extra",
    ] {
        assert!(e.contains(part), "{part} not named: {e}");
    }
    assert!(e.contains("git submodule update --init --recursive"), "{e}");
}
