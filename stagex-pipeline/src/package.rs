//! The `packages/<stage>/<name>/package.toml` model, as StageX's `src/common.py` reads it.
//!
//! Unknown keys are ignored (StageX adds metadata keys over time); only the keys the
//! build uses are typed.

use indexmap::IndexMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};

/// A parsed `package.toml`.
#[derive(Debug, Clone, Deserialize)]
pub struct PackageToml {
    /// The `[package]` table.
    pub package: PackageSection,
    /// The `[sources.NAME]` tables in file order, as Python's tomllib gives them to StageX
    /// (the order of the `--build-arg`s targets.py writes).
    #[serde(default)]
    pub sources: IndexMap<String, SourceSection>,
}

/// The `[package]` table.
#[derive(Debug, Clone, Deserialize)]
pub struct PackageSection {
    /// Package name (also the `fetch/<stage>/<name>` directory).
    pub name: String,
    /// Version; absent for packages using `version_from`.
    #[serde(default)]
    pub version: Option<String>,
    /// `stage-name` of the package whose version this one inherits.
    #[serde(default)]
    pub version_from: Option<String>,
    /// Platforms the package is built for (bootstrap packages force `linux/386`).
    #[serde(default)]
    pub platforms: Vec<String>,
    /// Targets built from this directory's Containerfile (`--target package-NAME`).
    #[serde(default)]
    pub subpackages: Vec<String>,
    /// One-line description.
    #[serde(default)]
    pub description: Option<String>,
    /// SPDX license expression.
    #[serde(default)]
    pub license: Option<String>,
    /// Upstream homepage.
    #[serde(default)]
    pub website: Option<String>,
}

/// A `[sources.NAME]` table.
#[derive(Debug, Clone, Deserialize)]
pub struct SourceSection {
    /// Expected sha256 of the fetched file, lowercase hex.
    pub hash: String,
    /// Source version; falls back to the package version when empty.
    #[serde(default)]
    pub version: Option<String>,
    /// File name template; when absent the last path segment of the mirror URL is used.
    #[serde(default)]
    pub file: Option<String>,
    /// Archive format, substituted for `{format}`.
    #[serde(default)]
    pub format: Option<String>,
    /// Commit passed to the Containerfile as `NAME_GIT_SHA`.
    #[serde(default)]
    pub git_sha: Option<String>,
    /// Download URL templates, tried in order.
    pub mirrors: Vec<String>,
}

impl PackageToml {
    /// Parses TOML text; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        toml::from_str(text).map_err(|e| Error::PackageToml {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Reads and parses a `package.toml` file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, path)
    }
}

/// The placeholder values StageX derives from a version string (`src/common.py`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionForms {
    /// `{version}`.
    pub version: String,
    /// `{version_under}`: dots become underscores.
    pub under: String,
    /// `{version_dash}`: dots become dashes.
    pub dash: String,
    /// `{version_major}`: text before the first dot.
    pub major: String,
    /// `{version_major_minor}`: first two dot-separated parts.
    pub major_minor: String,
    /// `{version_strip_suffix}`: text before the first dash.
    pub strip_suffix: String,
}

impl VersionForms {
    /// Derives all forms of `version` (empty version gives empty forms, like common.py).
    pub fn new(version: &str) -> Self {
        if version.is_empty() {
            let e = String::new();
            return VersionForms {
                version: e.clone(),
                under: e.clone(),
                dash: e.clone(),
                major: e.clone(),
                major_minor: e.clone(),
                strip_suffix: e,
            };
        }
        let parts: Vec<&str> = version.split('.').collect();
        // common.py returns None for a dot-less version and str.format prints "None".
        let major_minor = if parts.len() >= 2 {
            parts[..2].join(".")
        } else {
            "None".to_string()
        };
        VersionForms {
            version: version.to_string(),
            under: version.replace('.', "_"),
            dash: version.replace('.', "-"),
            major: parts[0].to_string(),
            major_minor,
            strip_suffix: version.split('-').next().unwrap_or("").to_string(),
        }
    }

    /// Looks up a placeholder name (`version`, `version_dash`, ...).
    pub fn get(&self, key: &str) -> Option<&str> {
        Some(match key {
            "version" => &self.version,
            "version_under" => &self.under,
            "version_dash" => &self.dash,
            "version_major" => &self.major,
            "version_major_minor" => &self.major_minor,
            "version_strip_suffix" => &self.strip_suffix,
            _ => return None,
        })
    }
}

/// Expands a Python `str.format`-style template: `{key}` is replaced by `lookup(key)`,
/// `{{` and `}}` are literal braces; an unknown key is an error (Python raises KeyError).
pub fn expand_template(template: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String> {
    let err = |message: String| Error::Template {
        template: template.to_string(),
        message,
    };
    let mut out = String::with_capacity(template.len());
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut key = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(k) => key.push(k),
                        None => return Err(err("unterminated '{'".into())),
                    }
                }
                match lookup(&key) {
                    Some(v) => out.push_str(&v),
                    None => return Err(err(format!("unknown placeholder {{{key}}}"))),
                }
            }
            '}' => return Err(err("single '}' in template".into())),
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_forms_follow_common_py() {
        let v = VersionForms::new("1.2.3-rc.1");
        assert_eq!(v.under, "1_2_3-rc_1");
        assert_eq!(v.dash, "1-2-3-rc-1");
        assert_eq!(v.major, "1");
        assert_eq!(v.major_minor, "1.2");
        assert_eq!(v.strip_suffix, "1.2.3");
        assert_eq!(VersionForms::new("abc").major_minor, "None");
    }

    #[test]
    fn template_expansion_and_errors() {
        let look = |k: &str| (k == "version").then(|| "9.1".to_string());
        assert_eq!(
            expand_template("a-{version}.tar", &look).unwrap(),
            "a-9.1.tar"
        );
        assert_eq!(expand_template("{{x}}", &look).unwrap(), "{x}");
        assert!(expand_template("{nope}", &look).is_err());
        assert!(expand_template("{version", &look).is_err());
    }

    #[test]
    fn unknown_keys_are_tolerated_and_missing_hash_is_named() {
        let ok = "[package]\nname='x'\nfoo=1\n[sources.x]\nhash='ab'\nmirrors=['u']\nextra=2\n";
        let p = PackageToml::parse(ok, Path::new("p.toml")).unwrap();
        assert_eq!(p.sources["x"].hash, "ab");
        let bad = "[package]\nname='x'\n[sources.x]\nmirrors=['u']\n";
        let e = PackageToml::parse(bad, Path::new("p.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("p.toml") && e.contains("hash"), "{e}");
    }

    #[test]
    fn sources_keep_file_order() {
        let t = "[package]\nname='x'\n[sources.zed]\nhash='1'\nmirrors=['u']\n\
                 [sources.M2libc]\nhash='2'\nmirrors=['u']\n[sources.abc]\nhash='3'\nmirrors=['u']\n";
        let p = PackageToml::parse(t, Path::new("p.toml")).unwrap();
        let keys: Vec<&str> = p.sources.keys().map(String::as_str).collect();
        assert_eq!(keys, ["zed", "M2libc", "abc"]);
    }
}
