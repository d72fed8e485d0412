//! A USTAR writer that produces the bytes Go's `archive/tar` writes for BuildKit layers.
//!
//! Go formats numeric fields as zero-padded octal with a trailing NUL (`0000755\0`),
//! writes the checksum as six octal digits, NUL, space, leaves user/group names empty
//! here, and ends the archive with two zero blocks and no record padding.

use crate::error::{Error, Result};

const BLOCK: usize = 512;

/// The kind of a tar entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory (`typeflag '5'`); its name gets a trailing `/`.
    Directory,
    /// A regular file (`typeflag '0'`).
    File,
}

/// One entry's header fields (uid/gid are always 0, names always empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryHeader {
    /// Path inside the archive, without leading `/` (directories end in `/`).
    pub name: String,
    /// Permission bits (e.g. `0o750`).
    pub mode: u32,
    /// Modification time in seconds since the epoch.
    pub mtime: u64,
    /// Entry kind.
    pub kind: EntryKind,
}

/// Writes a tar stream into memory.
#[derive(Debug, Default)]
pub struct TarWriter {
    out: Vec<u8>,
}

impl TarWriter {
    /// An empty archive.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a directory entry.
    pub fn directory(&mut self, header: &EntryHeader) -> Result<()> {
        let block = header_block(header, 0)?;
        self.out.extend_from_slice(&block);
        Ok(())
    }

    /// Appends a regular file with its content, padded to a block boundary.
    pub fn file(&mut self, header: &EntryHeader, content: &[u8]) -> Result<()> {
        let block = header_block(header, content.len() as u64)?;
        self.out.extend_from_slice(&block);
        self.out.extend_from_slice(content);
        let pad = (BLOCK - content.len() % BLOCK) % BLOCK;
        self.out.resize(self.out.len() + pad, 0);
        Ok(())
    }

    /// Ends the archive with two zero blocks and returns its bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.out.resize(self.out.len() + 2 * BLOCK, 0);
        self.out
    }
}

/// Go's `formatOctal`: zero-padded octal leaving room for a trailing NUL.
fn put_octal(field: &mut [u8], value: u64) -> Result<()> {
    let digits = format!("{value:o}");
    let width = field.len() - 1;
    if digits.len() > width {
        return Err(Error::Image(format!(
            "value {value} does not fit a {width}-digit octal tar field"
        )));
    }
    let text = format!("{digits:0>width$}");
    field[..width].copy_from_slice(text.as_bytes());
    field[width] = 0;
    Ok(())
}

/// Go's `splitUSTARPath`: names over 100 bytes go into the 155-byte prefix field.
fn split_name(name: &str) -> Result<(&str, &str)> {
    if name.len() <= 100 {
        return Ok(("", name));
    }
    let bytes = name.as_bytes();
    let mut i = bytes.len().min(156) - 1;
    // The split point is a '/' whose suffix fits in 100 bytes and prefix in 155.
    loop {
        if bytes[i] == b'/' && i > 0 && bytes.len() - i - 1 <= 100 && i <= 155 {
            return Ok((&name[..i], &name[i + 1..]));
        }
        if i == 0 {
            return Err(Error::Image(format!("tar name too long for USTAR: {name}")));
        }
        i -= 1;
    }
}

fn header_block(header: &EntryHeader, size: u64) -> Result<[u8; BLOCK]> {
    let mut b = [0u8; BLOCK];
    let (prefix, name) = split_name(&header.name)?;
    b[..name.len()].copy_from_slice(name.as_bytes());
    put_octal(&mut b[100..108], u64::from(header.mode))?;
    put_octal(&mut b[108..116], 0)?; // uid
    put_octal(&mut b[116..124], 0)?; // gid
    put_octal(&mut b[124..136], size)?;
    put_octal(&mut b[136..148], header.mtime)?;
    b[156] = match header.kind {
        EntryKind::Directory => b'5',
        EntryKind::File => b'0',
    };
    b[257..263].copy_from_slice(b"ustar\0");
    b[263..265].copy_from_slice(b"00");
    put_octal(&mut b[329..337], 0)?; // devmajor
    put_octal(&mut b[337..345], 0)?; // devminor
    b[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    b[148..156].fill(b' ');
    let sum: u64 = b.iter().map(|&x| u64::from(x)).sum();
    put_octal(&mut b[148..155], sum)?;
    b[155] = b' ';
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_are_go_style() {
        let h = EntryHeader {
            name: "bin/x".into(),
            mode: 0o750,
            mtime: 1,
            kind: EntryKind::File,
        };
        let mut w = TarWriter::new();
        w.file(&h, b"hello").unwrap();
        let t = w.finish();
        assert_eq!(t.len(), 512 + 512 + 1024);
        assert_eq!(&t[100..108], b"0000750\0");
        assert_eq!(&t[124..136], b"00000000005\0");
        assert_eq!(&t[136..148], b"00000000001\0");
        assert_eq!(&t[329..345], b"0000000\x000000000\x00");
        // Checksum: sum of the header with the checksum field read as spaces.
        let mut copy = t[..512].to_vec();
        copy[148..156].fill(b' ');
        let sum: u32 = copy.iter().map(|&x| u32::from(x)).sum();
        assert_eq!(&t[148..156], format!("{sum:06o}\0 ").as_bytes());
        assert_eq!(&t[512..517], b"hello");
    }

    #[test]
    fn long_names_split_into_prefix() {
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(50));
        let (p, n) = split_name(&long).unwrap();
        assert_eq!((p.len(), n.len()), (120, 50));
        assert!(split_name(&"x".repeat(300)).is_err());
    }
}
