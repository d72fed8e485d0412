//! The sandboxed file view: a host directory is the guest's `/`.
//!
//! Paths are resolved by [`path::resolve`] into a directory handle and a name, and every
//! host call goes through such a handle ([`host`]), so nothing reaches outside the root.
//! Regular files are served from memory while open ([`file`]) and written back through
//! the host handle they were opened with. Metadata the guest can observe is fixed: the
//! umask is 022 and new files get exactly the mode the guest asked for (minus the umask and
//! any setuid, setgid or sticky bit, which never reach the host).
//!
//! A scratch sandbox ([`Vfs::new_scratch`]) never changes the host tree: it reads the tree,
//! keeps what the guests write in memory for its whole life, and refuses calls that change
//! names. An instruction trace replays a finished step in its tree this way.

pub mod file;
pub mod host;
pub mod path;

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use cap_std::fs::Dir;

use crate::errno::Errno;
pub use file::{oflag, FileNode, FileRef, Handle, OpenFile, OpenRef};
use host::FileKey;
pub use path::{NodeKind, Resolved};

/// The umask every guest process starts with.
pub const DEFAULT_UMASK: u32 = 0o022;

/// How many host files the sandbox holds open at once (each open regular file the guests
/// share counts once); past it, open fails with ENFILE.
pub const MAX_OPEN_FILES: usize = 4096;

/// A host-side failure while writing guest files back: reported, never ignored.
#[derive(Debug, thiserror::Error)]
#[error("writing guest file {guest} back under {root}: {source}")]
pub struct WriteBackError {
    pub guest: String,
    pub root: PathBuf,
    #[source]
    pub source: io::Error,
}

/// The sandbox.
pub struct Vfs {
    root_path: PathBuf,
    root: Rc<Dir>,
    /// Regular files the guests know: open ones (with contents) and closed ones a running
    /// image wrote (path and digest only), by host identity, so every descriptor sees the
    /// same bytes whatever path reached the file.
    nodes: HashMap<FileKey, FileRef>,
    /// Nodes holding a host handle right now.
    open_files: usize,
    /// Scratch mode: nothing is written to the host.
    scratch: bool,
    /// Files a scratch sandbox created, by normalised guest path (they exist only here).
    created: HashMap<Vec<u8>, FileRef>,
}

fn errno(e: io::Error) -> Errno {
    Errno::from_io(&e)
}

impl Vfs {
    /// A sandbox rooted at the host directory `root` (which must exist).
    pub fn new(root: &Path) -> io::Result<Vfs> {
        let root_path = root.canonicalize()?;
        if !root_path.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "sandbox root is not a directory",
            ));
        }
        let dir = host::open_root(&root_path)?;
        Ok(Vfs {
            root_path,
            root: Rc::new(dir),
            nodes: HashMap::new(),
            open_files: 0,
            scratch: false,
            created: HashMap::new(),
        })
    }

    /// A scratch sandbox on `root`: the guests see the tree and their own changes, the
    /// host tree never changes. Files written or created stay in memory as long as the
    /// `Vfs` lives (never written back); mkdir, rmdir, unlink, rename and symlink fail with
    /// EROFS; chmod and fchmod succeed and change nothing. Files it created are found by
    /// open and execve, not by stat.
    pub fn new_scratch(root: &Path) -> io::Result<Vfs> {
        let mut v = Vfs::new(root)?;
        v.scratch = true;
        Ok(v)
    }

    /// Whether this is a scratch sandbox.
    pub fn is_scratch(&self) -> bool {
        self.scratch
    }

    /// The in-memory file a scratch sandbox created at `r`, if any.
    fn created_at(&self, r: &Resolved) -> Option<FileRef> {
        self.created.get(&r.guest).cloned()
    }

    /// Fails with EROFS in a scratch sandbox (a call that would change names on the host).
    fn changes_names(&self) -> Result<(), Errno> {
        if self.scratch {
            return Err(Errno::EROFS);
        }
        Ok(())
    }

    /// The host directory that is the guest's `/` (for host programs run in the sandbox
    /// and for messages; the sandbox itself never uses it).
    pub fn root(&self) -> &Path {
        &self.root_path
    }

    /// Resolves a guest path (see [`path::resolve`]).
    pub fn resolve(&self, cwd: &[u8], path: &[u8], follow: bool) -> Result<Resolved, Errno> {
        let mut r = path::resolve(&self.root, cwd, path, follow)?;
        if self.scratch && r.kind.is_none() && self.created.contains_key(&r.guest) {
            r.kind = Some(NodeKind::File);
        }
        Ok(r)
    }

    /// Reads a whole file as the guest sees it (including unsaved writes), for execve.
    pub fn read_whole(&self, r: &Resolved) -> Result<Vec<u8>, Errno> {
        if let Some(n) = self.created_at(r) {
            return Ok(n.borrow().data.clone());
        }
        match (r.kind, &r.name) {
            (None, _) => Err(Errno::ENOENT),
            (Some(NodeKind::File), Some(name)) => {
                let f = host::open_file(&r.parent, name, false).map_err(errno)?;
                let key = host::key_of(&f).map_err(errno)?;
                match self.nodes.get(&key) {
                    Some(n) if n.borrow().resident => Ok(n.borrow().data.clone()),
                    _ => host::read_all(&f).map_err(errno),
                }
            }
            _ => Err(Errno::EACCES),
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
        let write = acc != oflag::RDONLY;
        let handle = match (r.kind, r.name.as_deref()) {
            (Some(NodeKind::Dir), _) => {
                if write || flags & oflag::CREAT != 0 {
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
            (Some(NodeKind::File), Some(name)) => {
                if flags & oflag::CREAT != 0 && flags & oflag::EXCL != 0 {
                    return Err(Errno::EEXIST);
                }
                let node = match self.created_at(&r) {
                    Some(n) => {
                        n.borrow_mut().descriptions += 1;
                        n
                    }
                    // A scratch sandbox reads the host file and keeps writes in memory.
                    None => {
                        self.open_existing(&r.parent, name, &r.guest, write && !self.scratch)?
                    }
                };
                if flags & oflag::TRUNC != 0 && write {
                    let mut n = node.borrow_mut();
                    n.data.clear();
                    n.dirty = true;
                    n.written = true;
                }
                Handle::File(node)
            }
            (Some(NodeKind::Symlink), _) => return Err(Errno::ELOOP),
            (None, Some(name)) => {
                if flags & oflag::CREAT == 0 {
                    return Err(Errno::ENOENT);
                }
                // open("name/", O_CREAT) names a directory that is not there.
                if path.last() == Some(&b'/') {
                    return Err(Errno::EISDIR);
                }
                if self.scratch {
                    let key = FileKey::in_memory(self.created.len() as u64);
                    let n = Rc::new(RefCell::new(FileNode::in_memory(r.guest.clone(), key)));
                    self.created.insert(r.guest, n.clone());
                    return Ok(OpenFile {
                        handle: Handle::File(n),
                        offset: 0,
                        flags,
                    });
                }
                self.reserve_host_file()?;
                // Created on the host now, so lookups by other calls see it.
                let f = host::create_file(&r.parent, name, mode & !umask).map_err(errno)?;
                let key = host::key_of(&f).map_err(errno)?;
                let mut n = FileNode::new(r.guest, key, f, true, Vec::new());
                n.written = true;
                n.descriptions = 1;
                self.open_files += 1;
                let n = Rc::new(RefCell::new(n));
                self.nodes.insert(key, n.clone());
                Handle::File(n)
            }
            _ => return Err(Errno::EACCES),
        };
        Ok(OpenFile {
            handle,
            offset: 0,
            flags,
        })
    }

    fn reserve_host_file(&self) -> Result<(), Errno> {
        if self.open_files >= MAX_OPEN_FILES {
            return Err(Errno::ENFILE);
        }
        Ok(())
    }

    /// Opens an existing regular file as one more open file description of its node.
    fn open_existing(
        &mut self,
        dir: &Dir,
        name: &Path,
        guest: &[u8],
        write: bool,
    ) -> Result<FileRef, Errno> {
        let f = host::open_file(dir, name, write).map_err(errno)?;
        let key = host::key_of(&f).map_err(errno)?;
        let Some(node) = self.nodes.get(&key).cloned() else {
            self.reserve_host_file()?;
            let data = host::read_all(&f).map_err(errno)?;
            let mut n = FileNode::new(guest.to_vec(), key, f, write, data);
            n.descriptions = 1;
            self.open_files += 1;
            let n = Rc::new(RefCell::new(n));
            self.nodes.insert(key, n.clone());
            return Ok(n);
        };
        {
            let mut n = node.borrow_mut();
            if n.host.is_none() {
                self.reserve_host_file()?;
                // Closed since: the host has its bytes.
                n.data = host::read_all(&f).map_err(errno)?;
                n.resident = true;
                n.digest = None;
                n.host = Some(f);
                n.host_writable = write;
                self.open_files += 1;
            } else if write && !n.host_writable {
                // The same file, now opened for writing: write back through this handle.
                n.host = Some(f);
                n.host_writable = true;
            }
            n.descriptions += 1;
        }
        Ok(node)
    }

    /// Called after an open file description went away: when it was the node's last, the
    /// file is written back through its handle, the handle closed and the bytes dropped
    /// (a node a running image wrote keeps its path and digest for its record).
    pub fn release(&mut self, node: FileRef) -> Result<(), WriteBackError> {
        let last = {
            let mut n = node.borrow_mut();
            n.descriptions = n.descriptions.saturating_sub(1);
            n.descriptions == 0
        };
        // A scratch sandbox keeps every file it knows in memory: the host has older bytes.
        if !last || self.scratch {
            return Ok(());
        }
        let res = self.write_back(&mut node.borrow_mut());
        if node.borrow_mut().host.take().is_some() {
            self.open_files -= 1;
        }
        if self.drop_if_unreferenced(&node) {
            return res;
        }
        let mut n = node.borrow_mut();
        n.digest = Some(n.sha256());
        n.data = Vec::new();
        n.resident = false;
        res
    }

    /// Forgets `node` if nothing but the table refers to it any more (a running image's
    /// record let go of it).
    pub fn forget(&mut self, node: FileRef) {
        if node.borrow().descriptions == 0 && !self.scratch {
            self.drop_if_unreferenced(&node);
        }
    }

    /// Removes `node` from the table when only the table and the caller hold it; returns
    /// whether nobody else needs it.
    fn drop_if_unreferenced(&mut self, node: &FileRef) -> bool {
        let key = node.borrow().key;
        let known = self.nodes.get(&key).is_some_and(|k| Rc::ptr_eq(k, node));
        if Rc::strong_count(node) != 1 + known as usize {
            return false;
        }
        if known {
            self.nodes.remove(&key);
        }
        true
    }

    fn write_back(&self, n: &mut FileNode) -> Result<(), WriteBackError> {
        if !n.dirty || n.unlinked || !n.resident || self.scratch {
            return Ok(());
        }
        let err = |source| WriteBackError {
            guest: String::from_utf8_lossy(&n.guest).into_owned(),
            root: self.root_path.clone(),
            source,
        };
        let Some(f) = n.host.as_ref() else {
            return Err(err(io::Error::other("no host handle for a modified file")));
        };
        host::write_all(f, &n.data).map_err(err)?;
        n.dirty = false;
        Ok(())
    }

    /// Writes every modified open file back to the host (exit, execve, end of run).
    pub fn sync(&mut self) -> Result<(), WriteBackError> {
        let mut nodes: Vec<&FileRef> = self.nodes.values().collect();
        nodes.sort_by(|a, b| a.borrow().guest.cmp(&b.borrow().guest));
        for n in nodes {
            self.write_back(&mut n.borrow_mut())?;
        }
        Ok(())
    }

    /// Writes every file back and forgets those no descriptor refers to, so their next
    /// open reads the host file again (a host program is about to run in the sandbox).
    pub fn forget_unused(&mut self) -> Result<(), WriteBackError> {
        self.sync()?;
        if !self.scratch {
            self.nodes.retain(|_, n| n.borrow().descriptions > 0);
        }
        Ok(())
    }

    /// The node of a known file at (`dir`, `name`), if any.
    fn node_at(&self, dir: &Dir, name: &Path) -> Option<FileRef> {
        let key = host::key_at(dir, name).ok()?;
        self.nodes.get(&key).cloned()
    }

    /// unlink(2).
    pub fn unlink(&mut self, cwd: &[u8], path: &[u8]) -> Result<(), Errno> {
        self.changes_names()?;
        let r = self.resolve(cwd, path, false)?;
        let name = match (r.kind, &r.name) {
            (None, _) => return Err(Errno::ENOENT),
            (Some(NodeKind::Dir), _) | (_, None) => return Err(Errno::EISDIR),
            (_, Some(name)) => name,
        };
        let node = self.node_at(&r.parent, name);
        r.parent.remove_file(name).map_err(errno)?;
        if let Some(n) = node {
            self.name_removed(&n);
        }
        Ok(())
    }

    /// One name of `n` went (unlink, or replaced by a rename). If the host file has no
    /// other name left it is gone: never written back, and no longer found by identity.
    /// With another name (a hard link already in the tree) it is still the file behind it,
    /// and what the guest writes must reach the host.
    fn name_removed(&mut self, n: &FileRef) {
        let linked = n.borrow().host.as_ref().is_some_and(host::still_linked);
        if !linked {
            n.borrow_mut().unlinked = true;
            self.nodes.remove(&n.borrow().key);
        }
    }

    /// mkdir(2).
    pub fn mkdir(&mut self, cwd: &[u8], path: &[u8], mode: u32, umask: u32) -> Result<(), Errno> {
        self.changes_names()?;
        let r = self.resolve(cwd, path, false)?;
        match (r.kind, &r.name) {
            (None, Some(name)) => host::create_dir(&r.parent, name, mode & !umask).map_err(errno),
            _ => Err(Errno::EEXIST),
        }
    }

    /// rmdir(2).
    pub fn rmdir(&mut self, cwd: &[u8], path: &[u8]) -> Result<(), Errno> {
        self.changes_names()?;
        let r = self.resolve(cwd, path, false)?;
        match (r.kind, &r.name) {
            (None, _) => Err(Errno::ENOENT),
            (Some(NodeKind::Dir), None) => Err(Errno::EPERM),
            (Some(NodeKind::Dir), Some(name)) => r.parent.remove_dir(name).map_err(errno),
            (Some(_), _) => Err(Errno::ENOTDIR),
        }
    }

    /// rename(2), for regular files, links and directories inside the root. An open file
    /// keeps its host handle, so it follows the rename (or, replaced, is never written back).
    pub fn rename(&mut self, cwd: &[u8], from: &[u8], to: &[u8]) -> Result<(), Errno> {
        self.changes_names()?;
        let a = self.resolve(cwd, from, false)?;
        let b = self.resolve(cwd, to, false)?;
        if a.kind.is_none() {
            return Err(Errno::ENOENT);
        }
        let (Some(an), Some(bn)) = (&a.name, &b.name) else {
            return Err(Errno::EBUSY);
        };
        let moved = self.node_at(&a.parent, an);
        let replaced = self.node_at(&b.parent, bn);
        a.parent.rename(an, &b.parent, bn).map_err(errno)?;
        if let Some(n) = replaced {
            if !moved.as_ref().is_some_and(|m| Rc::ptr_eq(m, &n)) {
                self.name_removed(&n);
            }
        }
        if let Some(n) = moved {
            n.borrow_mut().guest = b.guest.clone();
        }
        if a.kind == Some(NodeKind::Dir) {
            // Files below a renamed directory are known by their new paths.
            let mut prefix = a.guest.clone();
            prefix.push(b'/');
            for n in self.nodes.values() {
                let mut n = n.borrow_mut();
                if let Some(rest) = n.guest.strip_prefix(prefix.as_slice()) {
                    let mut g = b.guest.clone();
                    g.push(b'/');
                    g.extend_from_slice(rest);
                    n.guest = g;
                }
            }
        }
        Ok(())
    }

    /// chmod(2): only the permission bits reach the host.
    pub fn chmod(&mut self, cwd: &[u8], path: &[u8], mode: u32) -> Result<(), Errno> {
        let r = self.resolve(cwd, path, true)?;
        match (r.kind, &r.name) {
            (None, _) => Err(Errno::ENOENT),
            _ if self.scratch => Ok(()),
            (_, None) => host::set_dir_mode(&r.parent, mode).map_err(errno),
            (_, Some(name)) => host::set_mode_at(&r.parent, name, mode).map_err(errno),
        }
    }

    /// fchmod(2) on an open regular file, through its host handle.
    pub fn fchmod(&mut self, node: &FileRef, mode: u32) -> Result<(), Errno> {
        if self.scratch {
            return Ok(());
        }
        match node.borrow().host.as_ref() {
            Some(f) => host::set_file_mode(f, mode).map_err(errno),
            None => Err(Errno::EBADF),
        }
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
        // A scratch sandbox keeps no modes for the files it created.
        if self.created.contains_key(&r.guest) {
            return Ok(());
        }
        if mode & 1 != 0 && kind != NodeKind::Dir {
            let m = match &r.name {
                Some(name) => host::mode_at(&r.parent, name),
                None => host::dir_mode(&r.parent),
            };
            if m.map_err(errno)? & 0o111 == 0 {
                return Err(Errno::EACCES);
            }
        }
        Ok(())
    }

    /// symlink(2): the guest reads back the text it gave, and resolves it as a guest path;
    /// the host keeps a text no host lookup can follow out of the root ([`host`]).
    pub fn symlink(&mut self, cwd: &[u8], target: &[u8], link: &[u8]) -> Result<(), Errno> {
        self.changes_names()?;
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        let r = self.resolve(cwd, link, false)?;
        match (r.kind, &r.name) {
            (None, Some(name)) => host::symlink(&r.parent, name, target).map_err(|e| {
                if e.kind() == io::ErrorKind::Unsupported {
                    Errno::EPERM
                } else {
                    errno(e)
                }
            }),
            _ => Err(Errno::EEXIST),
        }
    }

    /// readlink(2).
    pub fn readlink(&self, cwd: &[u8], path: &[u8]) -> Result<Vec<u8>, Errno> {
        let r = self.resolve(cwd, path, false)?;
        match (r.kind, &r.name) {
            (Some(NodeKind::Symlink), Some(name)) => {
                host::read_link(&r.parent, name).map_err(errno)
            }
            (None, _) => Err(Errno::ENOENT),
            _ => Err(Errno::EINVAL),
        }
    }
}
