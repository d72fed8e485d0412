//! Image digests the way StageX lists them (`src/digests.py`, `digests/<stage>.txt`): the
//! manifest an OCI layout's index.json reaches through the multi-platform image index.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::graph::Graph;

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Image(format!("{}: {e}", path.display())))
}

fn first_manifest(v: &serde_json::Value, path: &Path) -> Result<String> {
    let d = v["manifests"][0]["digest"]
        .as_str()
        .ok_or_else(|| Error::Image(format!("{}: no manifests[0].digest", path.display())))?;
    let hex = d
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| Error::Image(format!("{}: digest {d:?} is not sha256", path.display())))?;
    Ok(hex.to_string())
}

/// The hex digest StageX publishes for the OCI layout in `layout`: index.json's first
/// entry is the image index blob, whose first entry is the image manifest.
pub fn manifest_digest(layout: &Path) -> Result<String> {
    let index_path = layout.join("index.json");
    let index = first_manifest(&read_json(&index_path)?, &index_path)?;
    let blob = layout.join("blobs/sha256").join(&index);
    first_manifest(&read_json(&blob)?, &blob)
}

/// `digests/<stage>.txt` of a StageX tree as `id -> hex` (empty when the file is absent).
pub fn published(stagex: &Path, stage: &str) -> Result<BTreeMap<String, String>> {
    let path = stagex.join("digests").join(format!("{stage}.txt"));
    if !path.is_file() {
        return Ok(BTreeMap::new());
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(d, id)| (id.trim().to_string(), d.to_string()))
        .collect())
}

/// The published digest of one target, if StageX lists it.
pub fn published_for(stagex: &Path, graph: &Graph, id: &str) -> Result<Option<String>> {
    let stage = graph
        .targets
        .get(id)
        .map(|t| t.stage.clone())
        .ok_or_else(|| Error::Tree(format!("no target {id}")))?;
    Ok(published(stagex, &stage)?.remove(id))
}

/// Every `OUT/<id>/index.json` of a graph target as `(stage, id, hex)`, sorted by id.
pub fn built(out: &Path, graph: &Graph) -> Result<Vec<(String, String, String)>> {
    let mut found = Vec::new();
    for (id, t) in &graph.targets {
        let layout = out.join(id);
        if layout.join("index.json").is_file() {
            found.push((t.stage.clone(), id.clone(), manifest_digest(&layout)?));
        }
    }
    Ok(found)
}

/// Writes `OUT/digests/<stage>.txt` (`<hex> <id>` lines sorted by id, as digests.py does)
/// for every built target; returns the files written.
pub fn write_digests(out: &Path, graph: &Graph) -> Result<Vec<PathBuf>> {
    let mut by_stage: BTreeMap<String, String> = BTreeMap::new();
    for (stage, id, hex) in built(out, graph)? {
        by_stage
            .entry(stage)
            .or_default()
            .push_str(&format!("{hex} {id}\n"));
    }
    let dir = out.join("digests");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let mut written = Vec::new();
    for (stage, text) in by_stage {
        let path = dir.join(format!("{stage}.txt"));
        let tmp = dir.join(format!(".{stage}.txt.partial"));
        std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_index_to_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let l = dir.path();
        let (idx, man) = ("a".repeat(64), "b".repeat(64));
        std::fs::create_dir_all(l.join("blobs/sha256")).unwrap();
        std::fs::write(
            l.join("index.json"),
            format!(r#"{{"manifests":[{{"digest":"sha256:{idx}"}}]}}"#),
        )
        .unwrap();
        std::fs::write(
            l.join("blobs/sha256").join(&idx),
            format!(r#"{{"manifests":[{{"digest":"sha256:{man}"}}]}}"#),
        )
        .unwrap();
        assert_eq!(manifest_digest(l).unwrap(), man);
        std::fs::write(l.join("index.json"), r#"{"manifests":[]}"#).unwrap();
        let e = manifest_digest(l).unwrap_err().to_string();
        assert!(
            e.contains("index.json") && e.contains("manifests[0]"),
            "{e}"
        );
    }
}
