//! Golden test: the `docker build` arguments of every target of the StageX snapshot equal,
//! argument for argument, what StageX's own `src/targets.py` writes into `out/targets.mk`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use stagex_pipeline::buildx_args::{build_argv, MakeVars};
use stagex_pipeline::graph::Graph;

fn mirror() -> PathBuf {
    let m = std::env::var_os("STAGE0_MIRROR")
        .map(PathBuf::from)
        .expect("STAGE0_MIRROR: git snapshots root holding stagex-mirror+stagex/repo");
    assert!(
        m.is_dir(),
        "STAGE0_MIRROR={} is not a directory",
        m.display()
    );
    m
}

/// A git checkout (targets.py runs `git ls-files`) of the StageX snapshot.
fn clone_stagex(mirror: &Path, dest: &Path) {
    let out = Command::new("git")
        .args(["clone", "-q", "--shared"])
        .arg(common::stagex_git_dir(mirror))
        .arg(dest)
        .output()
        .expect("run git clone");
    assert!(
        out.status.success(),
        "git clone: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The Makefile's values for the variables a recipe's build command uses.
fn expand_make(text: &str) -> String {
    text.replace("\\\n", " ")
        .replace("$(EXTRA_ARGS)", "")
        .replace("$(NOCACHE_FLAG)", "")
        .replace("$(CHECK_FLAG)", "")
        .replace("$(PROGRESS)", "auto")
        .replace("$(PLATFORM)", "linux/amd64")
        .replace("$$", "$")
}

/// `id -> argv after "build"` for every `out/<id>/index.json` recipe of targets.mk.
fn recipes(mk: &str) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let mut rest = mk;
    while let Some(i) = rest.find("\nout/") {
        rest = &rest[i + 1..];
        let id = &rest["out/".len()..rest.find("/index.json:").expect("rule")];
        let start = rest.find("\t$(BUILDER) \\\n").expect("builder line") + "\t$(BUILDER)".len();
        let tar = format!("| tar -C out/{id} -mx");
        let end = rest.find(&tar).expect("tar line");
        let words = shlex::split(&expand_make(&rest[start..end])).expect("shell words");
        assert_eq!(words[0], "build", "{id}");
        out.insert(id.to_string(), words[1..].to_vec());
        rest = &rest[end..];
    }
    out
}

#[test]
#[ignore = "needs STAGE0_MIRROR (the StageX snapshot) and python3"]
fn every_target_matches_targets_py() {
    let dir = tempfile::tempdir().unwrap();
    let stagex = dir.path().join("stagex");
    clone_stagex(&mirror(), &stagex);
    let py = Command::new("python3")
        .arg("src/targets.py")
        .current_dir(&stagex)
        .output()
        .expect("run python3 src/targets.py");
    assert!(
        py.status.success(),
        "targets.py: {}",
        String::from_utf8_lossy(&py.stderr)
    );
    let golden = recipes(&String::from_utf8(py.stdout).unwrap());
    let graph = Graph::load(&stagex).unwrap();
    let ours: Vec<&String> = graph.targets.keys().collect();
    let theirs: Vec<&String> = golden.keys().collect();
    assert_eq!(ours, theirs, "target sets differ");
    assert!(golden.len() > 500, "only {} targets", golden.len());
    let vars = MakeVars::default();
    let mut differ = Vec::new();
    let mut args = 0;
    for (id, want) in &golden {
        let got = build_argv(&graph.targets[id], &vars).unwrap();
        args += want.len();
        if &got != want {
            let at = got.iter().zip(want).position(|(a, b)| a != b);
            differ.push(format!(
                "{id}: first difference at {at:?}\n  ours   {got:?}\n  theirs {want:?}"
            ));
        }
    }
    eprintln!("{} targets, {args} arguments compared", golden.len());
    assert!(
        differ.is_empty(),
        "{} of {} targets differ:\n{}",
        differ.len(),
        golden.len(),
        differ.join("\n")
    );
}
