//! The OCI layout written by hand (Go-style JSON, to match BuildKit byte for byte) read
//! back with the `oci-spec` crate's types: the index, manifest and config must parse as
//! OCI image-spec documents and agree with the digests the writer reports.

use std::path::Path;

use oci_spec::image::{ImageConfiguration, ImageIndex, ImageManifest};
use sha2::{Digest, Sha256};
use stagex_pipeline::containerfile::Containerfile;
use stagex_pipeline::stage_image::{
    write_stage_image, BuildOutputs, ExportOptions, LayerCompression,
};

fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
    let data = std::fs::read(layout.join("blobs/sha256").join(hex)).expect("blob present");
    assert_eq!(
        format!("{:x}", Sha256::digest(&data)),
        hex,
        "blob content has its digest"
    );
    data
}

#[test]
fn the_written_layout_parses_with_oci_spec_types() {
    let dir = tempfile::tempdir().unwrap();
    let build = dir.path().join("build");
    std::fs::create_dir_all(build.join("bin")).unwrap();
    std::fs::write(build.join("bin/tool"), b"\x7fELF not really\n").unwrap();
    let cf = Containerfile::parse(
        "FROM scratch AS build\nRUN [\"/bin/true\"]\n\nFROM scratch AS package\n\
         COPY --from=build /build/bin/tool /usr/bin/\n",
        Path::new("Containerfile"),
    )
    .unwrap();
    let out = dir.path().join("oci");
    let options = ExportOptions::stagex("bootstrap", "example", Some("1.0"), "linux/386");
    let d = write_stage_image(
        &cf,
        &BuildOutputs::BuildDir(build),
        &options,
        LayerCompression::GoGzip,
        &out,
    )
    .unwrap();

    let index = ImageIndex::from_file(out.join("index.json")).unwrap();
    let m = &index.manifests()[0];
    assert_eq!(
        m.digest().to_string(),
        d.index,
        "index.json points at the image index"
    );
    let inner: ImageIndex = serde_json::from_slice(&blob(&out, &d.index)).unwrap();
    assert_eq!(inner.manifests()[0].digest().to_string(), d.manifest);
    let manifest: ImageManifest = serde_json::from_slice(&blob(&out, &d.manifest)).unwrap();
    assert_eq!(manifest.config().digest().to_string(), d.config);
    let layers: Vec<String> = manifest
        .layers()
        .iter()
        .map(|l| l.digest().to_string())
        .collect();
    assert_eq!(layers, d.layers);
    for l in &d.layers {
        blob(&out, l);
    }
    let config: ImageConfiguration = serde_json::from_slice(&blob(&out, &d.config)).unwrap();
    assert_eq!(config.architecture().to_string(), "386");
    let diff_ids: Vec<String> = config.rootfs().diff_ids().to_vec();
    assert_eq!(diff_ids, d.diff_ids);
}
