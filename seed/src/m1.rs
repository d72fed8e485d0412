//! M1: the mescc-tools macro assembler (`M1-macro.c`), turning M1 text into hex2.
//!
//! Behaviour reproduced (x86/amd64, hex output):
//! * tokens are separated by space, tab and newline; `#`/`;` at the start of a
//!   token comment out the rest of the line (to `\n` or `\r`); `\r` is an
//!   ordinary character otherwise;
//! * `"text"` and `'text'` are strings (they may span lines); `'raw'` is copied
//!   as is, `"text"` becomes the hex of each byte plus a terminating `00`, each
//!   followed by a space;
//! * `DEFINE name value` applies to every occurrence of `name` in all files,
//!   before or after the DEFINE; the last DEFINE of a name wins; a string value
//!   is used raw;
//! * `!n @n $n ~n %n &n` with a number `n` (M2libc `strtoint` syntax) become 1,
//!   2, 2, 3, 4, 4 byte hex, little-endian with `--little-endian`;
//! * `:label`, pointers (`!@$~%&` followed by a name) and `^…` pass through;
//!   `<n` becomes n zero bytes;
//! * output: tokens of a line separated by one space, each line ended by `\n`,
//!   no empty lines (so a DEFINE line leaves at most one line break behind).
//!
//! Stricter than upstream (errors instead of silent output): `!n` must lie in
//! -128..=255, `$n` in -32768..=65535, `@n` and `~n` in their signed range
//! (upstream lets one more value through at each end, e.g. `!256` and `!-129`,
//! by an off-by-one), non-ASCII bytes in
//! `"strings"` (upstream emits garbage), a DEFINE whose name or value is missing
//! on its line. Numbers are range-checked only where they are used; upstream also
//! checks DEFINE values that look like numbers.

use std::collections::HashMap;

use crate::error::InputError;
use crate::numbers::{hex_bytes, strtoint_or_zero};
use crate::source::Source;
use crate::SeedError;

/// Upstream's token buffer size; longer tokens are an error there too.
const MAX_TOKEN: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Atom,
    Str,
    Newline,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Kind,
    file: usize,
    start: usize,
    end: usize,
}

/// How to assemble.
#[derive(Debug, Clone, Copy)]
pub struct M1Options {
    /// Byte order of numbers.
    pub big_endian: bool,
}

struct Tokens<'a> {
    sources: &'a [Source],
    list: Vec<Token>,
}

impl<'a> Tokens<'a> {
    fn text(&self, t: &Token) -> &'a [u8] {
        &self.sources[t.file].data[t.start..t.end]
    }

    /// Adds a line break unless the list is empty or already ends with one.
    fn newline(&mut self, file: usize, at: usize) {
        if self.list.last().is_some_and(|t| t.kind != Kind::Newline) {
            self.list.push(Token {
                kind: Kind::Newline,
                file,
                start: at,
                end: at,
            });
        }
    }

    fn push(&mut self, kind: Kind, file: usize, start: usize, end: usize) -> Result<(), SeedError> {
        if end - start >= MAX_TOKEN {
            return Err(self.sources[file].error(
                start,
                InputError::TokenTooLong {
                    len: end - start,
                    max: MAX_TOKEN - 1,
                    tool: "M1",
                },
            ));
        }
        self.list.push(Token {
            kind,
            file,
            start,
            end,
        });
        Ok(())
    }

    fn tokenize(&mut self, file: usize) -> Result<(), SeedError> {
        let src = &self.sources[file];
        let data = &src.data;
        let mut i = 0;
        while i < data.len() {
            let c = data[i];
            match c {
                b'#' | b';' => {
                    let n = data[i..].iter().position(|&b| b == b'\n' || b == b'\r');
                    i = n.map_or(data.len(), |n| i + n + 1);
                    self.newline(file, i);
                }
                b' ' | b'\t' => i += 1,
                b'\n' => {
                    i += 1;
                    self.newline(file, i);
                }
                b'"' | b'\'' => {
                    let Some(n) = data[i + 1..].iter().position(|&b| b == c) else {
                        return Err(src.error(i, InputError::UnterminatedString(c as char)));
                    };
                    let end = i + 1 + n;
                    self.push(Kind::Str, file, i, end)?;
                    i = end + 1;
                }
                _ => {
                    let n = data[i..]
                        .iter()
                        .position(|&b| matches!(b, b' ' | b'\t' | b'\n'))
                        .unwrap_or(data.len() - i);
                    self.push(Kind::Atom, file, i, i + n)?;
                    i += n;
                }
            }
        }
        self.newline(file, data.len());
        Ok(())
    }
}

/// Removes DEFINE lines from `list`, returning the macro table.
fn take_defines<'a>(
    tokens: &Tokens<'a>,
    list: &mut Vec<Token>,
) -> Result<HashMap<&'a [u8], &'a [u8]>, SeedError> {
    let mut macros = HashMap::new();
    let mut kept = Vec::with_capacity(list.len());
    let mut i = 0;
    while i < list.len() {
        let t = list[i];
        if t.kind == Kind::Atom && tokens.text(&t) == b"DEFINE" {
            let (Some(name), Some(value)) = (list.get(i + 1), list.get(i + 2)) else {
                return Err(tokens.sources[t.file].error(t.start, InputError::IncompleteDefine));
            };
            if name.kind == Kind::Newline || value.kind == Kind::Newline {
                return Err(tokens.sources[t.file].error(t.start, InputError::IncompleteDefine));
            }
            let mut expansion = tokens.text(value);
            if value.kind == Kind::Str {
                expansion = &expansion[1..];
            }
            // A string used as a name is still printed as a string (upstream
            // processes strings after macros), so only atoms become macros.
            if name.kind == Kind::Atom {
                macros.insert(tokens.text(name), expansion);
            }
            kept.push(Token {
                kind: Kind::Newline,
                ..t
            });
            i += 3;
        } else {
            kept.push(t);
            i += 1;
        }
    }
    *list = kept;
    Ok(macros)
}

/// The hex2 text for a `"string"`: each byte's hex and a space, then `00 `.
fn hexify(src: &Source, start: usize, body: &[u8]) -> Result<Vec<u8>, SeedError> {
    let mut out = String::with_capacity(body.len() * 3 + 3);
    for (k, &b) in body.iter().enumerate() {
        if b >= 0x80 {
            return Err(src.error(start + 1 + k, InputError::NonAsciiInString(b)));
        }
        out.push_str(&format!("{b:02X} "));
    }
    out.push_str("00 ");
    Ok(out.into_bytes())
}

/// Field width of a number prefix and the values it accepts (`None`: unchecked).
///
/// Upstream's bounds are these widened by one at each end (an off-by-one in
/// `range_check`); `!` and `$` accept signed or unsigned values, `@` and `~`
/// only signed ones.
fn number_field(prefix: u8) -> Option<(u8, Option<(i64, i64)>)> {
    match prefix {
        b'!' => Some((1, Some((-128, 255)))),
        b'@' => Some((2, Some((-32768, 32767)))),
        b'$' => Some((2, Some((-32768, 65535)))),
        b'~' => Some((3, Some((-(1 << 23), (1 << 23) - 1)))),
        b'%' | b'&' => Some((4, None)),
        _ => None,
    }
}

/// The hex2 text of one atom.
fn express_atom(
    src: &Source,
    start: usize,
    text: &[u8],
    macros: &HashMap<&[u8], &[u8]>,
    opts: &M1Options,
) -> Result<Vec<u8>, SeedError> {
    if let Some(expansion) = macros.get(text) {
        return Ok(expansion.to_vec());
    }
    let as_is = || text.to_vec();
    let shown = || String::from_utf8_lossy(text).into_owned();
    let first = text[0];
    if first == b'<' {
        let n = strtoint_or_zero(&text[1..]);
        return match n {
            0 => Ok(as_is()),
            n if n < 0 => Err(src.error(start, InputError::NegativePadding(shown()))),
            n => Ok("00".repeat(n as usize).into_bytes()),
        };
    }
    if let Some((bytes, range)) = number_field(first) {
        let value = strtoint_or_zero(&text[1..]);
        if text.get(1) == Some(&b'0') || value != 0 {
            if let Some((min, max)) = range {
                let v = value as i64;
                if v < min || v > max {
                    return Err(src.error(
                        start,
                        InputError::NumberOutOfRange {
                            text: shown(),
                            value: v,
                            bytes,
                            min,
                            max,
                        },
                    ));
                }
            }
            return Ok(hex_bytes(value as u32, bytes as usize, !opts.big_endian).into_bytes());
        }
        return Ok(as_is());
    }
    if first == b':' || first == b'^' {
        return Ok(as_is());
    }
    Err(src.error(start, InputError::InvalidToken(shown())))
}

/// Assembles M1 sources (in order) into hex2 text.
pub fn assemble(sources: &[Source], opts: &M1Options) -> Result<Vec<u8>, SeedError> {
    let mut tokens = Tokens {
        sources,
        list: Vec::new(),
    };
    for file in 0..sources.len() {
        tokens.tokenize(file)?;
    }
    let mut list = std::mem::take(&mut tokens.list);
    let macros = take_defines(&tokens, &mut list)?;

    let mut out = Vec::new();
    for (k, t) in list.iter().enumerate() {
        let next_is_newline = list.get(k + 1).is_none_or(|n| n.kind == Kind::Newline);
        let src = &sources[t.file];
        let text = tokens.text(t);
        match t.kind {
            Kind::Newline => {
                if list.get(k + 1).is_none_or(|n| n.kind != Kind::Newline) {
                    out.push(b'\n');
                }
                continue;
            }
            Kind::Str if text[0] == b'\'' => out.extend_from_slice(&text[1..]),
            Kind::Str => out.extend(hexify(src, t.start, &text[1..])?),
            Kind::Atom => out.extend(express_atom(src, t.start, text, &macros, opts)?),
        }
        if !next_is_newline {
            out.push(b' ');
        }
    }
    Ok(out)
}
