//! An input file held in memory, with positions for error messages.

use crate::error::{InputError, SeedError, SourcePos};

/// The bytes of one input file and the name it was given by.
#[derive(Debug, Clone)]
pub struct Source {
    /// File name as given on the command line.
    pub name: String,
    /// Its contents.
    pub data: Vec<u8>,
}

impl Source {
    /// Wraps `data` read from `name`.
    pub fn new(name: impl Into<String>, data: Vec<u8>) -> Self {
        Source {
            name: name.into(),
            data,
        }
    }

    /// Line and column of byte `offset` (an offset equal to the length is the end of file).
    pub fn pos(&self, offset: usize) -> SourcePos {
        let before = &self.data[..offset.min(self.data.len())];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        SourcePos {
            file: self.name.clone(),
            line,
            column: before.len() - line_start + 1,
        }
    }

    /// An input error at byte `offset`.
    pub fn error(&self, offset: usize, kind: InputError) -> SeedError {
        SeedError::Input {
            pos: self.pos(offset),
            kind,
        }
    }
}
