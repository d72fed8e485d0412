//! Open files: guest file contents held in memory and written back to the host later.
//!
//! The chain makes 23.5 M one-byte reads and writes. Serving them from memory costs no host
//! call per byte; a file's bytes are read from the host once when first opened and written
//! back when its last descriptor closes (and at exit, execve and the end of a run, through
//! [`super::Vfs::sync`]), so nothing is lost.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

use crate::errno::Errno;

/// Largest file the guest may create (keeps a runaway guest from exhausting host memory).
pub const MAX_FILE_SIZE: u64 = 1 << 30;

/// The contents of one regular file, shared by every descriptor open on it.
#[derive(Debug)]
pub struct FileNode {
    /// Normalised guest path it was opened by.
    pub guest: Vec<u8>,
    /// Host path inside the sandbox root.
    pub host: PathBuf,
    /// Current contents.
    pub data: Vec<u8>,
    /// Modified since read from, or last written to, the host.
    pub dirty: bool,
    /// Unlinked while open: never written back.
    pub unlinked: bool,
    /// Whether a guest write has ever touched it (for provenance).
    pub written: bool,
}

/// Shared handle to a [`FileNode`].
pub type FileRef = Rc<RefCell<FileNode>>;

/// What a descriptor refers to.
#[derive(Debug, Clone)]
pub enum Handle {
    /// A regular file.
    File(FileRef),
    /// A directory opened for fchdir.
    Dir {
        guest: Vec<u8>,
    },
    /// The run's standard input, output and error streams.
    Stdin,
    Stdout,
    Stderr,
}

/// An open file description: shared by descriptors that fork or dup copies.
#[derive(Debug)]
pub struct OpenFile {
    pub handle: Handle,
    pub offset: u64,
    /// The open(2) flags.
    pub flags: u32,
}

/// Shared handle to an [`OpenFile`].
pub type OpenRef = Rc<RefCell<OpenFile>>;

/// open(2) flag bits (x86 values).
pub mod oflag {
    pub const ACCMODE: u32 = 3;
    pub const RDONLY: u32 = 0;
    pub const WRONLY: u32 = 1;
    pub const RDWR: u32 = 2;
    pub const CREAT: u32 = 0o100;
    pub const EXCL: u32 = 0o200;
    pub const NOCTTY: u32 = 0o400;
    pub const TRUNC: u32 = 0o1000;
    pub const APPEND: u32 = 0o2000;
    pub const DIRECTORY: u32 = 0o200000;
    pub const NOFOLLOW: u32 = 0o400000;
    pub const CLOEXEC: u32 = 0o2000000;
}

impl OpenFile {
    /// Whether the description allows reading.
    pub fn readable(&self) -> bool {
        self.flags & oflag::ACCMODE != oflag::WRONLY
    }

    /// Whether the description allows writing.
    pub fn writable(&self) -> bool {
        matches!(self.flags & oflag::ACCMODE, oflag::WRONLY | oflag::RDWR)
    }

    /// Reads from a regular file at the current offset into `buf`; returns the count.
    pub fn read_file(&mut self, buf: &mut [u8]) -> Result<usize, Errno> {
        let Handle::File(node) = &self.handle else {
            return Err(Errno::EISDIR);
        };
        let node = node.borrow();
        let len = node.data.len() as u64;
        if self.offset >= len {
            return Ok(0);
        }
        let n = ((len - self.offset) as usize).min(buf.len());
        let start = self.offset as usize;
        buf[..n].copy_from_slice(&node.data[start..start + n]);
        self.offset += n as u64;
        Ok(n)
    }

    /// Writes `data` to a regular file at the offset (at the end with O_APPEND).
    pub fn write_file(&mut self, data: &[u8]) -> Result<usize, Errno> {
        let Handle::File(node) = &self.handle else {
            return Err(Errno::EISDIR);
        };
        let mut node = node.borrow_mut();
        if self.flags & oflag::APPEND != 0 {
            self.offset = node.data.len() as u64;
        }
        let end = self.offset + data.len() as u64;
        if end > MAX_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        let start = self.offset as usize;
        if node.data.len() < end as usize {
            node.data.resize(end as usize, 0);
        }
        node.data[start..end as usize].copy_from_slice(data);
        node.dirty = true;
        node.written = true;
        self.offset = end;
        Ok(data.len())
    }

    /// lseek(2) on a regular file.
    pub fn seek(&mut self, offset: i32, whence: u32) -> Result<u32, Errno> {
        let size = match &self.handle {
            Handle::File(node) => node.borrow().data.len() as i64,
            Handle::Dir { .. } => 0,
            _ => return Err(Errno::ESPIPE),
        };
        let base = match whence {
            0 => 0,
            1 => self.offset as i64,
            2 => size,
            _ => return Err(Errno::EINVAL),
        };
        let new = base + offset as i64;
        if new < 0 {
            return Err(Errno::EINVAL);
        }
        // Plain lseek returns a 32-bit off_t; larger offsets are EOVERFLOW (75) on Linux.
        if new > i32::MAX as i64 {
            return Err(Errno(75));
        }
        self.offset = new as u64;
        Ok(new as u32)
    }
}
