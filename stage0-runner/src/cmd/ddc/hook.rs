//! The exec hook of a DDC run: which programs run as a substitute, and running them.
//!
//! Rust substitutes are the `seed` crate's tools, run against the sandbox through
//! [`GuestIo`]. Host-compiled substitutes run as host processes in the sandbox's host
//! directory; their outputs (`-o`/`--output`) are recorded after they exit.

use std::path::PathBuf;
use std::process::Command;

use vm::exec_hook::{ExecHook, ExecRequest, GuestIo};
use vm::ExitStatus;

use super::hostcc::HostToolchain;

/// Host-compiled programs that may replace the chain's. kaem is built but never
/// substituted: its children are the chain itself and would leave the sandbox.
const HOST_SUBSTITUTES: [&str; 5] = ["M2-Planet", "M2-Mesoplanet", "M1", "hex2", "blood-elf"];

/// Where the chain installs the C-level tools (guest path).
const BIN_DIR: &str = "/x86/bin/";

/// The substitutes of one DDC run.
pub struct Substitutes {
    /// Use the Rust seed tools.
    pub rust: bool,
    /// Use these host-compiled tools (they win over Rust where both apply).
    pub host: Option<HostToolchain>,
}

impl Substitutes {
    fn host_tool(&self, exe: &str) -> Option<(&str, PathBuf)> {
        let name = exe.strip_prefix(BIN_DIR)?;
        let host = self.host.as_ref()?;
        if !HOST_SUBSTITUTES.contains(&name) {
            return None;
        }
        let (name, path) = host.tools.get_key_value(name)?;
        Some((name.as_str(), path.clone()))
    }
}

impl ExecHook for Substitutes {
    fn substitute_for(&mut self, req: &ExecRequest) -> Option<String> {
        if let Some((name, _)) = self.host_tool(&req.exe) {
            return Some(format!("host-cc {name}"));
        }
        if self.rust {
            return seed::tool_for_program(&req.exe).map(|t| format!("rust {t}"));
        }
        None
    }

    fn run(&mut self, req: &ExecRequest, io: &mut GuestIo<'_>) -> ExitStatus {
        let result = match self.host_tool(&req.exe) {
            Some((_, exe)) => {
                let dir = self
                    .host
                    .as_ref()
                    .map(|h| h.dir.clone())
                    .unwrap_or_default();
                run_host(&exe, &dir, req, io)
            }
            None => run_rust(req, io),
        };
        match result {
            Ok(status) => status,
            Err(message) => {
                let _ =
                    io.stderr(format!("stage0-runner ddc: {}: {message}\n", req.exe).as_bytes());
                ExitStatus::Code(1)
            }
        }
    }
}

/// [`seed::SeedFs`] over the sandbox.
struct SandboxFs<'a, 'k>(&'a mut GuestIo<'k>);

impl seed::SeedFs for SandboxFs<'_, '_> {
    fn read(&mut self, path: &str) -> std::io::Result<Vec<u8>> {
        self.0.read(path)
    }
    fn write(&mut self, path: &str, data: &[u8], mode: u32) -> std::io::Result<()> {
        self.0.write(path, data, mode)
    }
    fn stdout(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.0.stdout(data)
    }
    fn stderr(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.0.stderr(data)
    }
}

fn run_rust(req: &ExecRequest, io: &mut GuestIo<'_>) -> Result<ExitStatus, String> {
    let tool = seed::tool_for_program(&req.exe).ok_or("no Rust tool for this program")?;
    let args = req.argv.get(1..).unwrap_or(&[]);
    let code = seed::run_tool(tool, args, &mut SandboxFs(io)).map_err(|e| e.to_string())?;
    Ok(ExitStatus::Code(code as u8))
}

/// The output files named on a mescc-tools / M2 command line.
fn outputs(argv: &[String]) -> Vec<&str> {
    argv.windows(2)
        .filter(|w| w[0] == "-o" || w[0] == "--output")
        .map(|w| w[1].as_str())
        .collect()
}

fn run_host(
    exe: &PathBuf,
    tool_dir: &PathBuf,
    req: &ExecRequest,
    io: &mut GuestIo<'_>,
) -> Result<ExitStatus, String> {
    let mut cmd = Command::new(exe);
    cmd.args(req.argv.get(1..).unwrap_or(&[]))
        .current_dir(io.host_cwd())
        .env_clear();
    for kv in &req.env {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        // M2-Mesoplanet finds M1, hex2 and blood-elf through PATH: the host-compiled ones.
        if k == "PATH" {
            cmd.env(k, tool_dir);
        } else {
            cmd.env(k, v);
        }
    }
    let out = cmd
        .output()
        .map_err(|e| format!("running {}: {e}", exe.display()))?;
    io.stdout(&out.stdout).map_err(|e| e.to_string())?;
    io.stderr(&out.stderr).map_err(|e| e.to_string())?;
    for path in outputs(&req.argv) {
        if io.note_host_write(path).is_err() && out.status.success() {
            return Err(format!("succeeded but wrote no {path}"));
        }
    }
    Ok(exit_status(out.status))
}

fn exit_status(s: std::process::ExitStatus) -> ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => ExitStatus::Code(c as u8),
        (None, Some(sig)) => ExitStatus::Signal(sig as u8),
        (None, None) => ExitStatus::Code(1),
    }
}
