//! Runs a Containerfile's build stages natively on this host, rooted at a scratch copy
//! of the stage's filesystem (`chroot`), the way BuildKit would run them in a container:
//! `WORKDIR`, `ENV`, exec-form `RUN`, and `COPY <<EOF` heredocs. `COPY --from`/`ADD`
//! lines must already be reflected in the root (a StageX layout such as STAGEX_ROOT).
//! Needs root (chroot) and a host that executes the stage's binaries.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::buildkit::DEFAULT_PATH_ENV;
use crate::containerfile::Stage;
use crate::error::{Error, Result};

/// What one executed step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepLog {
    /// Containerfile line.
    pub line: usize,
    /// The action, e.g. `RUN /hex0-seed ...` or `write /build/kaem.x86`.
    pub action: String,
}

fn in_root(root: &Path, abs: &str) -> PathBuf {
    root.join(abs.trim_start_matches('/'))
}

fn join_stage_path(cwd: &str, p: &str) -> String {
    if p.starts_with('/') {
        p.to_string()
    } else {
        format!("{}/{}", cwd.trim_end_matches('/'), p)
    }
}

/// Runs `argv` chrooted into `root` with working directory `cwd` and exactly `env`.
fn run_chrooted(root: &Path, cwd: &str, argv: &[String], env: &[(String, String)]) -> Result<()> {
    let shown = argv.join(" ");
    let cmd_err = |message: String| Error::Command {
        command: shown.clone(),
        message,
    };
    let c_root = CString::new(root.as_os_str().as_bytes()).map_err(|e| cmd_err(e.to_string()))?;
    let c_cwd = CString::new(cwd).map_err(|e| cmd_err(e.to_string()))?;
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)));
    // SAFETY: only async-signal-safe libc calls on pre-built C strings run after fork.
    unsafe {
        cmd.pre_exec(move || {
            if libc::chroot(c_root.as_ptr()) != 0 || libc::chdir(c_cwd.as_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().map_err(|e| cmd_err(e.to_string()))?;
    if !out.status.success() {
        let tail: String = String::from_utf8_lossy(&out.stderr)
            .lines()
            .rev()
            .take(5)
            .collect::<Vec<_>>()
            .join(" | ");
        return Err(cmd_err(format!("{} (stderr tail: {tail})", out.status)));
    }
    Ok(())
}

/// Executes `stage`'s steps in `root`. Returns what was done, in order.
pub fn run_stage(root: &Path, stage: &Stage) -> Result<Vec<StepLog>> {
    let mut cwd = "/".to_string();
    let mut env: Vec<(String, String)> =
        vec![("PATH".into(), DEFAULT_PATH_ENV["PATH=".len()..].to_string())];
    let mut log = Vec::new();
    for inst in &stage.instructions {
        let unsupported = |why: &str| Error::Containerfile {
            path: PathBuf::from("Containerfile"),
            line: inst.line,
            message: format!("{} cannot run natively: {why}", inst.keyword),
        };
        match inst.keyword.as_str() {
            "ARG" => {}
            "WORKDIR" => {
                let dir = inst
                    .args
                    .first()
                    .ok_or_else(|| unsupported("no directory"))?;
                cwd = join_stage_path(&cwd, dir);
                let host = in_root(root, &cwd);
                std::fs::create_dir_all(&host).map_err(|e| Error::io(&host, e))?;
            }
            "ENV" => {
                for pair in &inst.args {
                    let (k, v) = pair
                        .split_once('=')
                        .ok_or_else(|| unsupported("only ENV K=V is supported"))?;
                    env.retain(|(ek, _)| ek != k);
                    env.push((k.to_string(), v.trim_matches('"').to_string()));
                }
            }
            "RUN" => {
                let argv = inst
                    .exec_form()
                    .filter(|a| !a.is_empty())
                    .ok_or_else(|| unsupported("only exec form is supported"))?;
                run_chrooted(root, &cwd, &argv, &env)?;
                log.push(StepLog {
                    line: inst.line,
                    action: format!("RUN {}", argv.join(" ")),
                });
            }
            "COPY" if inst.heredoc.is_some() => {
                let body = &inst
                    .heredoc
                    .as_ref()
                    .map(|h| h.body.clone())
                    .unwrap_or_default();
                let dest = inst
                    .args
                    .last()
                    .ok_or_else(|| unsupported("no destination"))?;
                let target = join_stage_path(&cwd, dest);
                let host = in_root(root, &target);
                std::fs::write(&host, body).map_err(|e| Error::io(&host, e))?;
                log.push(StepLog {
                    line: inst.line,
                    action: format!("write {target}"),
                });
            }
            "COPY" | "ADD" => {
                // Already laid out in the root; check the destination exists.
                let dest = inst
                    .args
                    .last()
                    .ok_or_else(|| unsupported("no destination"))?;
                let host = in_root(root, &join_stage_path(&cwd, dest));
                if !host.exists() {
                    return Err(unsupported(&format!(
                        "{} is missing from the prepared root",
                        host.display()
                    )));
                }
            }
            _ => return Err(unsupported("instruction not supported")),
        }
    }
    Ok(log)
}
