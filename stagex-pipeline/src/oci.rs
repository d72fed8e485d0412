//! An OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/*`) written the way
//! BuildKit's `type=oci` exporter writes a multi-platform result
//! (`BUILDKIT_MULTI_PLATFORM=1`): index.json -> image index blob -> manifest -> config
//! and gzip layers.

use std::collections::BTreeMap;
use std::path::Path;

use crate::buildkit::{rfc3339_utc, HistoryEntry, HISTORY_COMMENT};
use crate::error::{Error, Result};
use crate::fetch::sha256_hex;
use crate::gojson::{marshal, marshal_indent, Value};

/// OCI media types used here.
pub mod media {
    /// Image index.
    pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// Image manifest.
    pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// Image config.
    pub const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    /// Gzip-compressed tar layer.
    pub const LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
}

/// Everything about the image except its layers' bytes.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    /// `os` (e.g. `linux`).
    pub os: String,
    /// `architecture` (e.g. `386`).
    pub architecture: String,
    /// `config.Env`.
    pub env: Vec<String>,
    /// `config.WorkingDir`.
    pub working_dir: String,
    /// History, one entry per instruction of the exported stage.
    pub history: Vec<HistoryEntry>,
    /// `SOURCE_DATE_EPOCH`: history times, `created`, and layer mtimes are clamped to it.
    pub epoch: u64,
    /// Manifest annotations (BuildKit's bare `annotation.KEY=VALUE` exporter options).
    pub manifest_annotations: BTreeMap<String, String>,
    /// Image name for index.json's `io.containerd.image.name` (none: no name annotations).
    pub image_name: Option<String>,
}

/// The digests of a written image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageDigests {
    /// `sha256:` of each uncompressed layer (rootfs.diff_ids).
    pub diff_ids: Vec<String>,
    /// `sha256:` of each compressed layer blob.
    pub layers: Vec<String>,
    /// `sha256:` of the config blob.
    pub config: String,
    /// `sha256:` of the image manifest (what StageX's digests/*.txt list).
    pub manifest: String,
    /// `sha256:` of the image index blob index.json points to.
    pub index: String,
}

fn digest_of(data: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(data))
}

fn descriptor(media_type: &str, data: &[u8]) -> Vec<(String, Value)> {
    vec![
        ("mediaType".into(), Value::str(media_type)),
        ("digest".into(), Value::str(digest_of(data))),
        ("size".into(), Value::Int(data.len() as i64)),
    ]
}

/// The config JSON BuildKit's exporter writes: a Go map, so keys sorted, with the
/// frontend's `config` object (Go struct field order) inside.
pub fn config_json(spec: &ImageSpec, diff_ids: &[String]) -> Vec<u8> {
    let created = Value::str(rfc3339_utc(spec.epoch));
    let mut config = Vec::new();
    if !spec.env.is_empty() {
        config.push((
            "Env",
            Value::Array(spec.env.iter().map(Value::str).collect()),
        ));
    }
    if !spec.working_dir.is_empty() {
        config.push(("WorkingDir", Value::str(&spec.working_dir)));
    }
    let history = spec
        .history
        .iter()
        .map(|h| {
            let mut e = vec![
                ("created", created.clone()),
                ("created_by", Value::str(&h.created_by)),
                ("comment", Value::str(HISTORY_COMMENT)),
            ];
            if !h.adds_layer {
                e.push(("empty_layer", Value::Bool(true)));
            }
            Value::object(e)
        })
        .collect();
    let rootfs = Value::object([
        ("type", Value::str("layers")),
        (
            "diff_ids",
            Value::Array(diff_ids.iter().map(Value::str).collect()),
        ),
    ]);
    marshal(&Value::sorted_map([
        ("architecture", Value::str(&spec.architecture)),
        ("config", Value::object(config)),
        ("created", created.clone()),
        ("history", Value::Array(history)),
        ("os", Value::str(&spec.os)),
        ("rootfs", rootfs),
    ]))
}

/// The manifest JSON (`json.MarshalIndent`, two spaces). Rewritten layers carry
/// BuildKit's `buildkit/rewritten-timestamp` annotation.
pub fn manifest_json(spec: &ImageSpec, config: &[u8], layer_blobs: &[Vec<u8>]) -> Vec<u8> {
    let layers = layer_blobs
        .iter()
        .map(|b| {
            let mut d = descriptor(media::LAYER_GZIP, b);
            let ts = Value::sorted_map([(
                "buildkit/rewritten-timestamp",
                Value::str(spec.epoch.to_string()),
            )]);
            d.push(("annotations".into(), ts));
            Value::Object(d)
        })
        .collect();
    let mut m = vec![
        ("schemaVersion".to_string(), Value::Int(2)),
        ("mediaType".to_string(), Value::str(media::MANIFEST)),
        (
            "config".to_string(),
            Value::Object(descriptor(media::CONFIG, config)),
        ),
        ("layers".to_string(), Value::Array(layers)),
    ];
    if !spec.manifest_annotations.is_empty() {
        let a = spec
            .manifest_annotations
            .iter()
            .map(|(k, v)| (k.clone(), Value::str(v)));
        m.push(("annotations".to_string(), Value::sorted_map(a)));
    }
    marshal_indent(&Value::Object(m), "  ")
}

/// The image index blob listing the one platform manifest.
pub fn image_index_json(spec: &ImageSpec, manifest: &[u8]) -> Vec<u8> {
    let mut d = descriptor(media::MANIFEST, manifest);
    let platform = Value::object([
        ("architecture", Value::str(&spec.architecture)),
        ("os", Value::str(&spec.os)),
    ]);
    d.push(("platform".into(), platform));
    marshal_indent(
        &Value::object([
            ("schemaVersion", Value::Int(2)),
            ("mediaType", Value::str(media::INDEX)),
            ("manifests", Value::Array(vec![Value::Object(d)])),
        ]),
        "  ",
    )
}

/// index.json as containerd's archive exporter writes it (compact JSON).
pub fn layout_index_json(spec: &ImageSpec, image_index: &[u8]) -> Vec<u8> {
    let mut ann = vec![(
        "org.opencontainers.image.created".to_string(),
        Value::str(rfc3339_utc(spec.epoch)),
    )];
    if let Some(name) = &spec.image_name {
        ann.push(("io.containerd.image.name".into(), Value::str(name)));
        let tag = name
            .rsplit_once(':')
            .filter(|(_, t)| !t.contains('/'))
            .map_or("latest", |(_, t)| t);
        ann.push(("org.opencontainers.image.ref.name".into(), Value::str(tag)));
    }
    let mut d = descriptor(media::INDEX, image_index);
    d.push(("annotations".into(), Value::sorted_map(ann)));
    marshal(&Value::object([
        ("schemaVersion", Value::Int(2)),
        ("mediaType", Value::str(media::INDEX)),
        ("manifests", Value::Array(vec![Value::Object(d)])),
    ]))
}

/// Writes the layout to `out` (created if missing) from uncompressed layer tars,
/// compressing each with `compress`. Returns every digest.
pub fn write_layout(
    out: &Path,
    spec: &ImageSpec,
    layer_tars: &[Vec<u8>],
    compress: &dyn Fn(&[u8]) -> Result<Vec<u8>>,
) -> Result<ImageDigests> {
    let layers_in_history = spec.history.iter().filter(|h| h.adds_layer).count();
    if layers_in_history != layer_tars.len() {
        return Err(Error::Image(format!(
            "{} layers but {layers_in_history} layer-adding history entries",
            layer_tars.len()
        )));
    }
    let diff_ids: Vec<String> = layer_tars.iter().map(|t| digest_of(t)).collect();
    let blobs: Vec<Vec<u8>> = layer_tars
        .iter()
        .map(|t| compress(t))
        .collect::<Result<_>>()?;
    let config = config_json(spec, &diff_ids);
    let manifest = manifest_json(spec, &config, &blobs);
    let index = image_index_json(spec, &manifest);
    let blob_dir = out.join("blobs").join("sha256");
    std::fs::create_dir_all(&blob_dir).map_err(|e| Error::io(&blob_dir, e))?;
    for data in blobs.iter().chain([&config, &manifest, &index]) {
        let path = blob_dir.join(sha256_hex(data));
        std::fs::write(&path, data).map_err(|e| Error::io(&path, e))?;
    }
    let layout = out.join("oci-layout");
    std::fs::write(&layout, br#"{"imageLayoutVersion":"1.0.0"}"#)
        .map_err(|e| Error::io(&layout, e))?;
    let index_path = out.join("index.json");
    std::fs::write(&index_path, layout_index_json(spec, &index))
        .map_err(|e| Error::io(&index_path, e))?;
    Ok(ImageDigests {
        diff_ids,
        layers: blobs.iter().map(|b| digest_of(b)).collect(),
        config: digest_of(&config),
        manifest: digest_of(&manifest),
        index: digest_of(&index),
    })
}
