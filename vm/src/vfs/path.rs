//! Guest path resolution confined to the sandbox root.
//!
//! Every component is looked up on the host one at a time (`symlink_metadata`, which never
//! follows a link), `..` is applied to the guest path, never to the host path, and symlink
//! targets are re-resolved as guest paths (an absolute target starts again at the guest
//! root). So no path, however it mixes `..`, absolute names and links, names a host file
//! outside the root. The host path returned is built only from components checked this way.

use std::path::{Path, PathBuf};

use crate::errno::Errno;

/// Linux's limit on symlinks followed in one lookup.
const MAX_LINKS: usize = 40;
/// Linux's PATH_MAX.
pub const PATH_MAX: usize = 4096;

/// A resolved guest path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Normalised absolute guest path, e.g. `/x86/artifact/hex0`.
    pub guest: Vec<u8>,
    /// The host path inside the root.
    pub host: PathBuf,
    /// What is there now (None: nothing; the parent exists and is a directory).
    pub kind: Option<NodeKind>,
}

/// What a resolved path names on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    File,
    Dir,
    /// Only when the last component was not followed.
    Symlink,
    Other,
}

/// Splits a guest path into its components, dropping empty ones and `.`.
fn components(path: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
}

/// Joins components into a normalised absolute guest path.
pub fn join_guest(parts: &[Vec<u8>]) -> Vec<u8> {
    if parts.is_empty() {
        return b"/".to_vec();
    }
    let mut out = Vec::new();
    for p in parts {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    out
}

/// Converts guest bytes to a host path component.
pub fn host_component(c: &[u8]) -> PathBuf {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        PathBuf::from(std::ffi::OsStr::from_bytes(c))
    }
    #[cfg(not(unix))]
    {
        PathBuf::from(String::from_utf8_lossy(c).into_owned())
    }
}

fn host_bytes(p: &Path) -> Vec<u8> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        p.as_os_str().as_bytes().to_vec()
    }
    #[cfg(not(unix))]
    {
        p.to_string_lossy().into_owned().into_bytes()
    }
}

/// Resolves `path` (absolute, or relative to the guest directory `cwd`) inside `root`.
/// With `follow_last` false a final symlink is returned as itself (unlink, lstat, readlink).
pub fn resolve(root: &Path, cwd: &[u8], path: &[u8], follow_last: bool) -> Result<Resolved, Errno> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if path.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    let mut done: Vec<Vec<u8>> = Vec::new();
    if path[0] != b'/' {
        done.extend(components(cwd).map(|c| c.to_vec()));
    }
    // Components still to walk, last one at the front of the Vec's end (a stack).
    let mut todo: Vec<Vec<u8>> = components(path).rev().map(|c| c.to_vec()).collect();
    let mut links = 0;
    let mut kind = Some(NodeKind::Dir);
    while let Some(c) = todo.pop() {
        if c.len() > 255 {
            return Err(Errno::ENAMETOOLONG);
        }
        if kind != Some(NodeKind::Dir) {
            return Err(if kind.is_none() {
                Errno::ENOENT
            } else {
                Errno::ENOTDIR
            });
        }
        if c == b".." {
            done.pop();
            continue;
        }
        let host = host_of(root, &done).join(host_component(&c));
        let meta = match std::fs::symlink_metadata(&host) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Errno::from_io(&e)),
        };
        let last = todo.is_empty();
        match meta {
            None => kind = None,
            Some(m) if m.file_type().is_symlink() && (!last || follow_last) => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(Errno::ELOOP);
                }
                let target = std::fs::read_link(&host).map_err(|e| Errno::from_io(&e))?;
                let target = host_bytes(&target);
                if target.first() == Some(&b'/') {
                    done.clear();
                }
                todo.extend(components(&target).rev().map(|c| c.to_vec()));
                kind = Some(NodeKind::Dir);
                continue;
            }
            Some(m) => {
                let t = m.file_type();
                kind = Some(if t.is_dir() {
                    NodeKind::Dir
                } else if t.is_file() {
                    NodeKind::File
                } else if t.is_symlink() {
                    NodeKind::Symlink
                } else {
                    NodeKind::Other
                });
            }
        }
        done.push(c);
    }
    // A trailing slash demands a directory.
    if path.last() == Some(&b'/') && kind.is_some() && kind != Some(NodeKind::Dir) {
        return Err(Errno::ENOTDIR);
    }
    Ok(Resolved {
        guest: join_guest(&done),
        host: host_of(root, &done),
        kind,
    })
}

fn host_of(root: &Path, parts: &[Vec<u8>]) -> PathBuf {
    let mut p = root.to_path_buf();
    for c in parts {
        p.push(host_component(c));
    }
    p
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn sandbox() -> (tempdir::Dir, PathBuf) {
        let d = tempdir::Dir::new();
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/file"), b"x").unwrap();
        std::fs::write(d.path().join("secret"), b"host").unwrap();
        (d, root)
    }

    /// A minimal temporary directory (std only), removed on drop.
    mod tempdir {
        pub struct Dir(std::path::PathBuf);
        impl Dir {
            pub fn new() -> Self {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "vm-path-test-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
            pub fn path(&self) -> &std::path::Path {
                &self.0
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn dotdot_stops_at_the_root() {
        let (_d, root) = sandbox();
        let r = resolve(&root, b"/a/b", b"../../../../secret", true).unwrap();
        assert_eq!(r.guest, b"/secret");
        assert_eq!(r.host, root.join("secret"));
        assert_eq!(r.kind, None);
    }

    #[test]
    fn absolute_symlink_is_rebased_on_the_root() {
        let (d, root) = sandbox();
        symlink(d.path().join("secret"), root.join("esc")).unwrap();
        symlink("/a/file", root.join("ok")).unwrap();
        symlink("../../secret", root.join("a/b/rel")).unwrap();
        // The host-absolute target is read as a guest path, whose directories do not exist
        // inside the root.
        assert_eq!(resolve(&root, b"/", b"/esc", true), Err(Errno::ENOENT));
        std::fs::write(root.join("secret"), b"guest's own").unwrap();
        symlink("/secret", root.join("abs")).unwrap();
        let r = resolve(&root, b"/a", b"/abs", true).unwrap();
        assert_eq!(
            (r.host, r.kind),
            (root.join("secret"), Some(NodeKind::File))
        );
        let r = resolve(&root, b"/", b"ok", true).unwrap();
        assert_eq!(
            (r.guest.as_slice(), r.kind),
            (&b"/a/file"[..], Some(NodeKind::File))
        );
        let r = resolve(&root, b"/", b"/a/b/rel", true).unwrap();
        assert_eq!(r.guest, b"/secret");
        assert!(r.host.starts_with(&root));
        let r = resolve(&root, b"/", b"ok", false).unwrap();
        assert_eq!(r.kind, Some(NodeKind::Symlink));
    }

    #[test]
    fn loops_and_bad_components_are_errors() {
        let (_d, root) = sandbox();
        symlink("l2", root.join("l1")).unwrap();
        symlink("l1", root.join("l2")).unwrap();
        assert_eq!(resolve(&root, b"/", b"l1", true), Err(Errno::ELOOP));
        assert_eq!(resolve(&root, b"/", b"a/file/x", true), Err(Errno::ENOTDIR));
        assert_eq!(resolve(&root, b"/", b"nope/x", true), Err(Errno::ENOENT));
        assert_eq!(resolve(&root, b"/", b"", true), Err(Errno::ENOENT));
        assert_eq!(resolve(&root, b"/", b"a/file/", true), Err(Errno::ENOTDIR));
    }
}
