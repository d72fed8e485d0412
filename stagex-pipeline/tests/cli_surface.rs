//! The command line itself: `--version` everywhere, honest option names, completions and
//! the manual page.

use std::process::Command;

fn cli(args: &[&str]) -> (Option<i32>, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_stagex-pipeline"))
        .args(args)
        .output()
        .expect("runs");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn every_command_answers_version() {
    for cmd in [
        "",
        "graph",
        "fetch",
        "build",
        "plan",
        "load",
        "image",
        "completions",
        "man",
    ] {
        let args: Vec<&str> = [cmd, "--version"]
            .into_iter()
            .filter(|a| !a.is_empty())
            .collect();
        let (code, out, err) = cli(&args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        assert!(out.contains(env!("CARGO_PKG_VERSION")), "{args:?}: {out}");
    }
}

#[test]
fn load_names_its_input_oci_layout_and_documents_exit_codes() {
    let (code, out, _) = cli(&["load", "--help"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("--oci-layout <DIR>"), "{out}");
    assert!(!out.contains("--out "), "{out}");
    let (_, top, _) = cli(&["--help"]);
    assert!(top.contains("Exit status"), "{top}");
    assert!(
        top.contains("--quiet") && top.contains("--verbose"),
        "{top}"
    );
}

#[test]
fn completions_and_man_page() {
    let (code, bash, err) = cli(&["completions", "bash"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(bash.contains("--oci-layout"), "{bash}");
    let (code, man, err) = cli(&["man"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(man.contains(".TH stagex-pipeline"), "{man}");
}
