//! M0: the hand-written x86 macro assembler (`M0_x86.hex2`), M1 text to hex2.
//!
//! It reads a simpler dialect than the C M1 and writes a different layout:
//! * tokens are separated by space, tab, newline (and NUL); `#`/`;` at the start
//!   of a token comment out the rest of the line (to `\n` only);
//! * `"text"` becomes the hex of each byte and a final `00`, without spaces;
//!   `'text'` is copied raw;
//! * `DEFINE name value` applies only to tokens *after* it (a later DEFINE of the
//!   same name takes over from there); a string value keeps its opening quote;
//! * a token whose text after the first character is a non-zero number (or
//!   starts with `0`) is a number: `%` 4 bytes, `@` 2 bytes, `!` 1 byte,
//!   little-endian; decimal with optional `-`, or `0x` + upper-case hex;
//! * everything else (labels, pointers) passes through unchanged;
//! * the output is one token per line, every line ended by `\n`.
//!
//! Stricter than upstream (errors where it misbehaves silently or never ends):
//! a number token with another first character (upstream emits one byte, so
//! e.g. a raw `C3` would become `03`), `!`/`@` numbers that do not fit (upstream
//! truncates), tokens over 255 bytes (upstream overruns its buffer), a comment,
//! string or token running into end of file (upstream loops forever), and the
//! byte 0xFC where a token starts (upstream's fgetc returns it as end of file).

use std::collections::HashMap;

use crate::error::InputError;
use crate::numbers::{either_sign_range, hex_bytes, m0_numerate};
use crate::source::Source;
use crate::SeedError;

const TOOL: &str = "M0";
/// Upstream allocates 256 bytes per token text, including its terminating NUL.
const MAX_TOKEN: usize = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Atom,
    Str,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
}

fn is_separator(c: u8) -> bool {
    matches!(c, b'\n' | b'\t' | b' ' | 0)
}

fn tokenize(src: &Source) -> Result<Vec<Token>, SeedError> {
    let data = &src.data;
    let mut list = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let c = data[i];
        let start = i;
        let end = match c {
            // NUL counts as a comment start: upstream's set test also matches the string terminator.
            b'#' | b';' | 0 => {
                match data[i..].iter().position(|&b| b == b'\n') {
                    Some(n) => i += n + 1,
                    None => return Err(src.error(i, InputError::CommentAtEof(TOOL))),
                }
                continue;
            }
            b'\n' | b'\t' | b' ' => {
                i += 1;
                continue;
            }
            0xFC => return Err(src.error(i, InputError::ByteLooksLikeEof)),
            b'"' | b'\'' => {
                let Some(n) = data[i + 1..].iter().position(|&b| b == c) else {
                    return Err(src.error(i, InputError::UnterminatedString(c as char)));
                };
                list.push(Token {
                    kind: Kind::Str,
                    start,
                    end: i + 1 + n,
                });
                i += n + 2;
                i - 1
            }
            _ => {
                let Some(n) = data[i..].iter().position(|&b| is_separator(b)) else {
                    return Err(src.error(
                        i,
                        InputError::TokenAtEof {
                            what: "token",
                            tool: TOOL,
                        },
                    ));
                };
                list.push(Token {
                    kind: Kind::Atom,
                    start,
                    end: i + n,
                });
                i += n + 1;
                start + n
            }
        };
        if end - start > MAX_TOKEN {
            return Err(src.error(
                start,
                InputError::TokenTooLong {
                    len: end - start,
                    max: MAX_TOKEN,
                    tool: TOOL,
                },
            ));
        }
    }
    Ok(list)
}

/// The hex2 text of an atom that no macro covers.
fn express_atom(src: &Source, t: &Token) -> Result<Vec<u8>, SeedError> {
    let text = &src.data[t.start..t.end];
    let value = m0_numerate(&text[1..]);
    if value == 0 && text.get(1) != Some(&b'0') {
        return Ok(text.to_vec());
    }
    let bytes = match text[0] {
        b'%' => 4,
        b'@' => 2,
        b'!' => 1,
        other => {
            return Err(src.error(
                t.start,
                InputError::NumberWithUnknownPrefix(
                    String::from_utf8_lossy(text).into_owned(),
                    other as char,
                ),
            ))
        }
    };
    if bytes < 4 {
        let (min, max) = either_sign_range(bytes);
        let v = value as i64;
        if v < min || v > max {
            return Err(src.error(
                t.start,
                InputError::NumberOutOfRange {
                    text: String::from_utf8_lossy(text).into_owned(),
                    value: v,
                    bytes,
                    min,
                    max,
                },
            ));
        }
    }
    Ok(hex_bytes(value as u32, bytes as usize, true).into_bytes())
}

/// Assembles one M0 source into hex2 text.
pub fn assemble(src: &Source) -> Result<Vec<u8>, SeedError> {
    let list = tokenize(src)?;
    let text = |t: &Token| &src.data[t.start..t.end];
    let mut macros: HashMap<&[u8], &[u8]> = HashMap::new();
    let mut out = Vec::new();
    let mut k = 0;
    while k < list.len() {
        let t = &list[k];
        k += 1;
        match t.kind {
            Kind::Atom if text(t) == b"DEFINE" => {
                let (Some(name), Some(value)) = (list.get(k), list.get(k + 1)) else {
                    return Err(src.error(t.start, InputError::IncompleteDefine));
                };
                macros.insert(text(name), text(value));
                k += 2;
                continue;
            }
            Kind::Atom => match macros.get(text(t)) {
                Some(expansion) => out.extend_from_slice(expansion),
                None => out.extend(express_atom(src, t)?),
            },
            Kind::Str => {
                let body = &text(t)[1..];
                if text(t)[0] == b'\'' {
                    out.extend_from_slice(body);
                } else {
                    for &b in body {
                        out.extend_from_slice(format!("{b:02X}").as_bytes());
                    }
                    out.extend_from_slice(b"00");
                }
            }
        }
        out.push(b'\n');
    }
    Ok(out)
}
