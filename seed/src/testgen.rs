//! Random inputs for property tests (feature `testgen`).
//!
//! These strategies produce well-formed seed-format text. They are shared by
//! this crate's tests (which compare with independent oracles) and by tests
//! elsewhere that compare the Rust tools with the emulated upstream binaries.

use proptest::prelude::*;

/// One piece of hex0 text.
#[derive(Debug, Clone)]
pub enum Hex0Piece {
    /// Two hex digits for one byte, in upper or lower case.
    Pair(u8, bool),
    /// A byte whose two digits are separated by this whitespace/comment text.
    SplitPair(u8, String),
    /// Spaces, tabs and newlines.
    Space(String),
    /// A `#` or `;` comment and its newline.
    Comment(char, String),
}

fn digits(b: u8, lower: bool) -> String {
    if lower {
        format!("{b:02x}")
    } else {
        format!("{b:02X}")
    }
}

/// Comment text: printable ASCII (anything goes inside a comment) without newlines.
pub fn comment_text() -> impl Strategy<Value = String> {
    "[ -~\t\r]{0,20}"
}

/// Text for a hex2/M1 line comment: printable ASCII and tabs (`\r` would end it).
pub fn line_comment_text() -> impl Strategy<Value = String> {
    "[ -~\t]{0,20}"
}

/// Whitespace between tokens.
pub fn whitespace() -> impl Strategy<Value = String> {
    "[ \t\n]{1,4}"
}

/// A hex0 piece.
pub fn hex0_piece() -> impl Strategy<Value = Hex0Piece> {
    prop_oneof![
        4 => (any::<u8>(), any::<bool>()).prop_map(|(b, l)| Hex0Piece::Pair(b, l)),
        1 => (any::<u8>(), prop_oneof![whitespace(), (prop_oneof![Just('#'), Just(';')], comment_text()).prop_map(|(c, t)| format!("{c}{t}\n"))])
            .prop_map(|(b, sep)| Hex0Piece::SplitPair(b, sep)),
        2 => whitespace().prop_map(Hex0Piece::Space),
        1 => (prop_oneof![Just('#'), Just(';')], comment_text()).prop_map(|(c, t)| Hex0Piece::Comment(c, t)),
    ]
}

/// Renders hex0 pieces; `final_newline` false leaves a final comment unterminated.
pub fn render_hex0(pieces: &[Hex0Piece], final_newline: bool) -> String {
    let mut out = String::new();
    for (k, p) in pieces.iter().enumerate() {
        match p {
            Hex0Piece::Pair(b, lower) => out.push_str(&digits(*b, *lower)),
            Hex0Piece::SplitPair(b, sep) => {
                let d = digits(*b, false);
                out.push_str(&d[..1]);
                out.push_str(sep);
                out.push_str(&d[1..]);
            }
            Hex0Piece::Space(s) => out.push_str(s),
            Hex0Piece::Comment(c, t) => {
                out.push(*c);
                out.push_str(t);
                if final_newline || k + 1 < pieces.len() {
                    out.push('\n');
                }
            }
        }
        // Keep the digits of neighbouring pairs apart from comment text.
        out.push(' ');
    }
    out
}

/// Whole hex0 programs as text.
pub fn hex0_text() -> impl Strategy<Value = String> {
    (prop::collection::vec(hex0_piece(), 0..60), any::<bool>())
        .prop_map(|(pieces, nl)| render_hex0(&pieces, nl))
}

/// One item of a generated hex2 program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hex2Item {
    /// Literal bytes, written as hex pairs.
    Bytes(Vec<u8>),
    /// `:name`.
    Label(String),
    /// A pointer: kind character, target name, optional `>base` name.
    Pointer(char, String, Option<String>),
    /// A `#` comment line.
    Comment(String),
}

/// Label names drawn from a small pool, so pointers often hit defined labels.
pub fn label_name() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u8..6).prop_map(|n| format!("L{n}")),
        "[a-z_][a-z0-9_.]{0,6}",
    ]
}

/// A hex2 item; `kinds` are the pointer characters to use.
pub fn hex2_item(kinds: &'static [char]) -> impl Strategy<Value = Hex2Item> {
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 1..40).prop_map(Hex2Item::Bytes),
        2 => label_name().prop_map(Hex2Item::Label),
        3 => (prop::sample::select(kinds), label_name(), prop::option::of(label_name()))
            .prop_map(|(k, t, b)| Hex2Item::Pointer(k, t, b)),
        1 => line_comment_text().prop_map(Hex2Item::Comment),
    ]
}

/// Pointer kinds of the C hex2.
pub const HEX2_KINDS: &[char] = &['!', '@', '$', '~', '%', '&'];
/// Pointer kinds of hex2-0.
pub const HEX2_0_KINDS: &[char] = &['!', '@', '$', '%', '&'];

/// A hex2 program as items.
pub fn hex2_program(kinds: &'static [char]) -> impl Strategy<Value = Vec<Hex2Item>> {
    prop::collection::vec(hex2_item(kinds), 0..40)
}

/// Renders hex2 items as text, one item per line.
pub fn render_hex2(items: &[Hex2Item]) -> String {
    let mut out = String::new();
    for item in items {
        match item {
            Hex2Item::Bytes(bytes) => {
                let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02X}")).collect();
                out.push_str(&hex.join(" "));
            }
            Hex2Item::Label(name) => {
                out.push(':');
                out.push_str(name);
            }
            Hex2Item::Pointer(kind, target, base) => {
                out.push(*kind);
                out.push_str(target);
                if let Some(b) = base {
                    out.push('>');
                    out.push_str(b);
                }
            }
            Hex2Item::Comment(text) => {
                out.push('#');
                out.push_str(text);
            }
        }
        out.push('\n');
    }
    out
}
