//! The `docker build` arguments StageX's Makefile runs for a target, argument for argument
//! as `src/targets.py` writes them into `out/targets.mk` (with the Makefile's defaults:
//! `PROGRESS=auto`, `PLATFORM=linux/amd64`, no `EXTRA_ARGS`, `NOCACHE` or `CHECK`), so a
//! build driven from here is the build StageX's `make` would run.

use crate::build_args::target_build_args;
use crate::error::Result;
use crate::graph::Target;

/// Makefile variables that shape the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MakeVars {
    /// Where dependencies' OCI layouts are (`./out` in StageX's checkout).
    pub out: String,
    /// `$(PLATFORM)`, for packages without `platforms`.
    pub platform: String,
    /// `$(PROGRESS)`.
    pub progress: String,
}

impl Default for MakeVars {
    fn default() -> Self {
        MakeVars {
            out: "./out".into(),
            platform: "linux/amd64".into(),
            progress: "auto".into(),
        }
    }
}

/// `--platform=` value: the package's platforms joined with commas, else `$(PLATFORM)`.
pub fn platform_arg(t: &Target, vars: &MakeVars) -> String {
    if t.package.package.platforms.is_empty() {
        vars.platform.clone()
    } else {
        t.package.package.platforms.join(",")
    }
}

/// The `--output` value: an OCI tarball on stdout, timestamps rewritten, annotated.
pub fn output_arg(t: &Target) -> String {
    let id = t.id();
    let version = t.version.as_deref().unwrap_or("latest");
    format!(
        "name={id},type=oci,rewrite-timestamp=true,force-compression=true,\
annotation.containerd.io/distribution.source.docker.io=stagex/{id},\
annotation.org.opencontainers.image.version={version},\
annotation.org.opencontainers.image.created=1970-01-01T00:00:01Z,tar=true,dest=-"
    )
}

/// Everything after `$(BUILDER) build` in the recipe of `out/<target>/index.json`, run
/// from the StageX checkout. `docker buildx build` takes the same arguments.
pub fn build_argv(t: &Target, vars: &MakeVars) -> Result<Vec<String>> {
    let id = t.id();
    let origin = &t.package.package.name;
    let stage = &t.stage;
    let version = t.version.as_deref().unwrap_or("latest");
    let mut a: Vec<String> = [
        "--ulimit",
        "nofile=2048:16384",
        "--tag",
        &format!("stagex/{id}:{version}"),
        "--provenance=false",
        "--build-arg",
        "SOURCE_DATE_EPOCH=1",
        "--build-arg",
        "BUILDKIT_MULTI_PLATFORM=1",
        "--build-arg",
        "BUILDKIT_DOCKERFILE_CHECK=skip=FromPlatformFlagConstDisallowed;error=true",
        "--output",
        &output_arg(t),
        "--build-context",
        &format!("fetch=fetch/{stage}/{origin}"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for dep in &t.deps {
        a.push("--build-context".into());
        a.push(format!("stagex/{dep}=oci-layout://{}/{dep}", vars.out));
    }
    if !t.package.package.subpackages.is_empty() {
        a.push("--target".into());
        a.push(format!("package-{}", t.name));
    }
    for (k, v) in target_build_args(t)? {
        a.push("--build-arg".into());
        a.push(format!("{k}={v}"));
    }
    a.push(format!("--platform={}", platform_arg(t, vars)));
    a.push(format!("--progress={}", vars.progress));
    a.push("-f".into());
    a.push(format!("packages/{stage}/{origin}/Containerfile"));
    a.push(format!("packages/{stage}/{origin}"));
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn subpackage_argv() {
        let toml = "[package]\nname = \"gcc\"\nversion = \"1.2\"\nsubpackages = [\"libgcc\"]\n\
                    [sources.gcc]\nhash = \"ab\"\nversion = \"1.2\"\nformat = \"tar.xz\"\n\
                    mirrors = [\"https://x/gcc-{version}.{format}\"]\n";
        let package = crate::package::PackageToml::parse(toml, Path::new("p.toml")).unwrap();
        let t = Target {
            stage: "core".into(),
            name: "libgcc".into(),
            origin: "gcc".into(),
            version: Some("1.2".into()),
            deps: vec!["core-a".into(), "core-a".into()],
            package,
        };
        let vars = MakeVars {
            out: "/o".into(),
            ..MakeVars::default()
        };
        let a = build_argv(&t, &vars).unwrap();
        let s = a.join(" ");
        assert!(s.starts_with("--ulimit nofile=2048:16384 --tag stagex/core-libgcc:1.2 "));
        assert!(s.contains(
            "--build-context fetch=fetch/core/gcc --build-context stagex/core-a=oci-layout:///o/core-a --build-context stagex/core-a=oci-layout:///o/core-a --target package-libgcc --build-arg VERSION=1.2"
        ), "{s}");
        assert!(s.contains("--build-arg GCC_VERSION=1.2 --build-arg GCC_SOURCE=gcc-1.2.tar.xz"));
        assert!(s.ends_with(
            "--platform=linux/amd64 --progress=auto -f packages/core/gcc/Containerfile packages/core/gcc"
        ));
    }
}
