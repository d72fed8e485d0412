//! Decoding the ELF32 file header and program headers into named fields.

use super::notes::{FieldSpec, ELF_HEADER, ELF_HEADER_TAIL, PROGRAM_HEADER};
use super::{ExplainError, Field, Part};

/// Size of the ELF32 file header.
pub const EHDR_SIZE: usize = 52;
/// Size of one ELF32 program header.
pub const PHDR_SIZE: usize = 32;

/// A loadable segment, as the loader sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Index in the program header table.
    pub index: usize,
    /// p_type.
    pub kind: u32,
    /// p_offset.
    pub offset: u32,
    /// p_vaddr.
    pub vaddr: u32,
    /// p_filesz.
    pub filesz: u32,
    /// p_flags.
    pub flags: u32,
}

/// What the headers say.
#[derive(Debug, Clone)]
pub struct Headers {
    /// e_entry.
    pub entry: u32,
    /// e_phoff.
    pub phoff: usize,
    /// Every program header.
    pub segments: Vec<Segment>,
}

fn read_le(bytes: &[u8], at: usize, len: usize) -> u64 {
    bytes[at..at + len]
        .iter()
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | b as u64)
}

fn fields(bytes: &[u8], base: usize, specs: &[FieldSpec], part: Part) -> Vec<Field> {
    specs
        .iter()
        .map(|&(off, len, name, about)| Field {
            offset: base + off,
            len,
            part,
            name,
            value: read_le(bytes, base + off, len),
            about,
        })
        .collect()
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    read_le(bytes, at, 4) as u32
}

/// Checks the file is a little-endian i386 ELF32 and decodes its headers.
pub fn decode(bytes: &[u8]) -> Result<(Headers, Vec<Field>), ExplainError> {
    if bytes.len() < EHDR_SIZE {
        return Err(ExplainError::TooShort(bytes.len()));
    }
    if bytes[..4] != [0x7F, b'E', b'L', b'F'] {
        return Err(ExplainError::NotElf);
    }
    if bytes[4] != 1 || bytes[5] != 1 || read_le(bytes, 18, 2) != 3 {
        return Err(ExplainError::NotI386);
    }
    let mut out = fields(bytes, 0, &ELF_HEADER, Part::ElfHeader);
    out.extend(fields(bytes, 0, &ELF_HEADER_TAIL, Part::ElfHeader));
    let phoff = u32_at(bytes, 28) as usize;
    let phnum = read_le(bytes, 44, 2) as usize;
    let end = phoff.checked_add(phnum * PHDR_SIZE);
    if end.is_none_or(|e| e > bytes.len()) {
        return Err(ExplainError::ProgramHeadersOutside { phoff, phnum });
    }
    let mut segments = Vec::with_capacity(phnum);
    for index in 0..phnum {
        let base = phoff + index * PHDR_SIZE;
        out.extend(fields(
            bytes,
            base,
            &PROGRAM_HEADER,
            Part::ProgramHeader(index),
        ));
        segments.push(Segment {
            index,
            kind: u32_at(bytes, base),
            offset: u32_at(bytes, base + 4),
            vaddr: u32_at(bytes, base + 8),
            filesz: u32_at(bytes, base + 16),
            flags: u32_at(bytes, base + 24),
        });
    }
    let headers = Headers {
        entry: u32_at(bytes, 24),
        phoff,
        segments,
    };
    Ok((headers, out))
}

impl Headers {
    /// The loadable segment holding virtual address `vaddr` (within its file bytes).
    pub fn segment_at(&self, vaddr: u32) -> Option<&Segment> {
        self.segments
            .iter()
            .find(|s| s.kind == 1 && vaddr >= s.vaddr && (vaddr - s.vaddr) < s.filesz)
    }

    /// File offset of `vaddr`, if some loadable segment maps it from the file.
    pub fn file_offset(&self, vaddr: u32) -> Option<usize> {
        self.segment_at(vaddr)
            .map(|s| (s.offset + (vaddr - s.vaddr)) as usize)
    }

    /// Virtual address of file offset `offset` in the first segment that maps it.
    pub fn vaddr_of(&self, offset: usize) -> Option<u32> {
        self.segments
            .iter()
            .find(|s| {
                s.kind == 1
                    && offset >= s.offset as usize
                    && offset < (s.offset + s.filesz) as usize
            })
            .map(|s| s.vaddr + (offset as u32 - s.offset))
    }
}
