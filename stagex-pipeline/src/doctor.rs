//! Is a container engine here that can build StageX's Stage1-X? The checks of StageX's
//! `make compat` (`src/compat.sh`: Docker server and buildx versions, the containerd image
//! store), each with the fix for a miss.
//!
//! Two minimums per version: the one this tool needs (BuildKit's `oci-layout://` build
//! contexts and `rewrite-timestamp` exporter option arrived with dockerd 26 / buildx 0.13,
//! the versions its tests run on) is a failure; StageX's own, higher minimum is a warning.

use crate::engine::run_client;

/// Lowest dockerd this tool builds with.
pub const MIN_DOCKER: [u32; 3] = [26, 0, 0];
/// Lowest buildx this tool builds with.
pub const MIN_BUILDX: [u32; 3] = [0, 13, 0];
/// StageX's `MIN_DOCKER_VERSION` (`src/compat.sh`).
pub const STAGEX_MIN_DOCKER: [u32; 3] = [29, 1, 5];
/// StageX's `MIN_BUILDX_VERSION` (`src/compat.sh`).
pub const STAGEX_MIN_BUILDX: [u32; 3] = [0, 30, 1];

/// How to get a usable engine on Debian (what `scripts/engine-setup.sh` does).
pub const INSTALL_FIX: &str = "add Debian trixie as an apt source pinned at priority 100 \
(/etc/apt/preferences.d: Package: *, Pin: release n=trixie, Pin-Priority: 100), then \
`apt-get install -t trixie docker.io docker-buildx` (or run scripts/engine-setup.sh)";
/// How to turn on the containerd image store.
pub const SNAPSHOTTER_FIX: &str = "put {\"features\":{\"containerd-snapshotter\":true}} in \
/etc/docker/daemon.json and restart dockerd";

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Good.
    Ok,
    /// Works for this tool, below what StageX asks for.
    Warn,
    /// Builds cannot run.
    Fail,
}

/// One line of `doctor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked (`docker client`, `dockerd`, `buildx`, `image store`).
    pub what: &'static str,
    /// Outcome.
    pub status: Status,
    /// What was found.
    pub found: String,
    /// What to do about a miss (empty when ok).
    pub fix: String,
}

/// Versions of a usable engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineInfo {
    /// dockerd's version.
    pub server: String,
    /// buildx's version.
    pub buildx: String,
}

/// The numeric prefix of a version: `26.1.5+dfsg1` -> [26, 1, 5], `v0.13.1` -> [0, 13, 1].
pub fn parse_version(text: &str) -> Option<[u32; 3]> {
    let t = text.trim().trim_start_matches('v');
    let mut out = [0u32; 3];
    let mut parts = t.split('.');
    for (i, slot) in out.iter_mut().enumerate() {
        let Some(p) = parts.next() else {
            return (i > 0).then_some(out);
        };
        let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() {
            return (i > 0).then_some(out);
        }
        *slot = digits.parse().ok()?;
        if digits.len() != p.len() {
            break;
        }
    }
    Some(out)
}

/// The version token of `docker buildx version` (`github.com/docker/buildx v0.30.1 abc`).
pub fn buildx_version_token(output: &str) -> Option<&str> {
    output.split_whitespace().nth(1)
}

fn dotted(v: [u32; 3]) -> String {
    format!("{}.{}.{}", v[0], v[1], v[2])
}

fn version_check(
    what: &'static str,
    found: &str,
    need: [u32; 3],
    stagex: [u32; 3],
    fix: &str,
) -> Check {
    let (status, fix) = match parse_version(found) {
        None => (Status::Fail, format!("unreadable version; {fix}")),
        Some(v) if v < need => (
            Status::Fail,
            format!("this tool needs >= {}: {fix}", dotted(need)),
        ),
        Some(v) if v < stagex => (
            Status::Warn,
            format!(
                "StageX's `make compat` asks for >= {}; this tool builds with >= {}",
                dotted(stagex),
                dotted(need)
            ),
        ),
        Some(_) => (Status::Ok, String::new()),
    };
    Check {
        what,
        status,
        found: found.to_string(),
        fix,
    }
}

/// Runs every check with `client` (a docker CLI); later checks are skipped once an earlier
/// one makes them meaningless (no client, no daemon).
pub fn doctor(client: &str) -> Vec<Check> {
    let mut checks = Vec::new();
    let client_version = match run_client(client, &["version", "-f", "{{.Client.Version}}"]) {
        Ok(v) => v,
        Err(e) if e.contains("No such file") || e.contains("not found") => {
            checks.push(Check {
                what: "docker client",
                status: Status::Fail,
                found: format!("`{client}` not runnable ({e})"),
                fix: format!("install a docker CLI: {INSTALL_FIX}"),
            });
            return checks;
        }
        // A client that cannot reach its daemon still prints its own version on stdout,
        // but exits non-zero: the daemon check below names the real problem.
        Err(_) => String::from("?"),
    };
    checks.push(Check {
        what: "docker client",
        status: Status::Ok,
        found: format!("{client} {client_version}"),
        fix: String::new(),
    });
    match run_client(client, &["version", "-f", "{{.Server.Version}}"]) {
        Ok(v) => checks.push(version_check(
            "dockerd",
            &v,
            MIN_DOCKER,
            STAGEX_MIN_DOCKER,
            INSTALL_FIX,
        )),
        Err(e) => {
            checks.push(Check {
                what: "dockerd",
                status: Status::Fail,
                found: format!("no daemon answers ({e})"),
                fix: format!(
                    "start dockerd (scripts/engine-setup.sh does), or point DOCKER_HOST at one; \
                     if none is installed: {INSTALL_FIX}"
                ),
            });
            return checks;
        }
    }
    match run_client(client, &["buildx", "version"]) {
        Ok(out) => {
            let v = buildx_version_token(&out).unwrap_or("");
            checks.push(version_check(
                "buildx",
                v,
                MIN_BUILDX,
                STAGEX_MIN_BUILDX,
                INSTALL_FIX,
            ));
        }
        Err(e) => checks.push(Check {
            what: "buildx",
            status: Status::Fail,
            found: format!("`{client} buildx` fails ({e})"),
            fix: INSTALL_FIX.to_string(),
        }),
    }
    let status = run_client(client, &["info", "-f", "{{.DriverStatus}}"]).unwrap_or_default();
    checks.push(if status.contains("io.containerd.snapshotter.v1") {
        Check {
            what: "image store",
            status: Status::Ok,
            found: "containerd snapshotter".into(),
            fix: String::new(),
        }
    } else {
        Check {
            what: "image store",
            status: Status::Fail,
            found: format!("not containerd (DriverStatus {status})"),
            fix: SNAPSHOTTER_FIX.to_string(),
        }
    });
    checks
}

/// The checks of [`doctor`] that failed: the engine cannot build StageX as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineNotReady(pub Vec<Check>);

impl std::fmt::Display for EngineNotReady {
    /// One failed check per line, with its fix.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, c) in self.0.iter().enumerate() {
            let sep = if i == 0 { "" } else { "\n" };
            write!(f, "{sep}{}: {}; fix: {}", c.what, c.found, c.fix)?;
        }
        Ok(())
    }
}

impl std::error::Error for EngineNotReady {}

/// The engine's versions when every check passes (warnings allowed), else the failed checks.
pub fn require_engine(client: &str) -> Result<EngineInfo, EngineNotReady> {
    let checks = doctor(client);
    let failed: Vec<Check> = checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .cloned()
        .collect();
    if !failed.is_empty() {
        return Err(EngineNotReady(failed));
    }
    let found = |w: &str| {
        checks
            .iter()
            .find(|c| c.what == w)
            .map(|c| c.found.clone())
            .unwrap_or_default()
    };
    Ok(EngineInfo {
        server: found("dockerd"),
        buildx: found("buildx"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn fake_client(dir: &Path, name: &str, script: &str) -> String {
        crate::engine::fake_client_at(&dir.join(name), script)
    }

    #[test]
    fn versions_parse_like_compat_sh() {
        assert_eq!(parse_version("26.1.5+dfsg1"), Some([26, 1, 5]));
        assert_eq!(parse_version("v0.13.1"), Some([0, 13, 1]));
        assert_eq!(parse_version("0.13.1+ds1"), Some([0, 13, 1]));
        assert_eq!(parse_version("29.1"), Some([29, 1, 0]));
        assert_eq!(parse_version("dev"), None);
        assert_eq!(
            buildx_version_token("github.com/docker/buildx 0.13.1+ds1 0.13.1+ds1-3"),
            Some("0.13.1+ds1")
        );
    }

    #[test]
    fn each_miss_has_its_fix() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none").display().to_string();
        let c = doctor(&missing);
        assert_eq!((c.len(), c[0].status), (1, Status::Fail));
        assert!(c[0].fix.contains("docker-buildx"), "{c:?}");

        let no_daemon = fake_client(
            dir.path(),
            "nodaemon",
            "case \"$3\" in *Client*) echo 28.2.2;; *) echo 'Cannot connect to the Docker daemon' >&2; exit 1;; esac",
        );
        let c = doctor(&no_daemon);
        assert_eq!(c[1].what, "dockerd");
        assert_eq!(c[1].status, Status::Fail);
        assert!(c[1].found.contains("Cannot connect"), "{c:?}");

        let old = fake_client(
            dir.path(),
            "old",
            "case \"$1$3\" in version*Client*) echo 28.2.2;; version*) echo 20.10.24;; buildx*) echo 'github.com/docker/buildx 0.10.4 x';; info*) echo '[[Backing Filesystem extfs]]';; esac",
        );
        let c = doctor(&old);
        let st: Vec<_> = c.iter().map(|c| (c.what, c.status)).collect();
        assert_eq!(
            st,
            [
                ("docker client", Status::Ok),
                ("dockerd", Status::Fail),
                ("buildx", Status::Fail),
                ("image store", Status::Fail)
            ]
        );
        assert!(c[3].fix.contains("containerd-snapshotter"));
        let e = require_engine(&old).unwrap_err();
        assert_eq!(e.0.len(), 3, "{e}");
        assert_eq!(e.to_string().lines().count(), 3, "{e}");

        let debian = fake_client(
            dir.path(),
            "debian",
            "case \"$1$3\" in version*Client*) echo 28.2.2;; version*) echo 26.1.5+dfsg1;; buildx*) echo 'github.com/docker/buildx 0.13.1+ds1 0.13.1+ds1-3';; info*) echo '[[driver-type io.containerd.snapshotter.v1]]';; esac",
        );
        let c = doctor(&debian);
        assert_eq!(c[1].status, Status::Warn);
        assert!(c[1].fix.contains("29.1.5"));
        assert_eq!(
            require_engine(&debian).unwrap(),
            EngineInfo {
                server: "26.1.5+dfsg1".into(),
                buildx: "0.13.1+ds1".into()
            }
        );
    }
}
