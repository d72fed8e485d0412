//! The sandboxed file view: a host directory is the guest's `/`.
//!
//! Paths are resolved by [`path::resolve`], which never leaves the root. Regular files are
//! served from memory ([`file`]). Metadata the guest can observe is fixed: the umask is 022
//! and new files get exactly the mode the guest asked for (minus the umask).

pub mod file;
pub mod path;

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::errno::Errno;
pub use file::{oflag, FileNode, FileRef, Handle, OpenFile, OpenRef};
pub use path::{NodeKind, Resolved};

/// The umask every guest process starts with.
pub const DEFAULT_UMASK: u32 = 0o022;

/// A host-side failure while writing guest files back: reported, never ignored.
#[derive(Debug, thiserror::Error)]
#[error("writing guest file {guest} back to {host}: {source}")]
pub struct WriteBackError {
    pub guest: String,
    pub host: PathBuf,
    #[source]
    pub source: io::Error,
}

/// The sandbox.
pub struct Vfs {
    root: PathBuf,
    /// Regular files currently open, by host path, so every descriptor sees the same bytes.
    open: HashMap<PathBuf, FileRef>,
}

impl Vfs {
    /// A sandbox rooted at the host directory `root` (which must exist).
    pub fn new(root: &Path) -> io::Result<Vfs> {
        let root = root.canonicalize()?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "sandbox root is not a directory",
            ));
        }
        Ok(Vfs {
            root,
            open: HashMap::new(),
        })
    }

    /// The host directory that is the guest's `/`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves a guest path (see [`path::resolve`]).
    pub fn resolve(&self, cwd: &[u8], path: &[u8], follow: bool) -> Result<Resolved, Errno> {
        path::resolve(&self.root, cwd, path, follow)
    }

    /// Whether the guest path names a file open right now (its data lives here).
    fn cached(&self, host: &Path) -> Option<FileRef> {
        self.open.get(host).cloned()
    }

    /// Reads a whole file as the guest sees it (including unsaved writes), for execve.
    pub fn read_whole(&self, r: &Resolved) -> Result<Vec<u8>, Errno> {
        match r.kind {
            None => Err(Errno::ENOENT),
            Some(NodeKind::Dir) => Err(Errno::EACCES),
            Some(NodeKind::File) => match self.cached(&r.host) {
                Some(node) => Ok(node.borrow().data.clone()),
                None => std::fs::read(&r.host).map_err(|e| Errno::from_io(&e)),
            },
            Some(_) => Err(Errno::EACCES),
        }
    }

    /// open(2). `mode` applies when the file is created.
    pub fn open(
        &mut self,
        cwd: &[u8],
        path: &[u8],
        flags: u32,
        mode: u32,
        umask: u32,
    ) -> Result<OpenFile, Errno> {
        let follow = flags & oflag::NOFOLLOW == 0;
        let r = self.resolve(cwd, path, follow)?;
        let acc = flags & oflag::ACCMODE;
        if acc == 3 {
            return Err(Errno::EINVAL);
        }
        let handle = match r.kind {
            Some(NodeKind::Dir) => {
                if acc != oflag::RDONLY || flags & oflag::CREAT != 0 {
                    return Err(Errno::EISDIR);
                }
                Handle::Dir { guest: r.guest }
            }
            _ if flags & oflag::DIRECTORY != 0 => {
                return Err(if r.kind.is_none() {
                    Errno::ENOENT
                } else {
                    Errno::ENOTDIR
                })
            }
            Some(NodeKind::File) => {
                if flags & oflag::CREAT != 0 && flags & oflag::EXCL != 0 {
                    return Err(Errno::EEXIST);
                }
                let node = match self.cached(&r.host) {
                    Some(n) => n,
                    None => {
                        let data = std::fs::read(&r.host).map_err(|e| Errno::from_io(&e))?;
                        let n = Rc::new(RefCell::new(FileNode {
                            guest: r.guest.clone(),
                            host: r.host.clone(),
                            data,
                            dirty: false,
                            unlinked: false,
                            written: false,
                        }));
                        self.open.insert(r.host.clone(), n.clone());
                        n
                    }
                };
                if flags & oflag::TRUNC != 0 && acc != oflag::RDONLY {
                    let mut n = node.borrow_mut();
                    n.data.clear();
                    n.dirty = true;
                    n.written = true;
                }
                Handle::File(node)
            }
            Some(NodeKind::Symlink) => return Err(Errno::ELOOP),
            Some(NodeKind::Other) => return Err(Errno::EACCES),
            None => {
                if flags & oflag::CREAT == 0 {
                    return Err(Errno::ENOENT);
                }
                // Create it on the host now, so lookups by other calls see it.
                std::fs::write(&r.host, b"").map_err(|e| Errno::from_io(&e))?;
                set_mode(&r.host, mode & 0o7777 & !umask).map_err(|e| Errno::from_io(&e))?;
                let n = Rc::new(RefCell::new(FileNode {
                    guest: r.guest.clone(),
                    host: r.host.clone(),
                    data: Vec::new(),
                    dirty: false,
                    unlinked: false,
                    written: true,
                }));
                self.open.insert(r.host.clone(), n.clone());
                Handle::File(n)
            }
        };
        Ok(OpenFile {
            handle,
            offset: 0,
            flags,
        })
    }

    /// Called after a descriptor's open file description went away: writes the file back
    /// and forgets it when no descriptor refers to it any more.
    pub fn release(&mut self, node: FileRef) -> Result<(), WriteBackError> {
        let host = node.borrow().host.clone();
        drop(node);
        if let Some(n) = self.open.get(&host) {
            if Rc::strong_count(n) == 1 {
                let n = self.open.remove(&host).expect("present");
                write_back(&mut n.borrow_mut())?;
            }
        }
        Ok(())
    }

    /// Writes every modified open file back to the host (exit, execve, end of run).
    pub fn sync(&mut self) -> Result<(), WriteBackError> {
        let mut nodes: Vec<&FileRef> = self.open.values().collect();
        nodes.sort_by(|a, b| a.borrow().host.cmp(&b.borrow().host));
        for n in nodes {
            write_back(&mut n.borrow_mut())?;
        }
        Ok(())
    }

    /// Writes every file back and forgets those no descriptor refers to, so their next
    /// open reads the host file again (a host program is about to run in the sandbox).
    pub fn forget_unused(&mut self) -> Result<(), WriteBackError> {
        self.sync()?;
        self.open.retain(|_, n| Rc::strong_count(n) > 1);
        Ok(())
    }

    /// unlink(2).
    pub fn unlink(&mut self, cwd: &[u8], path: &[u8]) -> Result<(), Errno> {
        let r = self.resolve(cwd, path, false)?;
        match r.kind {
            None => return Err(Errno::ENOENT),
            Some(NodeKind::Dir) => return Err(Errno::EISDIR),
            _ => {}
        }
        std::fs::remove_file(&r.host).map_err(|e| Errno::from_io(&e))?;
        if let Some(n) = self.open.remove(&r.host) {
            n.borrow_mut().unlinked = true;
        }
        Ok(())
    }

    /// mkdir(2).
    pub fn mkdir(&mut self, cwd: &[u8], path: &[u8], mode: u32, umask: u32) -> Result<(), Errno> {
        let r = self.resolve(cwd, path, false)?;
        if r.kind.is_some() {
            return Err(Errno::EEXIST);
        }
        std::fs::create_dir(&r.host).map_err(|e| Errno::from_io(&e))?;
        set_mode(&r.host, mode & 0o7777 & !umask).map_err(|e| Errno::from_io(&e))
    }

    /// rmdir(2).
    pub fn rmdir(&mut self, cwd: &[u8], path: &[u8]) -> Result<(), Errno> {
        let r = self.resolve(cwd, path, false)?;
        match r.kind {
            None => Err(Errno::ENOENT),
            Some(NodeKind::Dir) if r.guest == b"/" => Err(Errno::EPERM),
            Some(NodeKind::Dir) => std::fs::remove_dir(&r.host).map_err(|e| Errno::from_io(&e)),
            Some(_) => Err(Errno::ENOTDIR),
        }
    }

    /// rename(2), for regular files and directories inside the root.
    pub fn rename(&mut self, cwd: &[u8], from: &[u8], to: &[u8]) -> Result<(), Errno> {
        let a = self.resolve(cwd, from, false)?;
        let b = self.resolve(cwd, to, false)?;
        if a.kind.is_none() {
            return Err(Errno::ENOENT);
        }
        // Open files must land on the host first so the rename moves current contents.
        if let Some(n) = self.open.get(&a.host) {
            write_back(&mut n.borrow_mut()).map_err(|e| Errno::from_io(&e.source))?;
        }
        std::fs::rename(&a.host, &b.host).map_err(|e| Errno::from_io(&e))?;
        if let Some(n) = self.open.remove(&a.host) {
            {
                let mut node = n.borrow_mut();
                node.host = b.host.clone();
                node.guest = b.guest.clone();
            }
            self.open.insert(b.host, n);
        }
        Ok(())
    }

    /// chmod(2).
    pub fn chmod(&mut self, cwd: &[u8], path: &[u8], mode: u32) -> Result<(), Errno> {
        let r = self.resolve(cwd, path, true)?;
        if r.kind.is_none() {
            return Err(Errno::ENOENT);
        }
        set_mode(&r.host, mode & 0o7777).map_err(|e| Errno::from_io(&e))
    }

    /// access(2) for uid 0: read and write always succeed, execute needs some x bit.
    pub fn access(&self, cwd: &[u8], path: &[u8], mode: u32) -> Result<(), Errno> {
        if mode & !7 != 0 {
            return Err(Errno::EINVAL);
        }
        let r = self.resolve(cwd, path, true)?;
        let Some(kind) = r.kind else {
            return Err(Errno::ENOENT);
        };
        if mode & 1 != 0 && kind != NodeKind::Dir && host_mode(&r.host) & 0o111 == 0 {
            return Err(Errno::EACCES);
        }
        Ok(())
    }

    /// symlink(2): the link text is stored as given; it is resolved as a guest path.
    pub fn symlink(&mut self, cwd: &[u8], target: &[u8], link: &[u8]) -> Result<(), Errno> {
        let r = self.resolve(cwd, link, false)?;
        if r.kind.is_some() {
            return Err(Errno::EEXIST);
        }
        make_symlink(target, &r.host)
    }

    /// readlink(2).
    pub fn readlink(&self, cwd: &[u8], path: &[u8]) -> Result<Vec<u8>, Errno> {
        let r = self.resolve(cwd, path, false)?;
        if r.kind != Some(NodeKind::Symlink) {
            return Err(if r.kind.is_none() {
                Errno::ENOENT
            } else {
                Errno::EINVAL
            });
        }
        let t = std::fs::read_link(&r.host).map_err(|e| Errno::from_io(&e))?;
        Ok(path_bytes(&t))
    }
}

fn write_back(n: &mut FileNode) -> Result<(), WriteBackError> {
    if !n.dirty || n.unlinked {
        return Ok(());
    }
    let err = |source| WriteBackError {
        guest: String::from_utf8_lossy(&n.guest).into_owned(),
        host: n.host.clone(),
        source,
    };
    match std::fs::write(&n.host, &n.data) {
        Ok(()) => {}
        // The guest may have made its own file read-only (0555) after writing it.
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            let mode = host_mode(&n.host);
            set_mode(&n.host, mode | 0o200).map_err(err)?;
            std::fs::write(&n.host, &n.data).map_err(err)?;
            set_mode(&n.host, mode).map_err(err)?;
        }
        Err(e) => return Err(err(e)),
    }
    n.dirty = false;
    Ok(())
}

#[cfg(unix)]
fn set_mode(p: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
}
#[cfg(not(unix))]
fn set_mode(_p: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn host_mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0)
}
#[cfg(not(unix))]
fn host_mode(_p: &Path) -> u32 {
    0o755
}

#[cfg(unix)]
fn make_symlink(target: &[u8], at: &Path) -> Result<(), Errno> {
    std::os::unix::fs::symlink(path::host_component(target), at).map_err(|e| Errno::from_io(&e))
}
#[cfg(not(unix))]
fn make_symlink(_target: &[u8], _at: &Path) -> Result<(), Errno> {
    Err(Errno::EPERM)
}

fn path_bytes(p: &Path) -> Vec<u8> {
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
