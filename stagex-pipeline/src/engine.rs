//! Handing built images to a container engine for the rest of StageX: the build order of a
//! target's dependency closure, the exact shell commands StageX's Makefile runs for a
//! target (`src/targets.py`'s recipe) and for importing an image (`src/macros.mk`), and
//! detecting whether a usable engine (Docker + buildx + containerd image store) is here.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use crate::build_args::{target_build_args, COMMON_BUILD_ARGS};
use crate::error::{Error, Result};
use crate::graph::{Graph, Target};

/// What an engine needs, for messages (versions from StageX's `src/compat.sh`).
pub const ENGINE_HELP: &str = "StageX builds Stage1-X with Docker Engine + buildx and the \
containerd image store: install docker.io and docker-buildx (Debian trixie; StageX's \
src/compat.sh asks for docker >= 29.1.5, buildx >= 0.30.1), enable \
{\"features\": {\"containerd-snapshotter\": true}} in /etc/docker/daemon.json, and run dockerd \
(it needs root or rootless user namespaces, cgroups and overlay mounts)";

/// The dependency closure of `target` (itself included) as `(level, targets)`, lowest
/// level first: every group can be built once the groups before it are.
pub fn build_plan(graph: &Graph, target: &str) -> Result<Vec<(usize, Vec<String>)>> {
    if !graph.targets.contains_key(target) {
        return Err(Error::Tree(format!("no target {target}")));
    }
    let levels = graph.levels()?;
    let mut closure = BTreeSet::new();
    let mut todo = vec![target.to_string()];
    while let Some(id) = todo.pop() {
        if !closure.insert(id.clone()) {
            continue;
        }
        todo.extend(
            graph.targets[&id]
                .deps
                .iter()
                .filter(|d| graph.targets.contains_key(*d))
                .cloned(),
        );
    }
    let mut plan: Vec<(usize, Vec<String>)> = Vec::new();
    for id in closure {
        let l = levels[&id];
        match plan.iter_mut().find(|(pl, _)| *pl == l) {
            Some((_, ids)) => ids.push(id),
            None => plan.push((l, vec![id])),
        }
    }
    plan.sort();
    Ok(plan)
}

/// Targets not in `built` whose dependencies are all in `built`, sorted.
pub fn ready_targets(graph: &Graph, built: &BTreeSet<String>) -> Vec<String> {
    graph
        .targets
        .iter()
        .filter(|(id, t)| {
            !built.contains(*id) && !t.deps.is_empty() && t.deps.iter().all(|d| built.contains(d))
        })
        .map(|(id, _)| id.clone())
        .collect()
}

/// `{origin}` of targets.py: the package.toml name (subpackages are built from it).
fn make_origin(t: &Target) -> &str {
    &t.package.package.name
}

/// The Makefile recipe of `out/<target>/index.json` as the shell runs it, with
/// `BUILDER=docker`, `PROGRESS=auto` and no `EXTRA_ARGS`, `NOCACHE` or `CHECK`; run it
/// from the StageX checkout with the Makefile's exports (see [`MAKE_ENV`]).
pub fn make_recipe(t: &Target) -> Result<String> {
    let (stage, name, origin) = (&t.stage, &t.name, make_origin(t));
    let id = t.id();
    let version = t.version.as_deref().unwrap_or("latest");
    let platform = if t.package.package.platforms.is_empty() {
        "linux/amd64".to_string()
    } else {
        t.package.package.platforms.join(",")
    };
    let mut lines = vec![
        format!("rm -rf out/{id} &&"),
        format!("mkdir -p out/{id} &&"),
        format!("mkdir -p fetch/{stage}/{origin} &&"),
        format!("python3 src/fetch.py {origin} &&"),
        format!(" rm -rf packages/{stage}/{origin}/fetch &&"),
        format!(" mkdir -p packages/{stage}/{origin}/fetch &&"),
        format!(" ( [ -z \"$(ls -A fetch/{stage}/{origin})\" ] ||"),
        format!("   cp -lR fetch/{stage}/{origin}/* packages/{stage}/{origin}/fetch ) &&"),
        "docker".to_string(),
        "  build".to_string(),
        "  --ulimit nofile=2048:16384".to_string(),
        format!("  --tag stagex/{id}:{version}"),
        "  --provenance=false".to_string(),
    ];
    for (k, v) in COMMON_BUILD_ARGS {
        let arg = format!("{k}={v}");
        lines.push(if arg.contains(';') {
            format!("  --build-arg \"{arg}\"")
        } else {
            format!("  --build-arg {arg}")
        });
    }
    lines.push("  --output".into());
    lines.push(format!(
        "    name={id},type=oci,rewrite-timestamp=true,force-compression=true,\
annotation.containerd.io/distribution.source.docker.io=stagex/{id},\
annotation.org.opencontainers.image.version={version},\
annotation.org.opencontainers.image.created=1970-01-01T00:00:01Z,tar=true,dest=-"
    ));
    lines.push(format!("  --build-context fetch=fetch/{stage}/{origin}"));
    for dep in &t.deps {
        lines.push(format!(
            "  --build-context stagex/{dep}=oci-layout://./out/{dep}"
        ));
    }
    if !t.package.package.subpackages.is_empty() {
        lines.push(format!("  --target package-{name}"));
    }
    for (k, v) in target_build_args(t)? {
        lines.push(format!("  --build-arg {k}={v}"));
    }
    lines.push(format!("  --platform={platform}"));
    lines.push("  --progress=auto".into());
    lines.push(format!("  -f packages/{stage}/{origin}/Containerfile"));
    lines.push(format!("  packages/{stage}/{origin}"));
    lines.push(format!("| tar -C out/{id} -mx"));
    let last = lines.len() - 1;
    Ok(lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i < last {
                format!("{l} \\\n")
            } else {
                l.clone()
            }
        })
        .collect())
}

/// Environment the Makefile exports to every recipe (`src/global.mk`).
pub const MAKE_ENV: &[(&str, &str)] = &[
    ("TZ", "UTC"),
    ("LANG", "C.UTF-8"),
    ("LC_ALL", "C"),
    ("SOURCE_DATE_EPOCH", "1"),
    ("BUILDKIT_MULTI_PLATFORM", "1"),
    ("DOCKER_BUILDKIT", "1"),
];

/// `make import-<target>` (`src/macros.mk`): load the OCI layout in `out/<target>` into
/// the engine and tag it `:local`.
pub fn import_commands(t: &Target) -> Vec<String> {
    let id = t.id();
    let version = t.version.as_deref().unwrap_or("latest");
    vec![
        format!("tar -C out/{id} -cf - . | docker load"),
        format!("docker tag stagex/{id}:{version} stagex/{id}:local"),
    ]
}

/// Why no usable engine is here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineProblem {
    /// No `docker` client on PATH.
    #[error("no `{0}` client on PATH. {ENGINE_HELP}")]
    NoClient(String),
    /// The client cannot reach a daemon.
    #[error("`{client} version` reaches no Docker daemon ({detail}). {ENGINE_HELP}")]
    NoDaemon {
        /// The client used.
        client: String,
        /// What the client said.
        detail: String,
    },
    /// The buildx plugin is missing.
    #[error("`{client} buildx version` failed ({detail}). {ENGINE_HELP}")]
    NoBuildx {
        /// The client used.
        client: String,
        /// What the client said.
        detail: String,
    },
    /// The daemon stores images without containerd (no OCI export with the docker driver).
    #[error("the Docker daemon does not use the containerd image store (DriverStatus: {0}). {ENGINE_HELP}")]
    NoContainerdStore(String),
}

/// The engine found: server and buildx versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engine {
    /// `docker version -f {{.Server.Version}}`.
    pub server: String,
    /// `docker buildx version`.
    pub buildx: String,
}

/// Runs `client ARGS`: its trimmed stdout, or its exit status and first stderr line.
pub(crate) fn run_client(client: &str, args: &[&str]) -> std::result::Result<String, String> {
    match Command::new(client).args(args).output() {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).trim().to_string()),
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            Err(format!("{}: {}", o.status, first.trim()))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Checks for the engine StageX needs, as `src/compat.sh` does, using `client`.
pub fn detect_engine(client: &str) -> std::result::Result<Engine, EngineProblem> {
    let on_path = Path::new(client).is_file()
        || std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(client).is_file()));
    if !on_path {
        return Err(EngineProblem::NoClient(client.to_string()));
    }
    let server =
        run_client(client, &["version", "-f", "{{.Server.Version}}"]).map_err(|detail| {
            EngineProblem::NoDaemon {
                client: client.to_string(),
                detail,
            }
        })?;
    let buildx =
        run_client(client, &["buildx", "version"]).map_err(|detail| EngineProblem::NoBuildx {
            client: client.to_string(),
            detail,
        })?;
    let status = run_client(client, &["info", "-f", "{{.DriverStatus}}"]).unwrap_or_default();
    if !status.contains("io.containerd.snapshotter.v1") {
        return Err(EngineProblem::NoContainerdStore(status));
    }
    Ok(Engine { server, buildx })
}

/// Writes an executable shell script at `path` standing in for a container client (tests
/// of this module and of `doctor`), and returns its path once it can be executed.
///
/// Another test thread that forks while this one holds the file open for writing keeps a
/// copy of that descriptor until its child execs, and executing the script meanwhile fails
/// with ETXTBSY; the descriptor is gone from this process once the write returns, so the
/// wait is short and, once over, cannot come back.
#[cfg(test)]
pub(crate) fn fake_client_at(path: &Path, script: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    for _ in 0..2000 {
        match Command::new(path).output() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(std::time::Duration::from_millis(1))
            }
            Err(e) => panic!("{}: {e}", path.display()),
            Ok(_) => return path.display().to_string(),
        }
    }
    panic!("{}: still busy (ETXTBSY) after 2 s", path.display());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shell script standing in for `docker`, under a fresh name in `dir`.
    fn fake_client(dir: &Path, script: &str) -> String {
        let n = std::fs::read_dir(dir).unwrap().count();
        fake_client_at(&dir.join(format!("docker{n}")), script)
    }

    fn target(stage: &str, name: &str, toml: &str, deps: &[&str]) -> (String, Target) {
        let package = crate::package::PackageToml::parse(toml, Path::new("p.toml")).unwrap();
        let t = Target {
            stage: stage.into(),
            name: name.into(),
            origin: package.package.name.clone(),
            version: package.package.version.clone(),
            deps: deps.iter().map(|d| d.to_string()).collect(),
            package,
        };
        (t.id(), t)
    }

    #[test]
    fn subpackage_recipe_and_closure_order() {
        let libs = "[package]\nname = \"gcc\"\nversion = \"1.2\"\nsubpackages = [\"libgcc\"]\n";
        let graph = Graph {
            targets: [
                target("bootstrap", "stage0", "[package]\nname = \"stage0\"\n", &[]),
                target(
                    "core",
                    "libgcc",
                    libs,
                    &["bootstrap-stage0", "bootstrap-stage0"],
                ),
                target(
                    "core",
                    "unrelated",
                    "[package]\nname = \"unrelated\"\n",
                    &[],
                ),
            ]
            .into_iter()
            .collect(),
            skipped: Vec::new(),
        };
        let r = make_recipe(&graph.targets["core-libgcc"]).unwrap();
        assert!(r.contains("  --target package-libgcc \\\n"), "{r}");
        assert!(r.contains("-f packages/core/gcc/Containerfile \\\n  packages/core/gcc \\\n"));
        assert!(r.contains("--build-arg VERSION_MAJOR_MINOR=1.2 \\\n"));
        assert!(r.contains("--platform=linux/amd64"));
        // targets.py keeps duplicate dependencies, so the context is passed twice.
        assert_eq!(r.matches("stagex/bootstrap-stage0=oci-layout").count(), 2);
        assert_eq!(
            build_plan(&graph, "core-libgcc").unwrap(),
            vec![
                (0, vec!["bootstrap-stage0".to_string()]),
                (1, vec!["core-libgcc".to_string()])
            ]
        );
        let built = BTreeSet::from(["bootstrap-stage0".to_string()]);
        assert_eq!(ready_targets(&graph, &built), vec!["core-libgcc"]);
    }

    #[test]
    fn missing_client_and_daemon_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope").display().to_string();
        let e = detect_engine(&missing).unwrap_err();
        assert_eq!(e, EngineProblem::NoClient(missing));
        assert!(e.to_string().contains("containerd-snapshotter"));

        let client = fake_client(
            dir.path(),
            "echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock' >&2; exit 1",
        );
        match detect_engine(&client).unwrap_err() {
            EngineProblem::NoDaemon { detail, .. } => {
                assert!(detail.contains("Cannot connect"), "{detail}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn buildx_and_image_store_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let no_buildx = fake_client(
            dir.path(),
            "case $1 in version) echo 29.1.5;; *) echo \"'buildx' is not a docker command\" >&2; exit 1;; esac",
        );
        assert!(matches!(
            detect_engine(&no_buildx),
            Err(EngineProblem::NoBuildx { .. })
        ));
        let overlay2 = fake_client(
            dir.path(),
            "case $1 in version) echo 29.1.5;; buildx) echo v0.30.1;; info) echo '[[Backing Filesystem extfs]]';; esac",
        );
        assert!(matches!(
            detect_engine(&overlay2),
            Err(EngineProblem::NoContainerdStore(_))
        ));
        let good = fake_client(
            dir.path(),
            "case $1 in version) echo 29.1.5;; buildx) echo v0.30.1;; info) echo '[[driver-type io.containerd.snapshotter.v1]]';; esac",
        );
        assert_eq!(
            detect_engine(&good).unwrap(),
            Engine {
                server: "29.1.5".into(),
                buildx: "v0.30.1".into()
            }
        );
    }
}
