//! Source files of a package: names, URLs and hashes as `src/fetch.py` computes them,
//! and the `fetch/<stage>/<name>/<file>` layout the Makefile copies into build contexts.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::package::{expand_template, PackageToml, SourceSection, VersionForms};

/// One source with its templates expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedSource {
    /// The `[sources.NAME]` key.
    pub key: String,
    /// File name inside `fetch/<stage>/<name>/`.
    pub file: String,
    /// Expected sha256, lowercase hex.
    pub hash: String,
    /// The source version used for the placeholders.
    pub version: String,
    /// Mirror URLs with placeholders expanded, in order.
    pub urls: Vec<String>,
}

/// Last path segment of a URL, as `urlsplit(mirror).path.split("/")[-1]`.
fn url_file(url: &str) -> &str {
    let no_query = url.split(['?', '#']).next().unwrap_or(url);
    let path = match no_query.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => no_query,
    };
    path.rsplit('/').next().unwrap_or("")
}

/// Expands one source's file name and mirror URLs. `package_version` is the package's
/// (resolved) version, used when the source has none, as fetch.py does.
pub fn resolve_source(
    key: &str,
    src: &SourceSection,
    package_version: Option<&str>,
) -> Result<ResolvedSource> {
    let version = match src.version.as_deref() {
        Some(v) if !v.is_empty() => v.to_string(),
        _ => package_version.unwrap_or("").to_string(),
    };
    let forms = VersionForms::new(&version);
    let format = src.format.clone().unwrap_or_default();
    let base = |k: &str| -> Option<String> {
        if k == "format" {
            return Some(format.clone());
        }
        forms.get(k).map(str::to_string)
    };
    let first_mirror = src.mirrors.first().map(String::as_str).unwrap_or("");
    let file_template = match src.file.as_deref() {
        Some(f) if !f.is_empty() => f.to_string(),
        _ => url_file(first_mirror).to_string(),
    };
    let file = expand_template(&file_template, &base)?;
    if file.is_empty() || file.contains('/') || file == ".." {
        return Err(Error::Template {
            template: file_template,
            message: format!("source {key}: unusable file name {file:?}"),
        });
    }
    let with_file = |k: &str| {
        if k == "file" {
            Some(file.clone())
        } else {
            base(k)
        }
    };
    let urls = src
        .mirrors
        .iter()
        .map(|m| expand_template(m, &with_file))
        .collect::<Result<Vec<_>>>()?;
    Ok(ResolvedSource {
        key: key.to_string(),
        file,
        hash: src.hash.to_ascii_lowercase(),
        version,
        urls,
    })
}

/// All sources of a package, in package.toml order.
pub fn resolve_sources(
    package: &PackageToml,
    package_version: Option<&str>,
) -> Result<Vec<ResolvedSource>> {
    package
        .sources
        .iter()
        .map(|(k, s)| resolve_source(k, s, package_version))
        .collect()
}

/// `fetch/<stage>/<name>` under a StageX tree (name is package.toml's `name`).
pub fn fetch_dir(stagex: &Path, stage: &str, package_name: &str) -> PathBuf {
    stagex.join("fetch").join(stage).join(package_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_from_template_or_mirror() {
        let toml = r#"
[package]
name = "p"
version = "1.2.3"
[sources.a]
hash = "AB"
format = "tar.xz"
file = "p-{version_major_minor}.{format}"
mirrors = ["https://h/x/{file}", "https://m/{version_dash}/{file}"]
[sources.b]
hash = "cd"
version = "abc"
mirrors = ["https://github.com/o/r/archive/{version}.tar.gz?x=1"]
"#;
        let p = PackageToml::parse(toml, Path::new("t")).unwrap();
        let s = resolve_sources(&p, Some("1.2.3")).unwrap();
        assert_eq!(s[0].file, "p-1.2.tar.xz");
        assert_eq!(s[0].hash, "ab");
        assert_eq!(s[0].urls[1], "https://m/1-2-3/p-1.2.tar.xz");
        assert_eq!(s[1].file, "{version}.tar.gz".replace("{version}", "abc"));
        assert_eq!(
            s[1].urls[0],
            "https://github.com/o/r/archive/abc.tar.gz?x=1"
        );
    }
}
