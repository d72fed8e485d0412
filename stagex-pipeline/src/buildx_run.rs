//! Runs one StageX target's `docker buildx build` (the Makefile's arguments, see
//! [`crate::buildx_args`]) on a chosen builder, unpacks the OCI tarball it writes on stdout
//! into a temporary directory, and renames that to `OUT/<target>` only on success. A failed
//! build is explained from its log: the failing instruction and what to do about it.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use crate::buildx_args::{build_argv, MakeVars};
use crate::engine::MAKE_ENV;
use crate::error::{Error, Result};
use crate::graph::Target;

/// Where and how one target is built.
#[derive(Debug, Clone)]
pub struct BuildxJob<'a> {
    /// The docker CLI.
    pub client: &'a str,
    /// `--builder` (None: the client's current builder).
    pub builder: Option<&'a str>,
    /// The StageX checkout (the command's working directory).
    pub stagex: &'a Path,
    /// Output root: dependencies are read from and the result written to `OUT/<id>`.
    pub out: &'a Path,
    /// Makefile variables (progress, platform).
    pub vars: MakeVars,
    /// Also copy the builder's log lines to stderr, prefixed with the target.
    pub echo: bool,
}

/// Serialises echoed log lines of parallel builds.
static ECHO: Mutex<()> = Mutex::new(());

/// The Makefile's preparation (`mkdir -p fetch/...; rm -rf packages/.../fetch; cp -lR ...`):
/// the package directory gets hard links to the fetched sources.
pub fn prepare_fetch(stagex: &Path, t: &Target) -> Result<()> {
    let origin = &t.package.package.name;
    let fetch = stagex.join("fetch").join(&t.stage).join(origin);
    std::fs::create_dir_all(&fetch).map_err(|e| Error::io(&fetch, e))?;
    let linked = t.dir(stagex).join("fetch");
    if linked.exists() {
        std::fs::remove_dir_all(&linked).map_err(|e| Error::io(&linked, e))?;
    }
    std::fs::create_dir_all(&linked).map_err(|e| Error::io(&linked, e))?;
    for entry in std::fs::read_dir(&fetch).map_err(|e| Error::io(&fetch, e))? {
        let entry = entry.map_err(|e| Error::io(&fetch, e))?;
        let name = entry.file_name();
        if name.to_string_lossy().ends_with(".partial") || !entry.path().is_file() {
            continue;
        }
        let to = linked.join(&name);
        std::fs::hard_link(entry.path(), &to)
            .or_else(|_| std::fs::copy(entry.path(), &to).map(|_| ()))
            .map_err(|e| Error::io(&to, e))?;
    }
    Ok(())
}

/// Whether `name` is a docker context (a daemon the client knows) rather than a buildx
/// builder (`docker buildx create`, remote, kubernetes).
pub fn is_docker_context(client: &str, name: &str) -> bool {
    Command::new(client)
        .args(["context", "inspect", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The log line that says why BuildKit stopped, and the fix to suggest for it.
pub fn explain_failure(log: &str) -> (String, &'static str) {
    let lines: Vec<&str> = log.lines().map(str::trim).collect();
    let reason = lines
        .iter()
        .rev()
        .find(|l| l.contains("did not complete successfully"))
        .or_else(|| lines.iter().rev().find(|l| l.starts_with("ERROR:")))
        .or_else(|| lines.iter().rev().find(|l| !l.is_empty()))
        .map(|l| l.to_string())
        .unwrap_or_else(|| "no output".into());
    // The failing step's last output lines (`#N <secs> text`), which usually say why.
    let step = lines
        .iter()
        .rev()
        .find(|l| l.starts_with('#') && l.contains(" ERROR: "))
        .and_then(|l| l.split_once(' '))
        .map(|(n, _)| format!("{n} "));
    let reason = match step {
        Some(n) => {
            let out: Vec<&str> = lines
                .iter()
                .filter(|l| l.starts_with(&n))
                .filter_map(|l| l[n.len()..].split_once(' '))
                .filter(|(secs, _)| secs.parse::<f64>().is_ok())
                .map(|(_, text)| text)
                .collect();
            let tail = &out[out.len().saturating_sub(3)..];
            if tail.is_empty() {
                reason
            } else {
                format!("{reason}; its last output: {}", tail.join(" / "))
            }
        }
        None => reason,
    };
    let fix = if reason.contains("did not complete successfully") {
        "a RUN step failed: read the build log for its output; when the step needs a source \
         named as missing, provide it (--tarballs DIR or --mirrors)"
    } else if reason.contains("oci-layout") || reason.contains("stagex/") {
        "a dependency's OCI layout is missing or unreadable: build the dependency first \
         (it is in the target's plan) or delete OUT/<dependency> to rebuild it"
    } else if reason.contains("no builder") || reason.contains("builder") {
        "the --builder is unknown: `docker buildx ls` lists the builders"
    } else if reason.contains("fetch/") || reason.contains("not found") {
        "a file the Containerfile copies is absent: fetch the package's sources first"
    } else {
        "read the build log; `stagex-pipeline doctor` checks the engine"
    };
    (reason, fix)
}

/// Runs the build of `t` and returns the path it was written to (`OUT/<id>`).
pub fn run_build(job: &BuildxJob, t: &Target) -> Result<PathBuf> {
    let id = t.id();
    let mut vars = job.vars.clone();
    vars.out = job.out.display().to_string();
    let argv = build_argv(t, &vars)?;
    let logs = job.out.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| Error::io(&logs, e))?;
    let log_path = logs.join(format!("{id}.log"));
    let tmp = job.out.join(format!(".partial-{id}"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;

    let mut cmd = Command::new(job.client);
    let builder_args: Vec<String> = match job.builder {
        // buildx refuses `--builder` for another context's docker driver ("use `docker
        // --context=X buildx`"), so a docker context is selected the way it asks.
        Some(b) if is_docker_context(job.client, b) => vec!["--context".into(), b.into()],
        _ => vec![],
    };
    cmd.args(&builder_args).arg("buildx").arg("build");
    if let (Some(b), true) = (job.builder, builder_args.is_empty()) {
        cmd.args(["--builder", b]);
    }
    cmd.args(&argv)
        .current_dir(job.stagex)
        .envs(MAKE_ENV.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let shown = format!(
        "{} buildx build{} {}",
        job.client,
        job.builder
            .map(|b| format!(" --builder {b}"))
            .unwrap_or_default(),
        argv.join(" ")
    );
    let mut child = cmd.spawn().map_err(|e| Error::Command {
        command: shown.clone(),
        message: e.to_string(),
    })?;
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let echo = job.echo;
    let log_file = std::fs::File::create(&log_path).map_err(|e| Error::io(&log_path, e))?;
    writeln!(&log_file, "+ {shown}").map_err(|e| Error::io(&log_path, e))?;
    let id_for_log = id.clone();
    let logger = std::thread::spawn(move || -> String {
        let mut all = String::new();
        let mut f = log_file;
        for line in BufReader::new(stderr).lines().map_while(|l| l.ok()) {
            let _ = writeln!(f, "{line}");
            if echo {
                let _g = ECHO.lock();
                eprintln!("{id_for_log} | {line}");
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    // Read stdout to its end: tar stops at the end-of-archive blocks, and closing the pipe
    // while the engine still writes the record's padding makes it exit 255.
    let mut archive = tar::Archive::new(stdout);
    let unpacked = archive.unpack(&tmp);
    let _ = std::io::copy(&mut archive.into_inner(), &mut std::io::sink());
    let status = child.wait().map_err(|e| Error::Command {
        command: shown.clone(),
        message: e.to_string(),
    })?;
    let log = logger.join().unwrap_or_default();
    let failed = |what: String, fix: &str| {
        let _ = std::fs::remove_dir_all(&tmp);
        Error::EngineBuild {
            target: id.clone(),
            what,
            fix: fix.to_string(),
            log: log_path.clone(),
        }
    };
    if !status.success() {
        let (reason, fix) = explain_failure(&log);
        // When unpacking stopped first, the engine only saw its stdout close.
        let unpack = match &unpacked {
            Err(e) => format!(" (unpacking its output failed first: {e})"),
            Ok(()) => String::new(),
        };
        return Err(failed(format!("{status}: {reason}{unpack}"), fix));
    }
    if let Err(e) = unpacked {
        return Err(failed(
            format!("its OCI tarball could not be unpacked: {e}"),
            "read the build log; the engine's `--output type=oci,tar=true,dest=-` must be supported (buildx >= 0.13)",
        ));
    }
    if !tmp.join("index.json").is_file() {
        return Err(failed(
            "the engine wrote no index.json".into(),
            "read the build log",
        ));
    }
    let dest = job.out.join(&id);
    if dest.exists() {
        std::fs::remove_dir_all(&dest).map_err(|e| Error::io(&dest, e))?;
    }
    std::fs::rename(&tmp, &dest).map_err(|e| Error::io(&dest, e))?;
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_run_is_named() {
        let log = "#5 [2/2] RUN [\"/fail\"]\n#5 0.102 step output\n#5 ERROR: process \"/fail\" did not complete successfully: exit code: 3\n------\nERROR: failed to solve: process \"/fail\" did not complete successfully: exit code: 3\n";
        let (reason, fix) = explain_failure(log);
        assert!(reason.contains("\"/fail\"") && reason.contains("exit code: 3"));
        assert!(
            reason.ends_with("; its last output: step output"),
            "{reason}"
        );
        assert!(fix.starts_with("a RUN step failed"));
        let (reason, fix) = explain_failure("ERROR: no builder \"x\" found\n");
        assert_eq!(reason, "ERROR: no builder \"x\" found");
        assert!(fix.contains("buildx ls"));
    }
}
