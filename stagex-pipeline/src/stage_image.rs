//! "Files to image": turns the outputs of a Containerfile's build stages into the OCI
//! image BuildKit exports for its final `FROM scratch` stage, one layer per
//! `COPY --from=<stage>` line, with `rewrite-timestamp=true` semantics.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::buildkit::{history_entry, DEFAULT_PATH_ENV};
use crate::containerfile::{Containerfile, Stage};
use crate::error::{Error, Result};
use crate::oci::{write_layout, ImageDigests, ImageSpec};
use crate::tar::{EntryHeader, EntryKind, TarWriter};

/// Where the build stages' files are on the host.
#[derive(Debug, Clone)]
pub enum BuildOutputs {
    /// A root filesystem: `/build/hex2` is `ROOT/build/hex2`.
    Root(PathBuf),
    /// A directory holding what `/build` holds: `/build/hex2` is `DIR/hex2`.
    BuildDir(PathBuf),
}

impl BuildOutputs {
    /// The host path of an absolute path inside the build stage.
    pub fn resolve(&self, stage_path: &str) -> Result<PathBuf> {
        let rel = stage_path
            .strip_prefix('/')
            .ok_or_else(|| Error::Image(format!("COPY source {stage_path:?} is not absolute")))?;
        if rel.split('/').any(|c| c == "..") {
            return Err(Error::Image(format!(
                "COPY source {stage_path:?} leaves the root"
            )));
        }
        match self {
            BuildOutputs::Root(root) => Ok(root.join(rel)),
            BuildOutputs::BuildDir(dir) => match rel.strip_prefix("build/") {
                Some(inner) => Ok(dir.join(inner)),
                None => Err(Error::Image(format!("{stage_path} is outside /build"))),
            },
        }
    }
}

/// Export settings: what StageX's Makefile passes to `docker build --output`.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// `SOURCE_DATE_EPOCH`.
    pub epoch: u64,
    /// Manifest annotations.
    pub annotations: BTreeMap<String, String>,
    /// Image name recorded in index.json.
    pub image_name: Option<String>,
    /// Platform `os/arch` of the export.
    pub platform: String,
}

impl ExportOptions {
    /// The options `src/targets.py` generates for target `<stage>-<name>` at `version`
    /// (`None` is `latest`) on `platform`, with `SOURCE_DATE_EPOCH=1`.
    pub fn stagex(stage: &str, name: &str, version: Option<&str>, platform: &str) -> Self {
        let version = version.unwrap_or("latest");
        let epoch = 1;
        let annotations = BTreeMap::from([
            (
                "containerd.io/distribution.source.docker.io".to_string(),
                format!("stagex/{stage}-{name}"),
            ),
            (
                "org.opencontainers.image.version".to_string(),
                version.to_string(),
            ),
            (
                "org.opencontainers.image.created".to_string(),
                crate::buildkit::rfc3339_utc(epoch),
            ),
        ]);
        ExportOptions {
            epoch,
            annotations,
            image_name: Some(format!("docker.io/stagex/{stage}-{name}:{version}")),
            platform: platform.to_string(),
        }
    }
}

/// One layer's uncompressed tar plus what it holds (for reports).
#[derive(Debug, Clone)]
pub struct BuiltLayer {
    /// The tar bytes (the diff_id is their sha256).
    pub tar: Vec<u8>,
    /// Entry names in order.
    pub entries: Vec<String>,
}

fn parse_mode(text: &str, line: usize) -> Result<u32> {
    u32::from_str_radix(text, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| Error::Image(format!("line {line}: --chmod={text} is not an octal mode")))
}

/// Builds the layer of one `COPY --from=... SRC... DEST/`: the destination's directories
/// (mode 0755, as BuildKit creates them) and each source file under its base name.
fn copy_layer(
    sources: &[String],
    dest: &str,
    chmod: Option<u32>,
    outputs: &BuildOutputs,
    epoch: u64,
) -> Result<BuiltLayer> {
    let dest_dir = dest.trim_matches('/');
    if !dest.ends_with('/') && sources.len() == 1 {
        return Err(Error::Image(format!(
            "COPY destination {dest} is not a directory (only DIR/ is modelled)"
        )));
    }
    let mut tar = TarWriter::new();
    let mut entries = Vec::new();
    let mut prefix = String::new();
    for part in dest_dir.split('/').filter(|p| !p.is_empty()) {
        prefix.push_str(part);
        prefix.push('/');
        tar.directory(&EntryHeader {
            name: prefix.clone(),
            mode: 0o755,
            mtime: epoch,
            kind: EntryKind::Directory,
        })?;
        entries.push(prefix.clone());
    }
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for src in sources {
        let host = outputs.resolve(src)?;
        let base = src
            .rsplit('/')
            .next()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| Error::Image(format!("COPY source {src} has no file name")))?;
        files.push((format!("{prefix}{base}"), host));
    }
    files.sort();
    for (name, host) in files {
        let meta = std::fs::symlink_metadata(&host).map_err(|e| Error::io(&host, e))?;
        if !meta.is_file() {
            return Err(Error::Image(format!(
                "{} is not a regular file (only files are modelled)",
                host.display()
            )));
        }
        let content = std::fs::read(&host).map_err(|e| Error::io(&host, e))?;
        let mode = chmod.unwrap_or(meta.permissions().mode() & 0o7777);
        let mtime = (meta.mtime().max(0) as u64).min(epoch);
        tar.file(
            &EntryHeader {
                name: name.clone(),
                mode,
                mtime,
                kind: EntryKind::File,
            },
            &content,
        )?;
        entries.push(name);
    }
    Ok(BuiltLayer {
        tar: tar.finish(),
        entries,
    })
}

/// The layers of `stage`, which must be `FROM scratch` holding only `COPY --from` lines
/// from other stages (and `ENV`), in order.
pub fn stage_layers(stage: &Stage, outputs: &BuildOutputs, epoch: u64) -> Result<Vec<BuiltLayer>> {
    if stage.base != "scratch" {
        return Err(Error::Image(format!(
            "stage at line {} is FROM {}, only scratch is modelled",
            stage.line, stage.base
        )));
    }
    let mut layers = Vec::new();
    for inst in &stage.instructions {
        match inst.keyword.as_str() {
            "COPY" if inst.flag("from").is_some() => {
                let (dest, sources) = inst.args.split_last().ok_or_else(|| {
                    Error::Image(format!("line {}: COPY without arguments", inst.line))
                })?;
                let chmod = inst
                    .flag("chmod")
                    .map(|m| parse_mode(m, inst.line))
                    .transpose()?;
                layers.push(copy_layer(sources, dest, chmod, outputs, epoch)?);
            }
            "ENV" => {}
            other => {
                return Err(Error::Image(format!(
                    "line {}: {other} in the exported stage is not modelled",
                    inst.line
                )))
            }
        }
    }
    Ok(layers)
}

/// The image spec (config, history) BuildKit derives for `stage`.
pub fn stage_spec(stage: &Stage, options: &ExportOptions) -> Result<ImageSpec> {
    let (os, architecture) = options
        .platform
        .split_once('/')
        .ok_or_else(|| Error::Image(format!("platform {:?} is not os/arch", options.platform)))?;
    let mut env = vec![DEFAULT_PATH_ENV.to_string()];
    let mut history = Vec::new();
    for inst in &stage.instructions {
        history.push(history_entry(inst)?);
        if inst.keyword == "ENV" {
            for pair in &inst.args {
                let key = pair.split('=').next().unwrap_or("");
                env.retain(|e| e.split('=').next() != Some(key));
                env.push(pair.replace('"', ""));
            }
        }
    }
    Ok(ImageSpec {
        os: os.to_string(),
        architecture: architecture.to_string(),
        env,
        working_dir: "/".to_string(),
        history,
        epoch: options.epoch,
        manifest_annotations: options.annotations.clone(),
        image_name: options.image_name.clone(),
    })
}

/// Which gzip encoder compresses layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerCompression {
    /// Go's `compress/gzip` at the default level, as BuildKit (built with Go <= 1.25) writes.
    GoGzip,
    /// The host's `gzip -n`.
    GnuGzip,
}

impl LayerCompression {
    /// Compresses one layer.
    pub fn compress(self, data: &[u8]) -> Result<Vec<u8>> {
        match self {
            LayerCompression::GoGzip => Ok(goflate::gzip(data)),
            LayerCompression::GnuGzip => crate::fetch::gzip_n(data),
        }
    }
}

/// Writes the OCI layout of the Containerfile's last stage from the build outputs.
/// This is the step the emulator's Stage0 output feeds.
pub fn write_stage_image(
    containerfile: &Containerfile,
    outputs: &BuildOutputs,
    options: &ExportOptions,
    compression: LayerCompression,
    out: &Path,
) -> Result<ImageDigests> {
    let stage = containerfile
        .stages
        .last()
        .ok_or_else(|| Error::Image(format!("{} has no stages", containerfile.path.display())))?;
    let layers = stage_layers(stage, outputs, options.epoch)?;
    let spec = stage_spec(stage, options)?;
    let tars: Vec<Vec<u8>> = layers.into_iter().map(|l| l.tar).collect();
    write_layout(out, &spec, &tars, &|d| compression.compress(d))
}
