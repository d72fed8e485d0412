//! `deflate.go`: the LZ77 pass with Go's lazy matching (levels 2-9).

use crate::block_writer::BlockWriter;
use crate::tables::*;

/// `compressionLevel`: lazy-matching parameters of levels 2-9.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Params {
    pub(crate) good: usize,
    pub(crate) lazy: usize,
    pub(crate) nice: usize,
    pub(crate) chain: usize,
    pub(crate) fast_skip_hashing: usize,
}

pub(crate) fn params(level: u32) -> Option<Params> {
    let p = |good, lazy, nice, chain, fast_skip_hashing| Params {
        good,
        lazy,
        nice,
        chain,
        fast_skip_hashing,
    };
    Some(match level {
        2 => p(4, 0, 16, 8, 5),
        3 => p(4, 0, 32, 32, 6),
        4 => p(4, 4, 16, 16, SKIP_NEVER),
        5 => p(8, 16, 32, 32, SKIP_NEVER),
        6 => p(8, 16, 128, 128, SKIP_NEVER),
        7 => p(8, 32, 128, 256, SKIP_NEVER),
        8 => p(32, 128, 258, 1024, SKIP_NEVER),
        9 => p(32, 258, 258, 4096, SKIP_NEVER),
        _ => return None,
    })
}

/// Go's `flate.Writer` for levels 2-9.
pub struct DeflateWriter {
    pub(crate) p: Params,
    pub(crate) w: BlockWriter,
    pub(crate) sync: bool,
    pub(crate) chain_head: isize,
    pub(crate) hash_head: Vec<u32>,
    pub(crate) hash_prev: Vec<u32>,
    pub(crate) hash_offset: isize,
    pub(crate) index: isize,
    pub(crate) window: Vec<u8>,
    pub(crate) window_end: isize,
    pub(crate) block_start: isize,
    pub(crate) byte_available: bool,
    pub(crate) tokens: Vec<u32>,
    pub(crate) length: isize,
    pub(crate) offset: isize,
    pub(crate) max_insert_index: isize,
}

impl DeflateWriter {
    /// A writer at `level` (2..=9); other levels use different Go code paths and are refused.
    pub fn new(level: u32) -> Option<Self> {
        Some(DeflateWriter {
            p: params(level)?,
            w: BlockWriter::new(),
            sync: false,
            chain_head: -1,
            hash_head: vec![0; HASH_SIZE],
            hash_prev: vec![0; WINDOW_SIZE],
            hash_offset: 1,
            index: 0,
            window: vec![0; 2 * WINDOW_SIZE],
            window_end: 0,
            block_start: 0,
            byte_available: false,
            tokens: Vec::with_capacity(MAX_FLATE_BLOCK_TOKENS + 1),
            length: MIN_MATCH_LENGTH as isize - 1,
            offset: 0,
            max_insert_index: 0,
        })
    }

    pub(crate) fn fill(&mut self, b: &[u8]) -> usize {
        const WS: isize = WINDOW_SIZE as isize;
        if self.index >= 2 * WS - (MIN_MATCH_LENGTH + MAX_MATCH_LENGTH) as isize {
            self.window.copy_within(WINDOW_SIZE..2 * WINDOW_SIZE, 0);
            self.index -= WS;
            self.window_end -= WS;
            self.block_start = if self.block_start >= WS {
                self.block_start - WS
            } else {
                i32::MAX as isize
            };
            self.hash_offset += WS;
            if self.hash_offset > MAX_HASH_OFFSET {
                let delta = self.hash_offset - 1;
                self.hash_offset -= delta;
                self.chain_head -= delta;
                for v in self.hash_prev.iter_mut().chain(self.hash_head.iter_mut()) {
                    *v = if *v as isize > delta {
                        (*v as isize - delta) as u32
                    } else {
                        0
                    };
                }
            }
        }
        let start = self.window_end as usize;
        let n = b.len().min(self.window.len() - start);
        self.window[start..start + n].copy_from_slice(&b[..n]);
        self.window_end += n as isize;
        n
    }

    pub(crate) fn write_block(&mut self, index: isize) {
        if index > 0 {
            let input =
                (self.block_start <= index).then_some(self.block_start as usize..index as usize);
            self.block_start = index;
            let tokens = std::mem::take(&mut self.tokens);
            self.w
                .write_block(&tokens, false, input.map(|r| &self.window[r]));
            self.tokens = tokens;
            self.tokens.clear();
        }
    }

    pub(crate) fn find_match(
        &self,
        pos: usize,
        prev_head: isize,
        prev_length: usize,
        lookahead: usize,
    ) -> Option<(usize, usize)> {
        let min_match_look = MAX_MATCH_LENGTH.min(lookahead);
        let win = &self.window[..pos + min_match_look];
        let nice = self.p.nice.min(win.len() - pos);
        let mut tries = self.p.chain;
        let mut length = prev_length;
        if length >= self.p.good {
            tries >>= 2;
        }
        let mut w_end = win[pos + length];
        let w_pos = &win[pos..];
        let min_index = pos as isize - WINDOW_SIZE as isize;
        let mut found = None;
        let mut i = prev_head;
        while tries > 0 {
            let iu = i as usize;
            if w_end == win[iu + length] {
                let n = win[iu..iu + min_match_look]
                    .iter()
                    .zip(&w_pos[..min_match_look])
                    .take_while(|(a, b)| a == b)
                    .count();
                if n > length && (n > MIN_MATCH_LENGTH || pos - iu <= 4096) {
                    length = n;
                    found = Some((n, pos - iu));
                    if n >= nice {
                        break;
                    }
                    w_end = win[pos + n];
                }
            }
            if i == min_index {
                break;
            }
            i = self.hash_prev[iu & WINDOW_MASK] as isize - self.hash_offset;
            if i < min_index || i < 0 {
                break;
            }
            tries -= 1;
        }
        found
    }

    pub(crate) fn insert_hash(&mut self, index: usize) -> u32 {
        let h = hash4(&self.window[index..index + MIN_MATCH_LENGTH]);
        let hh = &mut self.hash_head[(h & HASH_MASK) as usize];
        self.hash_prev[index & WINDOW_MASK] = *hh;
        *hh = (index as isize + self.hash_offset) as u32;
        h
    }

    /// Go's `deflate()` step: LZ77 with lazy matching over the window.
    pub(crate) fn deflate(&mut self) {
        let min_len = MIN_MATCH_LENGTH as isize;
        if self.window_end - self.index < (MIN_MATCH_LENGTH + MAX_MATCH_LENGTH) as isize
            && !self.sync
        {
            return;
        }
        self.max_insert_index = self.window_end - (min_len - 1);
        let skip_never = self.p.fast_skip_hashing == SKIP_NEVER;
        loop {
            let lookahead = self.window_end - self.index;
            if lookahead < (MIN_MATCH_LENGTH + MAX_MATCH_LENGTH) as isize {
                if !self.sync {
                    break;
                }
                if lookahead == 0 {
                    if self.byte_available {
                        self.tokens
                            .push(u32::from(self.window[self.index as usize - 1]));
                        self.byte_available = false;
                    }
                    if !self.tokens.is_empty() {
                        self.write_block(self.index);
                    }
                    break;
                }
            }
            if self.index < self.max_insert_index {
                let h = hash4(
                    &self.window[self.index as usize..self.index as usize + MIN_MATCH_LENGTH],
                );
                let hh = &mut self.hash_head[(h & HASH_MASK) as usize];
                self.chain_head = *hh as isize;
                self.hash_prev[self.index as usize & WINDOW_MASK] = self.chain_head as u32;
                *hh = (self.index + self.hash_offset) as u32;
            }
            let prev_length = self.length;
            let prev_offset = self.offset;
            self.length = min_len - 1;
            self.offset = 0;
            let min_index = (self.index - WINDOW_SIZE as isize).max(0);
            let search = if skip_never {
                lookahead > prev_length && (prev_length as usize) < self.p.lazy
            } else {
                lookahead > min_len - 1
            };
            if self.chain_head - self.hash_offset >= min_index && search {
                if let Some((l, o)) = self.find_match(
                    self.index as usize,
                    self.chain_head - self.hash_offset,
                    MIN_MATCH_LENGTH - 1,
                    lookahead as usize,
                ) {
                    self.length = l as isize;
                    self.offset = o as isize;
                }
            }
            let emit_match = if skip_never {
                prev_length >= min_len && self.length <= prev_length
            } else {
                self.length >= min_len
            };
            if emit_match {
                let (l, o) = if skip_never {
                    (prev_length, prev_offset)
                } else {
                    (self.length, self.offset)
                };
                self.tokens.push(
                    MATCH_TYPE
                        | ((l as usize - BASE_MATCH_LENGTH) as u32) << LENGTH_SHIFT
                        | (o as usize - BASE_MATCH_OFFSET) as u32,
                );
                if self.length as usize <= self.p.fast_skip_hashing {
                    let new_index = if skip_never {
                        self.index + prev_length - 1
                    } else {
                        self.index + self.length
                    };
                    self.index += 1;
                    while self.index < new_index {
                        if self.index < self.max_insert_index {
                            self.insert_hash(self.index as usize);
                        }
                        self.index += 1;
                    }
                    if skip_never {
                        self.byte_available = false;
                        self.length = min_len - 1;
                    }
                } else {
                    self.index += self.length;
                }
                if self.tokens.len() == MAX_FLATE_BLOCK_TOKENS {
                    self.write_block(self.index);
                }
            } else {
                if !skip_never || self.byte_available {
                    let i = if skip_never {
                        self.index - 1
                    } else {
                        self.index
                    };
                    self.tokens.push(u32::from(self.window[i as usize]));
                    if self.tokens.len() == MAX_FLATE_BLOCK_TOKENS {
                        self.write_block(i + 1);
                    }
                }
                self.index += 1;
                if skip_never {
                    self.byte_available = true;
                }
            }
        }
    }

    /// Compresses `b` (Go's `Write`).
    pub fn write(&mut self, mut b: &[u8]) {
        while !b.is_empty() {
            self.deflate();
            let n = self.fill(b);
            b = &b[n..];
        }
    }

    /// Flushes the last block and the final empty stored block; returns the stream.
    pub fn finish(mut self) -> Vec<u8> {
        self.sync = true;
        self.deflate();
        self.w.write_stored_header(0, true);
        self.w.bits.flush();
        self.w.bits.out
    }
}
