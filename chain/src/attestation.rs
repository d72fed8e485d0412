//! in-toto attestations: a [Statement v1] whose predicate is [SLSA Provenance v1], for a
//! verified chain run (`run`, `ddc`) or an image (`stagex-pipeline build`).
//!
//! The statement holds no wall times and no host paths unless [`Metadata`] is asked for,
//! so two runs of the same tree give byte-identical files on any host: the same property
//! as the native provenance, whose own digest is recorded as a byproduct.
//!
//! [Statement v1]: https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md
//! [SLSA Provenance v1]: https://slsa.dev/spec/v1.0/provenance

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::answers::Checked;
use crate::plan::Plan;
use crate::provenance::FileHash;

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// `predicateType` of SLSA Provenance v1.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// `buildType` of a chain run: `externalParameters` is [`ChainParameters`].
pub const BUILD_TYPE_CHAIN: &str = "urn:stage0-runner:build-type:chain:v1";
/// `buildType` of a diverse double compilation: [`ChainParameters`] with `substitutes`.
pub const BUILD_TYPE_DDC: &str = "urn:stage0-runner:build-type:ddc:v1";
/// `buildType` of an OCI image built by `stagex-pipeline build` (emulated stages).
pub const BUILD_TYPE_IMAGE: &str = "urn:stage0-runner:build-type:stagex-image:v1";
/// `runDetails.builder.id`: this program, running guests in its own emulator.
pub const BUILDER_ID: &str = "urn:stage0-runner:builder:emulated-i386";
/// Media type of the native provenance recorded as a byproduct.
pub const PROVENANCE_MEDIA_TYPE: &str = "application/vnd.stage0-runner.provenance.v1+json";

/// The whole statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub type_: String,
    pub subject: Vec<ResourceDescriptor>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: SlsaProvenance,
}

/// An in-toto ResourceDescriptor: a named artifact and its digests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceDescriptor {
    pub name: String,
    /// Algorithm → lowercase hex.
    pub digest: BTreeMap<String, String>,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
}

impl ResourceDescriptor {
    /// `name` with its SHA-256 (`sha256:` prefix accepted and dropped).
    pub fn sha256(name: &str, hex: &str) -> Self {
        let hex = hex.strip_prefix("sha256:").unwrap_or(hex);
        ResourceDescriptor {
            name: name.to_string(),
            digest: BTreeMap::from([("sha256".to_string(), hex.to_string())]),
            media_type: None,
        }
    }
}

/// The SLSA Provenance v1 predicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlsaProvenance {
    #[serde(rename = "buildDefinition")]
    pub build_definition: BuildDefinition,
    #[serde(rename = "runDetails")]
    pub run_details: RunDetails,
}

/// What was built, from what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildDefinition {
    #[serde(rename = "buildType")]
    pub build_type: String,
    #[serde(rename = "externalParameters")]
    pub external_parameters: serde_json::Value,
    #[serde(rename = "resolvedDependencies")]
    pub resolved_dependencies: Vec<ResourceDescriptor>,
}

/// Who built it, and (only when asked) when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDetails {
    pub builder: Builder,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub byproducts: Vec<ResourceDescriptor>,
}

/// The builder: [`BUILDER_ID`] and its versions (program, engine).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Builder {
    pub id: String,
    pub version: BTreeMap<String, String>,
}

impl Builder {
    /// This program at its version, running guests on `engine` (`interp`, `unicorn`,
    /// `cross-check`).
    pub fn this(engine: &str) -> Self {
        Builder {
            id: BUILDER_ID.into(),
            version: BTreeMap::from([
                (
                    "stage0-runner".to_string(),
                    env!("CARGO_PKG_VERSION").to_string(),
                ),
                ("engine".to_string(), engine.to_string()),
            ]),
        }
    }
}

/// Start and end times (RFC 3339, UTC): host-dependent, so only written when asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(rename = "startedOn")]
    pub started_on: String,
    #[serde(rename = "finishedOn")]
    pub finished_on: String,
}

impl Metadata {
    /// The two times as RFC 3339 text.
    pub fn new(started: SystemTime, finished: SystemTime) -> Self {
        Metadata {
            started_on: rfc3339(started),
            finished_on: rfc3339(finished),
        }
    }
}

/// RFC 3339 UTC text of `t`, whole seconds.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// `externalParameters` of [`BUILD_TYPE_CHAIN`] and [`BUILD_TYPE_DDC`]: what the user
/// chose (layout, answers file, the top-level guest commands). No host paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainParameters {
    pub layout: String,
    /// Answers file name (relative to the tree), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answers: Option<String>,
    /// The top-level guest commands, in order.
    pub steps: Vec<StepParameters>,
    /// `ddc --with`: which substitutes stood in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub substitutes: Option<String>,
}

/// One top-level guest command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepParameters {
    pub argv: Vec<String>,
    pub cwd: String,
    pub env: Vec<String>,
}

impl ChainParameters {
    /// The parameters of `plan` (its layout's name given, so custom scripts say `script`).
    pub fn of(layout: &str, plan: &Plan, answers: Option<&str>, substitutes: Option<&str>) -> Self {
        ChainParameters {
            layout: layout.to_string(),
            answers: answers.map(str::to_string),
            steps: plan
                .steps
                .iter()
                .map(|s| StepParameters {
                    argv: s.argv.clone(),
                    cwd: s.cwd.clone(),
                    env: s.env.clone(),
                })
                .collect(),
            substitutes: substitutes.map(str::to_string),
        }
    }
}

/// Why no statement can be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AttestationError {
    /// A statement needs at least one subject, and only verified outputs are subjects.
    #[error("nothing verified to attest: {0}")]
    NoSubject(String),
}

/// Everything a chain statement is made of.
pub struct ChainBuild<'a> {
    pub build_type: &'a str,
    pub parameters: ChainParameters,
    /// The tree's inputs (`provenance.inputs`).
    pub inputs: &'a [FileHash],
    /// The checked answers: every one must match.
    pub checked: &'a [Checked],
    /// The engine name for [`Builder::this`].
    pub engine: &'a str,
    /// The native provenance's bytes, recorded as a byproduct.
    pub provenance_json: &'a [u8],
    pub metadata: Option<Metadata>,
}

/// The statement of a verified chain run: subjects are the answers' outputs, each with
/// the SHA-256 the host computed; refused unless every answer matched.
pub fn chain_statement(b: ChainBuild<'_>) -> Result<Statement, AttestationError> {
    if b.checked.is_empty() {
        return Err(AttestationError::NoSubject(
            "the run has no answers file, so no output was verified".into(),
        ));
    }
    if let Some(bad) = b.checked.iter().find(|c| !c.ok()) {
        return Err(AttestationError::NoSubject(format!(
            "{} did not match its answer",
            bad.path
        )));
    }
    let mut subject: Vec<ResourceDescriptor> = b
        .checked
        .iter()
        .map(|c| ResourceDescriptor::sha256(&c.path, &c.expected))
        .collect();
    subject.sort_by(|a, b| a.name.cmp(&b.name));
    let mut provenance = ResourceDescriptor::sha256(
        "provenance.json",
        &vm::record::sha256_hex(b.provenance_json),
    );
    provenance.media_type = Some(PROVENANCE_MEDIA_TYPE.into());
    Ok(statement(
        subject,
        BuildDefinition {
            build_type: b.build_type.into(),
            external_parameters: serde_json::to_value(&b.parameters)
                .expect("plain data serializes"),
            resolved_dependencies: dependencies(b.inputs),
        },
        RunDetails {
            builder: Builder::this(b.engine),
            metadata: b.metadata,
            byproducts: vec![provenance],
        },
    ))
}

/// The tree's inputs as resolved dependencies, in path order.
pub fn dependencies(inputs: &[FileHash]) -> Vec<ResourceDescriptor> {
    inputs
        .iter()
        .map(|f| ResourceDescriptor::sha256(&f.path, &f.sha256))
        .collect()
}

/// A statement of SLSA Provenance v1 about `subject`.
pub fn statement(
    subject: Vec<ResourceDescriptor>,
    build_definition: BuildDefinition,
    run_details: RunDetails,
) -> Statement {
    Statement {
        type_: STATEMENT_TYPE.into(),
        subject,
        predicate_type: SLSA_PROVENANCE_V1.into(),
        predicate: SlsaProvenance {
            build_definition,
            run_details,
        },
    }
}

/// The statement as written to a file: pretty JSON with a final newline.
pub fn to_json(s: &Statement) -> String {
    let mut text = serde_json::to_string_pretty(s).expect("plain data serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(path: &str, ok: bool) -> Checked {
        Checked {
            path: path.into(),
            expected: "ab".repeat(32),
            actual: Some(if ok { "ab".repeat(32) } else { "cd".repeat(32) }),
        }
    }

    fn build<'a>(checked: &'a [Checked], inputs: &'a [FileHash]) -> ChainBuild<'a> {
        ChainBuild {
            build_type: BUILD_TYPE_CHAIN,
            parameters: ChainParameters {
                layout: "upstream".into(),
                answers: Some("x86.answers".into()),
                steps: vec![],
                substitutes: None,
            },
            inputs,
            checked,
            engine: "interp",
            provenance_json: b"{}\n",
            metadata: None,
        }
    }

    #[test]
    fn subjects_are_the_answers_sorted_and_dependencies_the_inputs() {
        let c = [checked("x86/bin/z", true), checked("x86/bin/a", true)];
        let inputs = [FileHash {
            path: "hex0-seed".into(),
            sha256: "01".repeat(32),
            deleted: false,
        }];
        let s = chain_statement(build(&c, &inputs)).unwrap();
        let names: Vec<_> = s.subject.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["x86/bin/a", "x86/bin/z"]);
        assert_eq!(
            s.predicate.build_definition.resolved_dependencies[0].name,
            "hex0-seed"
        );
        let text = to_json(&s);
        assert!(
            text.contains("\"_type\": \"https://in-toto.io/Statement/v1\""),
            "{text}"
        );
        assert!(!text.contains("metadata"), "times only when asked: {text}");
        let back: Statement = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn a_mismatch_or_no_answers_is_refused() {
        let c = [checked("x86/bin/a", true), checked("x86/bin/b", false)];
        let e = chain_statement(build(&c, &[])).unwrap_err();
        assert!(e.to_string().contains("x86/bin/b"), "{e}");
        assert!(chain_statement(build(&[], &[])).is_err());
    }

    #[test]
    fn rfc3339_is_utc_whole_seconds() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(951_782_400_500);
        assert_eq!(rfc3339(t), "2000-02-29T00:00:00Z");
    }
}
