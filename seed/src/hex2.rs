//! hex2: the linker format with named labels and several pointer kinds.
//!
//! Two upstream programs read it and differ in detail, so the linker takes a
//! [`Dialect`]: the hand-written `hex2-0` (from `hex2_x86.hex1`) and the C
//! `hex2` of mescc-tools (`hex2_linker.c`). Shared behaviour:
//!
//! * pairs of hex digits are bytes; `#` and `;` comments end at `\n` or `\r`;
//!   other bytes are ignored (so `<` and `^`, which only matter on ARM/RISC-V
//!   in the C hex2, do nothing on x86);
//! * `:name` defines a label at the current address; names end at space, tab,
//!   newline or `>`; a name defined twice takes its last definition;
//! * pointers: `!name` 1-byte relative, `@name` 2-byte relative, `~name` 3-byte
//!   relative (C hex2 only), `%name` 4-byte relative, `$name` 2-byte absolute,
//!   `&name` 4-byte absolute. Relative means `label - address after the pointer`;
//!   `%a>b` (any relative kind) gives `a - b` instead. Absolute kinds ignore `>b`.
//!
//! Range rules (those of the C hex2, which stops with an error): 1-byte relative
//! -128..=127, 2-byte relative -32768..=32767, 3-byte relative ±2^23, 2-byte
//! absolute 0..=65535; 4-byte fields are not checked. **hex2-0 silently truncates
//! instead; this implementation reports an error for both dialects.**
//!
//! Also errors here where upstream is silent: an odd number of hex digits
//! (upstream drops the last digit of each file), a label or pointer between the
//! two digits of a byte, an empty label name. For hex2-0 only: a comment or a
//! label/pointer name that runs into end of file (the hand-written program loops
//! forever there) and `~` (hex2-0 does not know it and would read the name as hex).

use std::collections::HashMap;

use crate::error::InputError;
use crate::hex0::hex_digit;
use crate::source::Source;
use crate::SeedError;

/// Which upstream program's rules to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    /// Tool name used in messages.
    pub tool: &'static str,
    /// Whether `~` (3-byte relative) exists.
    pub tilde_pointers: bool,
    /// Whether a comment or name running into end of file is an error (the
    /// hand-written hex2-0 never terminates on such input).
    pub needs_terminator_at_eof: bool,
}

/// The hand-written `hex2-0`.
pub const HEX2_0: Dialect = Dialect {
    tool: "hex2-0",
    tilde_pointers: false,
    needs_terminator_at_eof: true,
};

/// The mescc-tools C `hex2`.
pub const HEX2_C: Dialect = Dialect {
    tool: "hex2",
    tilde_pointers: true,
    needs_terminator_at_eof: false,
};

/// The address hex2-0 always links at.
pub const HEX2_0_BASE: u32 = 0x0804_8000;

/// How to link.
#[derive(Debug, Clone, Copy)]
pub struct LinkOptions {
    /// Address of the first output byte.
    pub base_address: u32,
    /// Byte order of pointers.
    pub big_endian: bool,
    /// Which upstream rules.
    pub dialect: Dialect,
}

/// A pointer kind: its character, width and whether it is absolute.
#[derive(Debug, Clone, Copy)]
struct PointerKind {
    ch: char,
    bytes: u8,
    absolute: bool,
}

/// The pointer kinds, in one table.
const POINTER_KINDS: [PointerKind; 6] = [
    PointerKind {
        ch: '!',
        bytes: 1,
        absolute: false,
    },
    PointerKind {
        ch: '@',
        bytes: 2,
        absolute: false,
    },
    PointerKind {
        ch: '~',
        bytes: 3,
        absolute: false,
    },
    PointerKind {
        ch: '%',
        bytes: 4,
        absolute: false,
    },
    PointerKind {
        ch: '$',
        bytes: 2,
        absolute: true,
    },
    PointerKind {
        ch: '&',
        bytes: 4,
        absolute: true,
    },
];

fn pointer_kind(c: u8) -> Option<PointerKind> {
    POINTER_KINDS.iter().copied().find(|k| k.ch as u8 == c)
}

/// Accepted values for a pointer field, `None` when unchecked.
fn pointer_range(kind: PointerKind) -> Option<(i64, i64)> {
    match (kind.bytes, kind.absolute) {
        (4, _) => None,
        (n, true) => Some((0, (1i64 << (8 * n)) - 1)),
        (n, false) => Some((-(1i64 << (8 * n - 1)), (1i64 << (8 * n - 1)) - 1)),
    }
}

#[derive(Debug)]
enum Item {
    Byte(u8),
    Label(Vec<u8>),
    Pointer {
        kind: PointerKind,
        target: Vec<u8>,
        base: Option<Vec<u8>>,
        /// Offset of the pointer character in its file.
        at: usize,
    },
}

/// Bytes that end a label or pointer name.
fn ends_name(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'>')
}

struct Parser<'a> {
    src: &'a Source,
    dialect: Dialect,
    i: usize,
}

impl Parser<'_> {
    /// Reads a name starting at `self.i`; consumes its terminator and returns it.
    fn name(
        &mut self,
        what: &'static str,
        intro: usize,
    ) -> Result<(Vec<u8>, Option<u8>), SeedError> {
        let data = &self.src.data;
        let start = self.i;
        let len = data[start..].iter().position(|&b| ends_name(b));
        let (end, term) = match len {
            Some(n) => (start + n, Some(data[start + n])),
            None if self.dialect.needs_terminator_at_eof => {
                return Err(self.src.error(
                    intro,
                    InputError::TokenAtEof {
                        what,
                        tool: self.dialect.tool,
                    },
                ))
            }
            None => (data.len(), None),
        };
        if end == start {
            return Err(self
                .src
                .error(intro, InputError::MissingLabelName(data[intro] as char)));
        }
        self.i = end + usize::from(term.is_some());
        Ok((data[start..end].to_vec(), term))
    }

    fn parse(mut self, items: &mut Vec<(Item, usize)>, file: usize) -> Result<(), SeedError> {
        let data = &self.src.data;
        let mut high: Option<(u8, usize)> = None;
        while self.i < data.len() {
            let at = self.i;
            let c = data[at];
            self.i += 1;
            if c == b'#' || c == b';' {
                match data[self.i..]
                    .iter()
                    .position(|&b| b == b'\n' || b == b'\r')
                {
                    Some(n) => self.i += n + 1,
                    None if self.dialect.needs_terminator_at_eof => {
                        return Err(self
                            .src
                            .error(at, InputError::CommentAtEof(self.dialect.tool)))
                    }
                    None => self.i = data.len(),
                }
                continue;
            }
            let kind = pointer_kind(c);
            if c == b':' || kind.is_some() {
                if let Some((_, digit_at)) = high {
                    return Err(self.src.error(digit_at, InputError::SplitByte(c as char)));
                }
            }
            if c == b':' {
                let (name, _) = self.name("label name", at)?;
                items.push((Item::Label(name), file));
            } else if let Some(kind) = kind {
                if kind.ch == '~' && !self.dialect.tilde_pointers {
                    return Err(self.src.error(
                        at,
                        InputError::UnsupportedPointer {
                            kind: '~',
                            tool: self.dialect.tool,
                        },
                    ));
                }
                let (target, term) = self.name("pointer name", at)?;
                let base = if term == Some(b'>') {
                    Some(self.name("pointer base name", self.i - 1)?.0)
                } else {
                    None
                };
                items.push((
                    Item::Pointer {
                        kind,
                        target,
                        base,
                        at,
                    },
                    file,
                ));
            } else if let Some(d) = hex_digit(c) {
                match high.take() {
                    None => high = Some((d, at)),
                    Some((h, _)) => items.push((Item::Byte((h << 4) | d), file)),
                }
            }
        }
        if let Some((_, at)) = high {
            return Err(self
                .src
                .error(at, InputError::UnpairedHexDigit(data[at] as char)));
        }
        Ok(())
    }
}

/// Links hex2 sources (in order) into one image.
pub fn link(sources: &[Source], opts: &LinkOptions) -> Result<Vec<u8>, SeedError> {
    let mut items = Vec::new();
    for (file, src) in sources.iter().enumerate() {
        Parser {
            src,
            dialect: opts.dialect,
            i: 0,
        }
        .parse(&mut items, file)?;
    }

    let mut labels: HashMap<&[u8], u32> = HashMap::new();
    let mut ip = opts.base_address;
    for (item, _) in &items {
        match item {
            Item::Byte(_) => ip = ip.wrapping_add(1),
            Item::Label(name) => {
                labels.insert(name, ip);
            }
            Item::Pointer { kind, .. } => ip = ip.wrapping_add(kind.bytes as u32),
        }
    }

    let mut out = Vec::new();
    let mut ip = opts.base_address;
    for (item, file) in &items {
        let (kind, target, base, at) = match item {
            Item::Byte(b) => {
                out.push(*b);
                ip = ip.wrapping_add(1);
                continue;
            }
            Item::Label(_) => continue,
            Item::Pointer {
                kind,
                target,
                base,
                at,
            } => (*kind, target, base, *at),
        };
        let src = &sources[*file];
        let lookup = |name: &[u8]| {
            labels.get(name).copied().ok_or_else(|| {
                src.error(
                    at,
                    InputError::UnknownLabel(String::from_utf8_lossy(name).into_owned()),
                )
            })
        };
        ip = ip.wrapping_add(kind.bytes as u32);
        let target_addr = lookup(target)?;
        // Upstream looks the base up even for absolute kinds, which then ignore it.
        let from = match base {
            Some(b) => lookup(b)?,
            None => ip,
        };
        let value = if kind.absolute {
            target_addr as i32
        } else {
            target_addr.wrapping_sub(from) as i32
        };
        if let Some((min, max)) = pointer_range(kind) {
            let v = value as i64;
            if v < min || v > max {
                let mut label = String::from_utf8_lossy(target).into_owned();
                if let Some(b) = base {
                    label.push('>');
                    label.push_str(&String::from_utf8_lossy(b));
                }
                return Err(src.error(
                    at,
                    InputError::PointerOutOfRange {
                        kind: kind.ch,
                        label,
                        value: v,
                        bytes: kind.bytes,
                        min,
                        max,
                    },
                ));
            }
        }
        let bytes = (value as u32).to_le_bytes();
        let field = &bytes[..kind.bytes as usize];
        if opts.big_endian {
            out.extend(field.iter().rev());
        } else {
            out.extend_from_slice(field);
        }
    }
    Ok(out)
}
