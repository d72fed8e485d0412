//! Source maps: which source line produced each output byte of hex0, hex1 and hex2.
//!
//! The maps follow the same lexical rules as the assemblers in this crate (comments,
//! labels, pointer widths) but check nothing: they are meant for inputs that already
//! assembled, to explain a running program line by line. [`SourceMap::len`] equals the
//! assembled output's length for such inputs; callers should compare the two before
//! trusting a map.

use crate::hex0::hex_digit;
use crate::hex2::Dialect;
use crate::source::Source;

/// Where one output byte came from: an index into [`SourceMap::files`] and a 1-based line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub file: usize,
    pub line: usize,
}

/// One source line as shown next to an instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLine<'a> {
    pub file: &'a str,
    pub line: usize,
    /// The line without its comment, trimmed.
    pub code: &'a str,
    /// The comment's text after `#` or `;`, trimmed, if the line has one.
    pub comment: Option<&'a str>,
}

/// Output byte offset → source line, for one assembled program.
#[derive(Debug, Clone)]
pub struct SourceMap {
    pub files: Vec<Source>,
    /// One entry per output byte.
    pub origins: Vec<Origin>,
}

impl SourceMap {
    /// Number of output bytes mapped.
    pub fn len(&self) -> usize {
        self.origins.len()
    }

    /// Whether no byte is mapped.
    pub fn is_empty(&self) -> bool {
        self.origins.is_empty()
    }

    /// The source line that produced output byte `offset`.
    pub fn line_at(&self, offset: usize) -> Option<SourceLine<'_>> {
        let o = self.origins.get(offset)?;
        let src = &self.files[o.file];
        let text = src.data.split(|&b| b == b'\n').nth(o.line - 1)?;
        let text = std::str::from_utf8(text)
            .unwrap_or("")
            .trim_end_matches('\r');
        let (code, comment) = match text.find(['#', ';']) {
            Some(i) => (&text[..i], Some(text[i + 1..].trim())),
            None => (text, None),
        };
        Some(SourceLine {
            file: &src.name,
            line: o.line,
            code: code.trim(),
            comment,
        })
    }
}

/// Counts lines while walking a source.
struct Walker<'a> {
    data: &'a [u8],
    i: usize,
    line: usize,
}

impl<'a> Walker<'a> {
    fn new(data: &'a [u8]) -> Self {
        Walker {
            data,
            i: 0,
            line: 1,
        }
    }

    /// Moves past one byte, counting newlines.
    fn bump(&mut self) {
        if self.data[self.i] == b'\n' {
            self.line += 1;
        }
        self.i += 1;
    }

    /// Skips a comment up to (not past) its end byte.
    fn skip_comment(&mut self, ends_at_cr: bool) {
        while self.i < self.data.len() {
            let c = self.data[self.i];
            if c == b'\n' || (ends_at_cr && c == b'\r') {
                return;
            }
            self.i += 1;
        }
    }
}

/// The map of a hex0 program: each pair of digits is one byte, from the first digit's line.
pub fn hex0(src: Source) -> SourceMap {
    let mut origins = Vec::new();
    let mut w = Walker::new(&src.data);
    let mut high: Option<usize> = None;
    while w.i < w.data.len() {
        let c = w.data[w.i];
        if c == b'#' || c == b';' {
            w.skip_comment(false);
            continue;
        }
        if hex_digit(c).is_some() {
            match high.take() {
                None => high = Some(w.line),
                Some(line) => origins.push(Origin { file: 0, line }),
            }
        }
        w.bump();
    }
    SourceMap {
        files: vec![src],
        origins,
    }
}

/// The map of a hex1 program: bytes as in hex0, `%c` pointers are four bytes, `:c` none.
pub fn hex1(src: Source) -> SourceMap {
    let mut origins = Vec::new();
    let mut w = Walker::new(&src.data);
    let mut high: Option<usize> = None;
    while w.i < w.data.len() {
        let c = w.data[w.i];
        match c {
            b'#' | b';' => {
                w.skip_comment(true);
                continue;
            }
            b':' | b'%' => {
                if c == b'%' {
                    origins.extend(
                        [Origin {
                            file: 0,
                            line: w.line,
                        }; 4],
                    );
                }
                w.bump();
                if w.i < w.data.len() {
                    w.bump();
                }
                continue;
            }
            _ if hex_digit(c).is_some() => match high.take() {
                None => high = Some(w.line),
                Some(line) => origins.push(Origin { file: 0, line }),
            },
            _ => {}
        }
        w.bump();
    }
    SourceMap {
        files: vec![src],
        origins,
    }
}

/// Width in bytes of a hex2 pointer character.
fn pointer_width(c: u8, dialect: Dialect) -> Option<usize> {
    match c {
        b'!' => Some(1),
        b'@' | b'$' => Some(2),
        b'~' if dialect.tilde_pointers => Some(3),
        b'%' | b'&' => Some(4),
        _ => None,
    }
}

/// The map of a hex2 program linked from `sources` in order (as `-f` files, or the one
/// input of hex2-0).
pub fn hex2(sources: Vec<Source>, dialect: Dialect) -> SourceMap {
    let mut origins = Vec::new();
    for (file, src) in sources.iter().enumerate() {
        let mut w = Walker::new(&src.data);
        let mut high: Option<usize> = None;
        while w.i < w.data.len() {
            let c = w.data[w.i];
            if c == b'#' || c == b';' {
                w.skip_comment(true);
                continue;
            }
            let width = pointer_width(c, dialect);
            if c == b':' || width.is_some() {
                let line = w.line;
                w.bump();
                skip_name(&mut w);
                // `%a>b`: the base name after `>`.
                if w.i > 0 && w.data[w.i - 1] == b'>' {
                    skip_name(&mut w);
                }
                origins.extend(std::iter::repeat_n(
                    Origin { file, line },
                    width.unwrap_or(0),
                ));
                continue;
            }
            if hex_digit(c).is_some() {
                match high.take() {
                    None => high = Some(w.line),
                    Some(line) => origins.push(Origin { file, line }),
                }
            }
            w.bump();
        }
    }
    SourceMap {
        files: sources,
        origins,
    }
}

/// Skips a label or pointer name and the byte that ends it (space, tab, newline or `>`).
fn skip_name(w: &mut Walker<'_>) {
    while w.i < w.data.len() {
        let c = w.data[w.i];
        w.bump();
        if matches!(c, b' ' | b'\t' | b'\n' | b'>') {
            return;
        }
    }
}

/// For each line of the hex2 text M0 makes of `src` (one line per token, see
/// [`crate::m0`]), the source line of the token that produced it.
pub fn m0_output_lines(src: &Source) -> Vec<usize> {
    let data = &src.data;
    let line_of = |i: usize| 1 + data[..i].iter().filter(|&&b| b == b'\n').count();
    // Tokens as (start, end, is_string), with M0's separators and comments.
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let c = data[i];
        match c {
            b'#' | b';' | 0 => {
                i += data[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .unwrap_or(data.len() - i);
            }
            b'\n' | b'\t' | b' ' => i += 1,
            b'"' | b'\'' => {
                let n = data[i + 1..]
                    .iter()
                    .position(|&b| b == c)
                    .unwrap_or(data.len() - i - 1);
                tokens.push((i, i + 1 + n, true));
                i += n + 2;
            }
            _ => {
                let n = data[i..]
                    .iter()
                    .position(|&b| matches!(b, b'\n' | b'\t' | b' ' | 0))
                    .unwrap_or(data.len() - i);
                tokens.push((i, i + n, false));
                i += n + 1;
            }
        }
    }
    let text = |t: &(usize, usize, bool)| &data[t.0..t.1.min(data.len())];
    let mut macros: std::collections::HashMap<&[u8], &[u8]> = Default::default();
    let mut lines = Vec::new();
    let mut k = 0;
    while k < tokens.len() {
        let t = &tokens[k];
        k += 1;
        if !t.2 && text(t) == b"DEFINE" && k + 1 < tokens.len() {
            macros.insert(text(&tokens[k]), text(&tokens[k + 1]));
            k += 2;
            continue;
        }
        // Raw strings and macro values may hold newlines; each is a line of output.
        let emitted: &[u8] = match (t.2, text(t).first()) {
            (true, Some(b'\'')) => text(t),
            (false, _) => macros.get(text(t)).copied().unwrap_or(b""),
            _ => b"",
        };
        let n = 1 + emitted.iter().filter(|&&b| b == b'\n').count();
        lines.extend(std::iter::repeat_n(line_of(t.0), n));
    }
    lines
}

/// The map of a program linked by hex2-0 from `header` (hex2) followed by what M0 makes
/// of `m1` (the chain's `catm` + `hex2-0` steps); bytes of the second part point at `m1`.
pub fn m0_then_hex2(header: Source, m1: Source) -> Option<SourceMap> {
    let text = crate::m0::assemble(&m1).ok()?;
    let lines = m0_output_lines(&m1);
    let mut map = hex2(
        vec![header, Source::new("M0 output", text)],
        crate::hex2::HEX2_0,
    );
    for o in map.origins.iter_mut().filter(|o| o.file == 1) {
        o.line = *lines.get(o.line - 1)?;
    }
    map.files[1] = m1;
    Some(map)
}

/// The map for what `tool` (a [`crate::TOOLS`] name) builds from `sources`, for the tools
/// whose output bytes come straight from their input text; `M0` stands for an ELF header
/// in hex2 and an M1 program, assembled by M0 and linked by hex2-0.
pub fn for_tool(tool: &str, mut sources: Vec<Source>) -> Option<SourceMap> {
    match tool {
        "hex0" if sources.len() == 1 => sources.pop().map(hex0),
        "hex1" if sources.len() == 1 => sources.pop().map(hex1),
        "hex2-0" => Some(hex2(sources, crate::hex2::HEX2_0)),
        "hex2" => Some(hex2(sources, crate::hex2::HEX2_C)),
        "M0" if sources.len() == 2 => {
            let m1 = sources.pop()?;
            m0_then_hex2(sources.pop()?, m1)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(text: &str) -> Source {
        Source::new("t", text.as_bytes().to_vec())
    }

    #[test]
    fn hex0_bytes_take_the_first_digits_line() {
        let m = hex0(src("# header\n7f 45 ; magic\n4\n6 # split\n"));
        assert_eq!(m.len(), 3);
        let lines: Vec<usize> = m.origins.iter().map(|o| o.line).collect();
        assert_eq!(lines, vec![2, 2, 3]);
        let l = m.line_at(0).unwrap();
        assert_eq!((l.code, l.comment), ("7f 45", Some("magic")));
    }

    #[test]
    fn hex1_pointers_are_four_bytes_and_labels_none() {
        let m = hex1(src(":a 90\n%a ; back\nC3\n"));
        let lines: Vec<usize> = m.origins.iter().map(|o| o.line).collect();
        assert_eq!(lines, vec![1, 2, 2, 2, 2, 3]);
        let out = crate::hex1::assemble(&src(":a 90\n%a ; back\nC3\n")).unwrap();
        assert_eq!(out.len(), m.len());
    }

    #[test]
    fn m0_bytes_point_at_the_m1_line_of_their_token() {
        let m1 = "DEFINE NOP 90\nDEFINE RET C3\n:top\nNOP NOP # two\n'AB'\n\"x\"\nRET\n";
        let m = m0_then_hex2(src("7F\n"), Source::new("p.M1", m1.as_bytes().to_vec())).unwrap();
        let got: Vec<(usize, usize)> = m.origins.iter().map(|o| (o.file, o.line)).collect();
        // 7F; 90 90 (line 4); AB raw (line 5); "x" = 78 00 (line 6); C3 (line 7).
        let want = vec![(0, 1), (1, 4), (1, 4), (1, 5), (1, 6), (1, 6), (1, 7)];
        assert_eq!(got, want);
        assert_eq!(m.line_at(6).unwrap().code, "RET");
    }

    #[test]
    fn hex2_counts_every_pointer_kind_across_files() {
        let a = ":start 90\n!start @start\n";
        let b = "$start &start\n%start>start # rel\n";
        let m = hex2(
            vec![src(a), Source::new("u", b.as_bytes().to_vec())],
            crate::hex2::HEX2_C,
        );
        let got: Vec<(usize, usize)> = m.origins.iter().map(|o| (o.file, o.line)).collect();
        let mut want = vec![(0, 1), (0, 2), (0, 2), (0, 2)];
        want.extend([(1, 1); 6]);
        want.extend([(1, 2); 4]);
        assert_eq!(got, want);
        assert_eq!(m.line_at(7).unwrap().file, "u");
    }
}
