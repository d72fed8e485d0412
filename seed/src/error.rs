//! Typed errors for the seed tools.
//!
//! Every problem found in an input file carries a [`SourcePos`] (file, line,
//! column) so a learner can find the offending byte.

use std::fmt;
use std::io;

/// A position in an input file: 1-based line and 1-based byte column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePos {
    /// File name as given on the command line.
    pub file: String,
    /// 1-based line number (lines end with `\n`).
    pub line: usize,
    /// 1-based byte column within the line.
    pub column: usize,
}

impl fmt::Display for SourcePos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// What is wrong with an input file at some position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// A hex digit is left over when its file (or a label/pointer) interrupts the pair.
    #[error("hex digit {0:?} has no partner: hex digits must come in pairs")]
    UnpairedHexDigit(char),
    /// `G`/`g` outside a comment: hex0-seed's digit test lets them through as the value 16.
    #[error(
        "{0:?} is not a hex digit (upstream hex0-seed would silently read it as the value 16)"
    )]
    HexDigitG(char),
    /// A label or pointer appears after the first digit of a byte.
    #[error("{0:?} interrupts a hex byte: only one of its two digits came before it")]
    SplitByte(char),
    /// A pointer refers to a label that is never defined.
    #[error("unknown label {0:?}")]
    UnknownLabel(String),
    /// A pointer or label character with no name after it.
    #[error("{0:?} must be followed by a label name")]
    MissingLabelName(char),
    /// A pointer's value does not fit in its field.
    #[error("pointer {kind}{label}: value {value} does not fit in {bytes} byte(s) (allowed {min}..={max})")]
    PointerOutOfRange {
        /// The pointer character (`!`, `@`, `$`, `~`, `%`, `&`).
        kind: char,
        /// The label (and `>base`, if any) as written.
        label: String,
        /// The computed displacement or address.
        value: i64,
        /// Field width.
        bytes: u8,
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
    /// A number literal does not fit in its field.
    #[error("number {text:?} = {value} does not fit in {bytes} byte(s) (allowed {min}..={max})")]
    NumberOutOfRange {
        /// The token as written.
        text: String,
        /// Its value.
        value: i64,
        /// Field width.
        bytes: u8,
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
    /// This pointer kind does not exist in this tool's dialect.
    #[error("pointer kind {kind:?} is not supported by {tool}")]
    UnsupportedPointer {
        /// The pointer character.
        kind: char,
        /// The tool whose dialect lacks it.
        tool: &'static str,
    },
    /// A comment reaches the end of the file without a newline in a tool whose upstream loops forever on that.
    #[error("comment runs to end of file without a newline (upstream {0} never terminates on this input)")]
    CommentAtEof(&'static str),
    /// A token reaches the end of the file in a tool whose upstream loops forever on that.
    #[error("{what} runs to end of file without a terminating whitespace (upstream {tool} never terminates on this input)")]
    TokenAtEof {
        /// What kind of token.
        what: &'static str,
        /// The tool.
        tool: &'static str,
    },
    /// A quoted string without its closing quote.
    #[error("string starting with {0:?} is never closed")]
    UnterminatedString(char),
    /// A token longer than the tool's fixed buffer.
    #[error("token of {len} bytes is longer than {tool}'s limit of {max}")]
    TokenTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
        /// The tool.
        tool: &'static str,
    },
    /// `DEFINE` without a name and a value after it.
    #[error("DEFINE must be followed by a name and a value")]
    IncompleteDefine,
    /// A token that is neither a macro, number, string, label nor pointer.
    #[error("cannot assemble {0:?}: it is not a defined macro, a number, a string, a label or a pointer")]
    InvalidToken(String),
    /// M0 reads any token whose tail is a number as a number, whatever its first character.
    #[error("{0:?} looks like a number with prefix {1:?}; M0 only knows '!', '@' and '%' numbers (upstream M0 would emit one byte)")]
    NumberWithUnknownPrefix(String, char),
    /// A byte >= 0x80 in a `"string"`, which upstream M1 turns into garbage.
    #[error("byte 0x{0:02X} in a \"string\" is not ASCII (upstream M1 hexifies it incorrectly)")]
    NonAsciiInString(u8),
    /// The byte 0xFC where M0 expects a token: its fgetc cannot tell it from end of file.
    #[error("byte 0xFC at the start of a token (upstream M0 mistakes it for end of file)")]
    ByteLooksLikeEof,
    /// `<` padding with a negative count.
    #[error("negative padding {0:?}")]
    NegativePadding(String),
    /// A `:` at the very end of the input.
    #[error("':' at end of file has no label name after it")]
    LabelAtEof,
}

/// Any failure of a seed tool.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// Bad command line.
    #[error("{tool}: {message}")]
    Usage {
        /// The tool.
        tool: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// Path as given.
        path: String,
        /// OS error.
        source: io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// Path as given.
        path: String,
        /// OS error.
        source: io::Error,
    },
    /// A problem in an input file.
    #[error("{pos}: {kind}")]
    Input {
        /// Where.
        pos: SourcePos,
        /// What.
        kind: InputError,
    },
    /// `run_tool` was asked for a tool this crate does not implement.
    #[error("unknown seed tool {0:?}")]
    UnknownTool(String),
}

impl SeedError {
    /// The input error and its position, if this is one.
    pub fn input(&self) -> Option<(&SourcePos, &InputError)> {
        match self {
            SeedError::Input { pos, kind } => Some((pos, kind)),
            _ => None,
        }
    }
}
