//! Host file operations, always relative to a directory handle inside the sandbox root.
//!
//! Nothing here takes a host path: every call names one component under a [`Dir`] that
//! [`super::path::resolve`] opened without following links, and files are opened with
//! `O_NOFOLLOW`. cap-std keeps even a component swapped for a symlink by another process
//! beneath that directory, so a host call never reaches outside the root, whatever
//! changes under it. Open files keep their host handle; writing back goes through it.
//!
//! What the guest leaves behind is safe for a host user to touch: modes keep only the
//! permission bits (no setuid, setgid or sticky bit), and a symbolic link whose text could
//! lead outside the directory it is in (absolute, or with a `..` component) is stored with
//! [`ESCAPED_LINK_PREFIX`] in front, which no host lookup can get through (`/dev/null` is
//! not a directory). The guest still reads and follows the text it wrote.

use std::io::{self, Read, Seek, Write};
use std::path::Path;

use cap_fs_ext::{DirExt, FollowSymlinks, MetadataExt, OpenOptionsFollowExt};
use cap_std::fs::{Dir, File, OpenOptions};

/// Put in front of a guest symlink's text when that text could lead a host user outside
/// the directory the link is in. Host lookups of such a link fail with ENOTDIR.
pub const ESCAPED_LINK_PREFIX: &[u8] = b"/dev/null/stage0-guest-symlink/";

/// The identity of a host file: two opens give the same key exactly when they reach the
/// same file (device and inode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileKey {
    dev: u64,
    ino: u64,
}

impl FileKey {
    /// The key of the `n`th file a scratch sandbox created in memory: device `u64::MAX`,
    /// which no host file has.
    pub(crate) fn in_memory(n: u64) -> FileKey {
        FileKey {
            dev: u64::MAX,
            ino: n,
        }
    }
}

/// Opens the host directory that becomes the guest's `/`.
pub fn open_root(path: &Path) -> io::Result<Dir> {
    Dir::open_ambient_dir(path, cap_std::ambient_authority())
}

/// The key of an open host file.
pub fn key_of(f: &File) -> io::Result<FileKey> {
    let m = f.metadata()?;
    Ok(FileKey {
        dev: m.dev(),
        ino: m.ino(),
    })
}

/// The key of the file `name` in `dir`, without following a link.
pub fn key_at(dir: &Dir, name: &Path) -> io::Result<FileKey> {
    let m = dir.symlink_metadata(name)?;
    Ok(FileKey {
        dev: m.dev(),
        ino: m.ino(),
    })
}

fn nofollow(write: bool) -> OpenOptions {
    let mut o = OpenOptions::new();
    o.read(true).write(write).follow(FollowSymlinks::No);
    o
}

/// Whether an open host file still has a name (a link count above zero).
#[cfg(unix)]
pub fn still_linked(f: &File) -> bool {
    f.metadata().is_ok_and(|m| m.nlink() > 0)
}
#[cfg(not(unix))]
pub fn still_linked(_f: &File) -> bool {
    false
}

/// Opens the regular file `name` in `dir` without following a link, for reading and,
/// with `write`, writing. The guest is root: a file whose mode forbids the runner's user
/// to open it is opened with the owner's read and write bits set for the moment.
pub fn open_file(dir: &Dir, name: &Path, write: bool) -> io::Result<File> {
    let opts = nofollow(write);
    match dir.open_with(name, &opts) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            let old = mode_at(dir, name)?;
            set_mode_at(dir, name, old | 0o600)?;
            let r = dir.open_with(name, &opts);
            set_mode_at(dir, name, old)?;
            r
        }
        r => r,
    }
}

/// Creates the regular file `name` in `dir` (it must not exist), opened for reading and
/// writing, with exactly the permission bits of `mode`.
pub fn create_file(dir: &Dir, name: &Path, mode: u32) -> io::Result<File> {
    let mut opts = nofollow(true);
    opts.create_new(true);
    let f = dir.open_with(name, &opts)?;
    set_file_mode(&f, mode)?;
    Ok(f)
}

/// Reads a whole open file from its start.
pub fn read_all(mut f: &File) -> io::Result<Vec<u8>> {
    let mut data = Vec::new();
    f.rewind()?;
    f.read_to_end(&mut data)?;
    Ok(data)
}

/// Replaces an open file's contents with `data`, through the handle.
pub fn write_all(mut f: &File, data: &[u8]) -> io::Result<()> {
    f.rewind()?;
    f.write_all(data)?;
    f.set_len(data.len() as u64)
}

/// Creates the directory `name` in `dir` with exactly the permission bits of `mode`.
pub fn create_dir(dir: &Dir, name: &Path, mode: u32) -> io::Result<()> {
    dir.create_dir(name)?;
    set_mode_at(dir, name, mode)
}

/// The permission bits of `name` in `dir` (a link is not followed).
pub fn mode_at(dir: &Dir, name: &Path) -> io::Result<u32> {
    Ok(permission_bits(&dir.symlink_metadata(name)?))
}

/// The permission bits of the directory `dir` itself.
pub fn dir_mode(dir: &Dir) -> io::Result<u32> {
    Ok(permission_bits(&dir.dir_metadata()?))
}

#[cfg(unix)]
fn permission_bits(m: &cap_std::fs::Metadata) -> u32 {
    use cap_std::fs::PermissionsExt;
    m.permissions().mode() & 0o777
}
#[cfg(not(unix))]
fn permission_bits(m: &cap_std::fs::Metadata) -> u32 {
    if m.permissions().readonly() {
        0o555
    } else {
        0o755
    }
}

#[cfg(unix)]
fn permissions(mode: u32) -> cap_std::fs::Permissions {
    use cap_std::fs::PermissionsExt;
    cap_std::fs::Permissions::from_mode(mode & 0o777)
}

/// Sets the permission bits of `name` in `dir`; setuid, setgid and sticky bits are never set.
#[cfg(unix)]
pub fn set_mode_at(dir: &Dir, name: &Path, mode: u32) -> io::Result<()> {
    dir.set_permissions(name, permissions(mode))
}
#[cfg(not(unix))]
pub fn set_mode_at(_dir: &Dir, _name: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

/// Sets the permission bits of an open file (no setuid, setgid or sticky bit).
#[cfg(unix)]
pub fn set_file_mode(f: &File, mode: u32) -> io::Result<()> {
    f.set_permissions(permissions(mode))
}
#[cfg(not(unix))]
pub fn set_file_mode(_f: &File, _mode: u32) -> io::Result<()> {
    Ok(())
}

/// Sets the permission bits of the directory `dir` itself.
#[cfg(unix)]
pub fn set_dir_mode(dir: &Dir, mode: u32) -> io::Result<()> {
    let f = dir.try_clone()?.into_std_file();
    f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode & 0o777))
}
#[cfg(not(unix))]
pub fn set_dir_mode(_dir: &Dir, _mode: u32) -> io::Result<()> {
    Ok(())
}

/// Whether a guest symlink text stays inside the link's directory when a host user follows
/// it: relative, with no `..` component.
fn stays_below(text: &[u8]) -> bool {
    text.first() != Some(&b'/') && !text.split(|&b| b == b'/').any(|c| c == b"..")
}

/// The text stored on the host for a guest symlink to `target`.
pub fn host_link_text(target: &[u8]) -> Vec<u8> {
    if stays_below(target) {
        return target.to_vec();
    }
    let mut t = ESCAPED_LINK_PREFIX.to_vec();
    t.extend_from_slice(target);
    t
}

/// The guest's text of a host symlink (the inverse of [`host_link_text`]).
pub fn guest_link_text(host: &[u8]) -> Vec<u8> {
    host.strip_prefix(ESCAPED_LINK_PREFIX)
        .unwrap_or(host)
        .to_vec()
}

/// Creates the symlink `name` in `dir` pointing at the guest path `target`.
#[cfg(unix)]
pub fn symlink(dir: &Dir, name: &Path, target: &[u8]) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let text = host_link_text(target);
    dir.symlink_contents(std::ffi::OsStr::from_bytes(&text), name)
}
#[cfg(not(unix))]
pub fn symlink(_dir: &Dir, _name: &Path, _target: &[u8]) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// The guest text of the symlink `name` in `dir`.
pub fn read_link(dir: &Dir, name: &Path) -> io::Result<Vec<u8>> {
    let t = dir.read_link_contents(name)?;
    Ok(guest_link_text(&super::path::host_bytes(&t)))
}

/// Opens the directory `name` in `dir` without following a link.
pub fn open_dir(dir: &Dir, name: &Path) -> io::Result<Dir> {
    dir.open_dir_nofollow(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_texts_that_could_leave_are_escaped_and_read_back() {
        for t in [&b"/etc/passwd"[..], b"../x", b"a/../../b", b".."] {
            let h = host_link_text(t);
            assert!(h.starts_with(ESCAPED_LINK_PREFIX), "{t:?}");
            assert_eq!(guest_link_text(&h), t);
        }
        for t in [&b"a"[..], b"a/b", b"./a", b"a..b"] {
            assert_eq!(host_link_text(t), t);
            assert_eq!(guest_link_text(t), t);
        }
    }
}
