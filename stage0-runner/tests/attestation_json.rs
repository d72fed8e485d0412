//! `run --attestation`, `--json` and `--progress plain` on a chain the test builds itself,
//! and (with STAGE0_VERIFIER_PYTHON) the files checked by outside verifiers: the in-toto
//! project's Statement / SLSA Provenance v1 bindings and JSON Schema.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use stage0_testkit::programs::{copy, fork_exec_wait_plus, hello};
use stage0_testkit::Sandbox;

fn sha(data: &[u8]) -> String {
    vm::record::sha256_hex(data)
}

/// Two steps: /bin/copy1 copies /src/input to /out/a; /bin/parent forks and execs
/// /bin/copy2, which copies /out/a to /out/b. Answers name both outputs with `answer`.
fn small_tree(name: &str, input: &[u8], answer: &[u8]) -> Sandbox {
    let sb = Sandbox::new(name);
    sb.put("src/input", input);
    sb.put("out/.keep", b"");
    sb.put("bin/copy1", &copy("/src/input", "/out/a"));
    sb.put("bin/copy2", &copy("/out/a", "/out/b"));
    sb.put("bin/parent", &fork_exec_wait_plus("/bin/copy2", "x", 0));
    sb.put("chain.kaem", b"/bin/copy1\n/bin/parent\n");
    sb.put(
        "answers",
        format!("{h}  out/a\n{h}  out/b\n", h = sha(answer)).as_bytes(),
    );
    sb
}

/// The files one run writes, beside its tree (named after it: sandboxes share a parent).
struct Files {
    attestation: PathBuf,
    provenance: PathBuf,
    report: PathBuf,
}

fn files(tree: &Path) -> Files {
    let beside = |what: &str| PathBuf::from(format!("{}.{what}.json", tree.display()));
    Files {
        attestation: beside("attestation"),
        provenance: beside("provenance"),
        report: beside("report"),
    }
}

fn run(tree: &Path, extra: &[&str]) -> Output {
    let f = files(tree);
    Command::new(env!("CARGO_BIN_EXE_stage0-runner"))
        .arg("run")
        .arg("--script")
        .arg(tree.join("chain.kaem"))
        .arg("--answers")
        .arg(tree.join("answers"))
        .arg("--attestation")
        .arg(&f.attestation)
        .arg("--provenance")
        .arg(&f.provenance)
        .arg("--report")
        .arg(&f.report)
        .args(extra)
        .arg(tree)
        .output()
        .expect("runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn attestation_is_in_toto_slsa_and_identical_across_trees() {
    let input = b"the seed of everything\n".repeat(40);
    let (a, b) = (
        small_tree("att-a", &input, &input),
        small_tree("att-b", &input, &input),
    );
    let (oa, ob) = (
        run(&a.root, &["--json", "--progress", "plain"]),
        run(&b.root, &["-q"]),
    );
    assert_eq!(oa.status.code(), Some(0), "{}", text(&oa.stderr));
    assert_eq!(ob.status.code(), Some(0), "{}", text(&ob.stderr));
    let (fa, fb) = (files(&a.root), files(&b.root));
    let att = std::fs::read(&fa.attestation).unwrap();
    assert_eq!(
        att,
        std::fs::read(&fb.attestation).unwrap(),
        "same tree contents in other host directories: byte-identical attestations"
    );
    let s: serde_json::Value = serde_json::from_slice(&att).unwrap();
    assert_eq!(s["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(s["predicateType"], "https://slsa.dev/provenance/v1");
    let subjects: Vec<(&str, &str)> = s["subject"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap(),
                d["digest"]["sha256"].as_str().unwrap(),
            )
        })
        .collect();
    let h = sha(&input);
    assert_eq!(subjects, [("out/a", h.as_str()), ("out/b", h.as_str())]);
    let bd = &s["predicate"]["buildDefinition"];
    assert_eq!(bd["externalParameters"]["layout"], "script");
    assert_eq!(
        bd["externalParameters"]["steps"][1]["argv"][0],
        "/bin/parent"
    );
    let deps = bd["resolvedDependencies"].as_array().unwrap();
    let input_dep = deps.iter().find(|d| d["name"] == "src/input").unwrap();
    assert_eq!(input_dep["digest"]["sha256"], h.as_str());
    let rd = &s["predicate"]["runDetails"];
    assert_eq!(
        rd["builder"]["version"]["stage0-runner"],
        env!("CARGO_PKG_VERSION")
    );
    // The default engine: the JIT where this build and host have it.
    let default_engine = if vm::engine::registry::jit_available().is_ok() {
        "jit"
    } else {
        "interp"
    };
    assert_eq!(rd["builder"]["version"]["engine"], default_engine);
    assert!(rd.get("metadata").is_none(), "no times unless asked");
    let prov = std::fs::read(&fa.provenance).unwrap();
    assert_eq!(rd["byproducts"][0]["digest"]["sha256"], sha(&prov).as_str());
    let host = a.root.to_str().unwrap();
    assert!(
        !text(&att).contains(host),
        "no host paths in the attestation"
    );

    // --json: exactly one object on stdout; the verdict line moved to stderr.
    let stdout = text(&oa.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let j: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(j["format"], "stage0-runner run summary v1");
    assert_eq!(j["verdict"], "VERIFIED");
    assert_eq!(j["programs"], 3);
    assert_eq!(j["answers"]["matched"], 2);
    assert_eq!(j["outputs"][1]["sha256"], h.as_str());
    assert_eq!(j["provenance_sha256"], sha(&prov).as_str());
    let stderr = text(&oa.stderr);
    assert!(stderr.contains("VERIFIED: 2/2 answers match"), "{stderr}");
    // --progress plain: a start and an end line per program (no total on a first run).
    assert!(stderr.contains("#1 start copy1"), "{stderr}");
    assert!(stderr.contains("#3 end   copy2"), "{stderr}");
    assert!(stderr.contains("including the children"), "{stderr}");
}

#[test]
fn plain_progress_knows_the_total_from_the_previous_provenance_and_times_are_opt_in() {
    let input = b"input\n".to_vec();
    let sb = small_tree("att-again", &input, &input);
    assert_eq!(run(&sb.root, &["-q"]).status.code(), Some(0));
    let o = run(&sb.root, &["--progress", "plain", "--attestation-times"]);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("#1/3 start copy1"), "{stderr}");
    assert!(stderr.contains("#3/3 end"), "{stderr}");
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(files(&sb.root).attestation).unwrap()).unwrap();
    let started = s["predicate"]["runDetails"]["metadata"]["startedOn"]
        .as_str()
        .unwrap();
    assert!(
        started.len() == 20 && started.ends_with('Z') && started.as_bytes()[10] == b'T',
        "RFC 3339 UTC: {started}"
    );
}

#[test]
fn no_attestation_for_a_failed_run() {
    let sb = small_tree("att-bad", b"actual\n", b"expected\n");
    let o = run(&sb.root, &["--json", "--progress", "quiet"]);
    assert_eq!(o.status.code(), Some(1));
    let stderr = text(&o.stderr);
    assert!(
        stderr.contains("not writing attestation") && stderr.contains("out/a"),
        "{stderr}"
    );
    assert!(!files(&sb.root).attestation.exists());
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["verdict"], "FAILED");
    assert_eq!(j["exit_code"], 1);
    assert_eq!(j["outputs"][0]["matches"], false);
}

#[test]
fn exec_json_keeps_stdout_for_the_summary() {
    let sb = Sandbox::new("exec-json");
    sb.put("bin/hello", &hello(b"guest says hi\n", 3));
    let o = Command::new(env!("CARGO_BIN_EXE_stage0-runner"))
        .args(["exec", "--json", "--root"])
        .arg(&sb.root)
        .arg("/bin/hello")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(3),
        "the guest's status passes through"
    );
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["format"], "stage0-runner exec summary v1");
    assert_eq!(j["exit_code"], 3);
    assert_eq!(j["end"], "exit 3");
    assert!(j["instructions"].as_u64().unwrap() > 0, "{j}");
    assert_eq!(text(&o.stderr), "guest says hi\n");
}

#[test]
fn the_old_cross_check_spelling_is_refused_with_the_new_one() {
    let o = Command::new(env!("CARGO_BIN_EXE_stage0-runner"))
        .args(["run", "--cross-check", "native"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = text(&o.stderr);
    assert!(
        e.contains("takes no value without `=`") && e.contains("--cross-check-native"),
        "{e}"
    );
}

#[test]
fn every_command_answers_version() {
    for cmd in [
        vec!["--version"],
        vec!["run", "--version"],
        vec!["exec", "--version"],
        vec!["ddc", "--version"],
        vec!["bench", "--version"],
        vec!["report", "--version"],
        vec!["step", "--version"],
        vec!["seed", "--version"],
        vec!["completions", "--version"],
        vec!["man", "--version"],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_stage0-runner"))
            .args(&cmd)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{cmd:?}: {}", text(&o.stderr));
        assert!(
            text(&o.stdout).contains(env!("CARGO_PKG_VERSION")),
            "{cmd:?}: {}",
            text(&o.stdout)
        );
    }
}

#[test]
fn completions_and_man_page_name_the_commands() {
    let out = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_stage0-runner"))
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
        text(&o.stdout)
    };
    let bash = out(&["completions", "bash"]);
    assert!(
        bash.contains("--attestation") && bash.contains("complete -F"),
        "{bash}"
    );
    let man = out(&["man"]);
    assert!(
        man.starts_with(".ie") || man.contains(".TH stage0-runner 1"),
        "{man}"
    );
    assert!(man.contains("ddc"), "{man}");
}

/// The python that has the verifiers (scripts/test.sh sets it up).
fn verifier() -> PathBuf {
    PathBuf::from(std::env::var_os("STAGE0_VERIFIER_PYTHON").expect(
        "STAGE0_VERIFIER_PYTHON: a python3 with in-toto-attestation and jsonschema \
         (scripts/test.sh installs them)",
    ))
}

fn verify(args: &[&Path]) -> Output {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    Command::new(verifier())
        .arg(repo.join("scripts/verify-outputs.py"))
        .args(args)
        .output()
        .expect("the verifier python runs")
}

fn schema(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../schemas")
        .join(name)
}

#[test]
#[ignore = "needs STAGE0_VERIFIER_PYTHON (python3 with PyPI in-toto-attestation and jsonschema; scripts/test.sh)"]
fn outside_verifiers_accept_the_attestation_and_schemas_the_files() {
    let input = b"verified by others\n".to_vec();
    let sb = small_tree("att-verify", &input, &input);
    let o = run(&sb.root, &["--json", "--attestation-times", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let f = files(&sb.root);
    let summary = PathBuf::from(format!("{}.summary.json", sb.root.display()));
    std::fs::write(&summary, &o.stdout).unwrap();
    let a = Path::new("attestation");
    let s = Path::new("schema");
    let (prov_schema, report_schema, summary_schema) = (
        schema("provenance-v1.schema.json"),
        schema("report-v1.schema.json"),
        schema("run-summary-v1.schema.json"),
    );
    for args in [
        vec![a, f.attestation.as_path()],
        vec![s, prov_schema.as_path(), f.provenance.as_path()],
        vec![s, report_schema.as_path(), f.report.as_path()],
        vec![s, summary_schema.as_path(), summary.as_path()],
    ] {
        let v = verify(&args);
        assert_eq!(
            v.status.code(),
            Some(0),
            "{args:?}: {}{}",
            text(&v.stdout),
            text(&v.stderr)
        );
    }

    // The verifiers can fail: a statement without subjects, a provenance with an unknown
    // field, a report of another format.
    let mut bad: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&f.attestation).unwrap()).unwrap();
    bad["subject"] = serde_json::json!([]);
    let bad_att = PathBuf::from(format!("{}.bad-attestation.json", sb.root.display()));
    std::fs::write(&bad_att, bad.to_string()).unwrap();
    let mut bad_prov: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&f.provenance).unwrap()).unwrap();
    bad_prov["wall_seconds"] = serde_json::json!(1.0);
    let bad_prov_path = PathBuf::from(format!("{}.bad-provenance.json", sb.root.display()));
    std::fs::write(&bad_prov_path, bad_prov.to_string()).unwrap();
    let mut bad_report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&f.report).unwrap()).unwrap();
    bad_report["format"] = serde_json::json!("stage0-runner report v0");
    let bad_report_path = PathBuf::from(format!("{}.bad-report.json", sb.root.display()));
    std::fs::write(&bad_report_path, bad_report.to_string()).unwrap();
    for args in [
        vec![a, bad_att.as_path()],
        vec![s, prov_schema.as_path(), bad_prov_path.as_path()],
        vec![s, report_schema.as_path(), bad_report_path.as_path()],
    ] {
        let v = verify(&args);
        assert_eq!(v.status.code(), Some(1), "{args:?} must be rejected");
        assert!(text(&v.stderr).contains("INVALID"), "{}", text(&v.stderr));
    }
}
