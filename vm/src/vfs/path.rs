//! Guest path resolution confined to the sandbox root, by directory handles.
//!
//! Every component is looked up under a handle of the directory before it (`fstatat`
//! without following links), every directory walked through is opened with `O_NOFOLLOW`,
//! `..` pops the guest path (and the handle stack), never the host's, and symlink targets
//! are resolved again as guest paths (an absolute target starts again at the guest root).
//! So no path, however it mixes `..`, absolute names and links, and whatever another
//! process swaps in meanwhile, reaches a host file outside the root: a swapped component
//! makes the lookup fail instead.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use cap_std::fs::Dir;

use super::host;
use crate::errno::Errno;

/// Linux's limit on symlinks followed in one lookup.
const MAX_LINKS: usize = 40;
/// Linux's PATH_MAX.
pub const PATH_MAX: usize = 4096;

/// A resolved guest path.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Normalised absolute guest path, e.g. `/x86/artifact/hex0`.
    pub guest: Vec<u8>,
    /// The directory holding the last component (the root itself for `/`).
    pub(crate) parent: Rc<Dir>,
    /// The last component's host name (None for `/`).
    pub(crate) name: Option<PathBuf>,
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

/// The bytes of a host path.
pub fn host_bytes(p: &Path) -> Vec<u8> {
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

fn kind_of(t: cap_std::fs::FileType) -> NodeKind {
    if t.is_dir() {
        NodeKind::Dir
    } else if t.is_file() {
        NodeKind::File
    } else if t.is_symlink() {
        NodeKind::Symlink
    } else {
        NodeKind::Other
    }
}

/// Resolves `path` (absolute, or relative to the guest directory `cwd`) under `root`.
/// With `follow_last` false a final symlink is returned as itself (unlink, lstat, readlink).
pub fn resolve(
    root: &Rc<Dir>,
    cwd: &[u8],
    path: &[u8],
    follow_last: bool,
) -> Result<Resolved, Errno> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if path.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    // Components still to walk, the next one at the end (a stack).
    let mut todo: Vec<Vec<u8>> = components(path).rev().map(|c| c.to_vec()).collect();
    if path[0] != b'/' {
        todo.extend(components(cwd).rev().map(|c| c.to_vec()));
    }
    let mut done: Vec<Vec<u8>> = Vec::new();
    // dirs[i] is the handle of the directory join_guest(&done[..i]).
    let mut dirs: Vec<Rc<Dir>> = vec![root.clone()];
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
            if done.pop().is_some() {
                dirs.truncate(done.len() + 1);
            }
            continue;
        }
        // The previous component was a directory, so its handle is open.
        let dir = dirs[done.len()].clone();
        let name = host_component(&c);
        let meta = match dir.symlink_metadata(&name) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Errno::from_io(&e)),
        };
        let last = todo.is_empty();
        kind = meta.map(|m| kind_of(m.file_type()));
        if kind == Some(NodeKind::Symlink) && (!last || follow_last) {
            links += 1;
            if links > MAX_LINKS {
                return Err(Errno::ELOOP);
            }
            let target = host::read_link(&dir, &name).map_err(|e| Errno::from_io(&e))?;
            if target.first() == Some(&b'/') {
                done.clear();
                dirs.truncate(1);
            }
            todo.extend(components(&target).rev().map(|c| c.to_vec()));
            kind = Some(NodeKind::Dir);
            continue;
        }
        if !last && kind == Some(NodeKind::Dir) {
            let h = host::open_dir(&dir, &name).map_err(|e| Errno::from_io(&e))?;
            dirs.truncate(done.len() + 1);
            dirs.push(Rc::new(h));
        }
        done.push(c);
    }
    // A trailing slash demands a directory.
    if path.last() == Some(&b'/') && kind.is_some() && kind != Some(NodeKind::Dir) {
        return Err(Errno::ENOTDIR);
    }
    let (parent, name) = match done.last() {
        None => (dirs[0].clone(), None),
        Some(c) => (dirs[done.len() - 1].clone(), Some(host_component(c))),
    };
    Ok(Resolved {
        guest: join_guest(&done),
        parent,
        name,
        kind,
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    struct Sandbox {
        _tmp: tempfile::TempDir,
        root: PathBuf,
        dir: Rc<Dir>,
    }

    fn sandbox() -> Sandbox {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/file"), b"x").unwrap();
        std::fs::write(tmp.path().join("secret"), b"host").unwrap();
        let dir = Rc::new(host::open_root(&root).unwrap());
        Sandbox {
            _tmp: tmp,
            root,
            dir,
        }
    }

    fn res(
        s: &Sandbox,
        cwd: &[u8],
        p: &[u8],
        follow: bool,
    ) -> Result<(Vec<u8>, Option<NodeKind>), Errno> {
        resolve(&s.dir, cwd, p, follow).map(|r| (r.guest, r.kind))
    }

    #[test]
    fn dotdot_stops_at_the_root() {
        let s = sandbox();
        assert_eq!(
            res(&s, b"/a/b", b"../../../../secret", true),
            Ok((b"/secret".to_vec(), None))
        );
    }

    #[test]
    fn absolute_symlink_is_rebased_on_the_root() {
        let s = sandbox();
        let outside = s.root.parent().unwrap().join("secret");
        symlink(&outside, s.root.join("esc")).unwrap();
        symlink("/a/file", s.root.join("ok")).unwrap();
        symlink("../../secret", s.root.join("a/b/rel")).unwrap();
        // The host-absolute target is read as a guest path, whose directories do not exist
        // inside the root.
        assert_eq!(res(&s, b"/", b"/esc", true), Err(Errno::ENOENT));
        std::fs::write(s.root.join("secret"), b"guest's own").unwrap();
        symlink("/secret", s.root.join("abs")).unwrap();
        assert_eq!(
            res(&s, b"/a", b"/abs", true),
            Ok((b"/secret".to_vec(), Some(NodeKind::File)))
        );
        assert_eq!(
            res(&s, b"/", b"ok", true),
            Ok((b"/a/file".to_vec(), Some(NodeKind::File)))
        );
        assert_eq!(
            res(&s, b"/", b"/a/b/rel", true),
            Ok((b"/secret".to_vec(), Some(NodeKind::File)))
        );
        assert_eq!(
            res(&s, b"/", b"ok", false),
            Ok((b"/ok".to_vec(), Some(NodeKind::Symlink)))
        );
    }

    #[test]
    fn the_parent_handle_is_the_directory_holding_the_name() {
        let s = sandbox();
        let r = resolve(&s.dir, b"/a/b", b"../file", true).unwrap();
        assert_eq!(r.name.as_deref(), Some(Path::new("file")));
        assert_eq!(
            host::read_all(&r.parent.open(r.name.unwrap()).unwrap()).unwrap(),
            b"x"
        );
        let r = resolve(&s.dir, b"/", b"/", true).unwrap();
        assert_eq!(
            (r.guest, r.name, r.kind),
            (b"/".to_vec(), None, Some(NodeKind::Dir))
        );
    }

    #[test]
    fn loops_and_bad_components_are_errors() {
        let s = sandbox();
        symlink("l2", s.root.join("l1")).unwrap();
        symlink("l1", s.root.join("l2")).unwrap();
        assert_eq!(res(&s, b"/", b"l1", true), Err(Errno::ELOOP));
        assert_eq!(res(&s, b"/", b"a/file/x", true), Err(Errno::ENOTDIR));
        assert_eq!(res(&s, b"/", b"nope/x", true), Err(Errno::ENOENT));
        assert_eq!(res(&s, b"/", b"", true), Err(Errno::ENOENT));
        assert_eq!(res(&s, b"/", b"a/file/", true), Err(Errno::ENOTDIR));
    }
}
