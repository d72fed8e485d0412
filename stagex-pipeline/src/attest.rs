//! What `stagex-pipeline build` tells about an image beyond its digests: whether the
//! manifest matches the one StageX publishes (`digests/<stage>.txt`), and an in-toto
//! Statement v1 / SLSA Provenance v1 attestation of it (built with stage0-chain's
//! statement types, so both CLIs write the same kind of file).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use stage0_chain::attestation::{
    self, BuildDefinition, Builder, ResourceDescriptor, RunDetails, Statement,
};

use crate::emulated::EmulatedBuild;
use crate::error::{Error, Result};
use crate::fetch::sha256_hex;
use crate::graph::Target;

/// How a built manifest compares with StageX's published list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Published {
    /// The manifest digest is the one StageX publishes.
    Matches { file: String },
    /// StageX publishes another digest for this target.
    Differs { file: String, expected: String },
    /// No `digests/<stage>.txt` line names the target.
    Unpublished { file: String },
}

impl std::fmt::Display for Published {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Published::Matches { file } => write!(f, "matches the published digest ({file})"),
            Published::Differs { file, expected } => {
                write!(f, "DIFFERS from the published digest {expected} ({file})")
            }
            Published::Unpublished { file } => write!(f, "not published in {file}"),
        }
    }
}

/// Compares `manifest` (`sha256:…`) of target `id` (`<stage>-<name>`) with
/// `STAGEX/digests/<stage>.txt` (`HEX target-id` lines, as StageX's releases list them).
pub fn published(stagex: &Path, stage: &str, id: &str, manifest: &str) -> Published {
    let rel = format!("digests/{stage}.txt");
    let listed = std::fs::read_to_string(stagex.join(&rel))
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                let (hex, listed_id) = l.split_once(char::is_whitespace)?;
                (listed_id.trim() == id).then(|| format!("sha256:{hex}"))
            })
        });
    match listed {
        Some(d) if d == manifest => Published::Matches { file: rel },
        Some(expected) => Published::Differs {
            file: rel,
            expected,
        },
        None => Published::Unpublished { file: rel },
    }
}

/// `externalParameters` of [`attestation::BUILD_TYPE_IMAGE`].
#[derive(Debug, Clone, Serialize)]
struct ImageParameters<'a> {
    target: String,
    version: &'a str,
    platform: &'a str,
    /// `RUN` steps the emulator ran.
    steps: usize,
}

/// The statement of an emulated image build: the subject is the image manifest; the
/// dependencies are the package's Containerfile, package.toml and every source, by hash.
pub fn image_statement(
    stagex: &Path,
    target: &Target,
    platform: &str,
    build: &EmulatedBuild,
) -> Result<Statement> {
    let dir = target.dir(stagex);
    let mut deps = Vec::new();
    for file in ["Containerfile", "package.toml"] {
        let path = dir.join(file);
        if let Ok(data) = std::fs::read(&path) {
            deps.push(ResourceDescriptor::sha256(
                &format!("packages/{}/{}/{file}", target.stage, target.origin),
                &sha256_hex(&data),
            ));
        } else if file == "Containerfile" {
            return Err(Error::io(&path, std::io::ErrorKind::NotFound.into()));
        }
    }
    for (src, _) in &build.fetched {
        deps.push(ResourceDescriptor::sha256(
            &format!(
                "fetch/{}/{}/{}",
                target.stage, target.package.package.name, src.file
            ),
            &src.hash,
        ));
    }
    let params = ImageParameters {
        target: target.id(),
        version: target.version.as_deref().unwrap_or("latest"),
        platform,
        steps: build.run.steps,
    };
    let mut builder = Builder::this("interp");
    builder.version.insert(
        "stagex-pipeline".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    );
    Ok(attestation::statement(
        vec![ResourceDescriptor {
            name: format!("stagex/{}", target.id()),
            digest: BTreeMap::from([(
                "sha256".to_string(),
                build
                    .digests
                    .manifest
                    .trim_start_matches("sha256:")
                    .to_string(),
            )]),
            media_type: Some("application/vnd.oci.image.manifest.v1+json".into()),
        }],
        BuildDefinition {
            build_type: attestation::BUILD_TYPE_IMAGE.into(),
            external_parameters: serde_json::to_value(&params).expect("plain data"),
            resolved_dependencies: deps,
        },
        RunDetails {
            builder,
            metadata: None,
            byproducts: vec![],
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_reads_the_stage_list() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("digests")).unwrap();
        std::fs::write(
            dir.path().join("digests/bootstrap.txt"),
            format!(
                "{}  bootstrap-stage0\n{} bootstrap-stage1\n",
                "a".repeat(64),
                "b".repeat(64)
            ),
        )
        .unwrap();
        let a = format!("sha256:{}", "a".repeat(64));
        let check = |id: &str| published(dir.path(), "bootstrap", id, &a);
        assert_eq!(
            check("bootstrap-stage0").to_string(),
            "matches the published digest (digests/bootstrap.txt)"
        );
        assert!(matches!(
            check("bootstrap-stage1"),
            Published::Differs { .. }
        ));
        assert!(matches!(
            check("bootstrap-stage9"),
            Published::Unpublished { .. }
        ));
    }
}
