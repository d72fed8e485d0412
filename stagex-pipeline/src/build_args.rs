//! The `--build-arg`s StageX's `src/targets.py` passes for a target, and `${NAME}`
//! expansion of Containerfile arguments with them.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::graph::Target;
use crate::package::VersionForms;
use crate::sources::resolve_source;

/// Build arguments every target gets (`--build-arg` lines of the Makefile recipe).
pub const COMMON_BUILD_ARGS: &[(&str, &str)] = &[
    ("SOURCE_DATE_EPOCH", "1"),
    ("BUILDKIT_MULTI_PLATFORM", "1"),
    (
        "BUILDKIT_DOCKERFILE_CHECK",
        "skip=FromPlatformFlagConstDisallowed;error=true",
    ),
];

/// `get_build_args`: `VERSION*` from the package version, then per source with a version
/// `<KEY>_VERSION`, `<KEY>_SOURCE` (the fetch/ file name) and `<KEY>_GIT_SHA`, sources in
/// package.toml's order as targets.py writes them.
pub fn target_build_args(target: &Target) -> Result<Vec<(String, String)>> {
    let mut args = Vec::new();
    if let Some(v) = target.version.as_deref() {
        let f = VersionForms::new(v);
        for (k, val) in [
            ("VERSION", &f.version),
            ("VERSION_UNDER", &f.under),
            ("VERSION_DASH", &f.dash),
            ("VERSION_MAJOR", &f.major),
            ("VERSION_MAJOR_MINOR", &f.major_minor),
            ("VERSION_STRIP_SUFFIX", &f.strip_suffix),
        ] {
            args.push((k.to_string(), val.clone()));
        }
    }
    for (key, src) in &target.package.sources {
        let upper = key.to_ascii_uppercase();
        if src.version.as_deref().is_some_and(|v| !v.is_empty()) {
            let resolved = resolve_source(key, src, target.version.as_deref())?;
            args.push((format!("{upper}_VERSION"), resolved.version));
            args.push((format!("{upper}_SOURCE"), resolved.file));
        }
        if let Some(sha) = src.git_sha.as_deref().filter(|s| !s.is_empty()) {
            args.push((format!("{upper}_GIT_SHA"), sha.to_string()));
        }
    }
    Ok(args)
}

/// Expands `${NAME}` and `$NAME` in `text` from `args`; an unknown name is an error
/// (BuildKit would expand it to nothing, which here would silently copy the wrong path).
pub fn expand_args(text: &str, args: &BTreeMap<String, String>) -> Result<String> {
    let err = |message: String| Error::Template {
        template: text.to_string(),
        message,
    };
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, consumed) = if let Some(braced) = after.strip_prefix('{') {
            let end = braced
                .find('}')
                .ok_or_else(|| err("unterminated ${".into()))?;
            (&braced[..end], end + 2)
        } else {
            let end = after.find(|c| !is_name(c)).unwrap_or(after.len());
            (&after[..end], end)
        };
        if name.is_empty() || !name.chars().all(is_name) {
            return Err(err(format!("unsupported variable reference ${after}")));
        }
        let value = args
            .get(name)
            .ok_or_else(|| err(format!("no build argument {name}")))?;
        out.push_str(value);
        rest = &after[consumed..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_braced_and_bare_names() {
        let args = BTreeMap::from([
            ("A_VERSION".to_string(), "1.2".to_string()),
            ("B".to_string(), "x".to_string()),
        ]);
        assert_eq!(
            expand_args("/a-${A_VERSION}/$B/c", &args).unwrap(),
            "/a-1.2/x/c"
        );
        assert_eq!(expand_args("plain", &args).unwrap(), "plain");
        let e = expand_args("/a-${NOPE}", &args).unwrap_err().to_string();
        assert!(e.contains("NOPE"), "{e}");
        assert!(expand_args("/a-${A_VERSION", &args).is_err());
    }
}
