//! The decoded-block cache and its self-modifying-code bookkeeping.
//!
//! Blocks are found by guest EIP through a small direct-mapped table in front of a hash
//! map. For stale-code detection every page holding decoded code has an exact byte map of
//! the bytes blocks were decoded from plus the list of those blocks: guest memory reports
//! stores into 64-byte code granules, and only a store that overlaps decoded bytes (not
//! merely their granule: M2-Planet binaries keep globals right after the code) drops the
//! blocks it overlaps.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::decode::{decode_block, Decoded, Fusion};
use super::op::Op;
use super::tier::NativeBlock;
use super::FaultKind;
use crate::memory::{GuestMemory, PAGE_SIZE};

/// A multiply-shift hasher for u32 keys (guest addresses); std's SipHash is needlessly slow.
#[derive(Default, Clone, Copy)]
pub struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.0 = (v as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 20;
    }
}

type AddrMap<V> = HashMap<u32, V, BuildHasherDefault<AddrHasher>>;

/// A decoded basic block.
pub struct Block {
    /// Guest address of the first instruction.
    pub start: u32,
    /// Guest address just past the last instruction.
    pub end: u32,
    /// Guest instructions in the block: `ops` may hold one more, the synthetic jump to
    /// `end` (see [`super::decode::Decoded`]).
    pub insns: u32,
    pub ops: Box<[Op]>,
    /// Ops that run several instructions (see [`super::exec::fast`]).
    pub fused: Box<[Fusion]>,
    /// Times the tiered loop started it (see [`super::tier`]); `u32::MAX` once it has
    /// host code or the translator declined to compile it.
    pub heat: u32,
    /// Its host code, once translated.
    pub native: Option<NativeBlock>,
    /// Other guest bytes its host code was made from (a region of several blocks): a
    /// store there drops this block too.
    pub covers: Box<[(u32, u32)]>,
}

impl Block {
    /// The guest ranges `(start, end)` this block depends on: its own bytes, then those
    /// its host code covers.
    fn spans(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        std::iter::once((self.start, self.end)).chain(self.covers.iter().copied())
    }
}

/// Decoded code on one guest page.
#[derive(Clone)]
struct PageCode {
    /// Bit i set: page byte i was decoded into some live block.
    bytes: [u64; 64],
    /// Live blocks with bytes on this page.
    blocks: Vec<u32>,
}

/// Entries of the direct-mapped table (a power of two).
pub const FAST_SLOTS: usize = 4096;

/// A direct-mapped entry: a live block's start and where its ops are, so the executor
/// reaches the ops with one load after the hash (no slot table, no `Option`).
// repr(C): host code looks entries up in place (see [`fast_layout`]).
#[derive(Clone, Copy)]
#[repr(C)]
pub struct FastEntry {
    start: u32,
    insns: u32,
    len: u32,
    /// The block's ops (its `Box<[Op]>`, which does not move while the block lives);
    /// null when the entry is empty.
    ops: *const Op,
    /// The block's host code, if any (a copy of [`Block::native`]).
    native: Option<NativeBlock>,
    /// The block's slot in [`BlockCache::blocks`].
    slot: u32,
}

const EMPTY: FastEntry = FastEntry {
    start: 0,
    insns: 0,
    len: 0,
    ops: std::ptr::null(),
    native: None,
    slot: 0,
};

/// A live block as [`BlockCache::get`] finds it.
#[derive(Clone, Copy)]
pub struct BlockRef {
    /// Guest instructions in the block.
    pub insns: u32,
    len: u32,
    ops: *const Op,
    /// Its host code, if translated (only the tiered loop looks).
    pub native: Option<NativeBlock>,
    /// Its slot, for [`BlockCache::heat_up`].
    pub slot: u32,
}

impl BlockRef {
    /// The block's ops.
    ///
    /// # Safety
    /// The block must still be live: no [`BlockCache::invalidate`] or
    /// [`BlockCache::flush`] since the [`BlockCache::get`] that returned this.
    #[inline(always)]
    pub unsafe fn ops<'a>(self) -> &'a [Op] {
        // SAFETY: per the contract, `ops` points at the live block's `len` ops.
        unsafe { std::slice::from_raw_parts(self.ops, self.len as usize) }
    }
}

/// All decoded blocks of one [`super::Cpu`].
#[derive(Default)]
pub struct BlockCache {
    /// Slots; `None` once invalidated (the slot is then reused).
    blocks: Vec<Option<Block>>,
    free: Vec<u32>,
    by_start: AddrMap<u32>,
    /// Direct-mapped table in front of `by_start`; allocated on first use.
    fast: Vec<FastEntry>,
    pages: AddrMap<PageCode>,
}

// SAFETY: the raw pointers in `fast` point into boxes owned by `blocks` of the same
// cache; they are never shared outside it except through `BlockRef`, whose use is
// bounded by the cache's own mutation rules.
unsafe impl Send for BlockCache {}

/// Where host code finds a block in the direct-mapped table: entry `(eip ^ eip >> 12) &
/// (FAST_SLOTS - 1)`, [`fast_layout::SIZE`] bytes each.
pub mod fast_layout {
    use super::FastEntry;
    use std::mem::offset_of;
    pub const SIZE: i64 = std::mem::size_of::<FastEntry>() as i64;
    pub const START: i32 = offset_of!(FastEntry, start) as i32;
    pub const INSNS: i32 = offset_of!(FastEntry, insns) as i32;
    pub const NATIVE: i32 = offset_of!(FastEntry, native) as i32;
}

#[inline(always)]
fn fast_slot(eip: u32) -> usize {
    ((eip ^ (eip >> 12)) as usize) & (FAST_SLOTS - 1)
}

fn page_of(a: u32) -> u32 {
    a / PAGE_SIZE
}

impl BlockCache {
    /// The block starting at `eip`, decoding (and caching) it if needed. Errors when the
    /// first instruction cannot be fetched or executed at all.
    #[inline]
    pub fn get(&mut self, mem: &mut GuestMemory, eip: u32) -> Result<BlockRef, FaultKind> {
        if let Some(e) = self.fast.get(fast_slot(eip)) {
            if e.start == eip && !e.ops.is_null() {
                return Ok(BlockRef {
                    insns: e.insns,
                    len: e.len,
                    ops: e.ops,
                    native: e.native,
                    slot: e.slot,
                });
            }
        }
        self.get_slow(mem, eip)
    }

    #[cold]
    fn get_slow(&mut self, mem: &mut GuestMemory, eip: u32) -> Result<BlockRef, FaultKind> {
        if self.fast.is_empty() {
            self.fast = vec![EMPTY; FAST_SLOTS];
        }
        let slot = match self.by_start.get(&eip) {
            Some(&s) => s,
            None => {
                let d = decode_block(mem, eip)?;
                self.insert(mem, eip, d)
            }
        };
        let b = self.blocks[slot as usize]
            .as_ref()
            .expect("by_start names live blocks");
        let e = FastEntry {
            start: eip,
            insns: b.insns,
            len: b.ops.len() as u32,
            ops: b.ops.as_ptr(),
            native: b.native,
            slot,
        };
        self.fast[fast_slot(eip)] = e;
        Ok(BlockRef {
            insns: e.insns,
            len: e.len,
            ops: e.ops,
            native: e.native,
            slot,
        })
    }

    fn insert(&mut self, mem: &mut GuestMemory, start: u32, d: Decoded) -> u32 {
        let end = d.end;
        let block = Block {
            start,
            end,
            insns: d.insns as u32,
            ops: d.ops.into_boxed_slice(),
            fused: d.fused.into_boxed_slice(),
            heat: 0,
            native: None,
            covers: Box::new([]),
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.blocks[s as usize] = Some(block);
                s
            }
            None => {
                self.blocks.push(Some(block));
                (self.blocks.len() - 1) as u32
            }
        };
        self.by_start.insert(start, slot);
        self.track(mem, slot, start, end);
        slot
    }

    /// Records that the block in `slot` depends on the guest bytes `start..end`.
    fn track(&mut self, mem: &mut GuestMemory, slot: u32, start: u32, end: u32) {
        for_each_page_span(start, end, |page, lo, hi| {
            let pc = self.pages.entry(page).or_insert_with(|| PageCode {
                bytes: [0; 64],
                blocks: Vec::new(),
            });
            set_bits(&mut pc.bytes, lo, hi);
            if !pc.blocks.contains(&slot) {
                pc.blocks.push(slot);
            }
        });
        mem.mark_code(start, end.wrapping_sub(start));
    }

    /// The fused ops of the live block starting at `start` (which [`Self::get`] found).
    pub fn fusions(&self, start: u32) -> &[Fusion] {
        self.by_start
            .get(&start)
            .and_then(|&s| self.blocks[s as usize].as_ref())
            .map_or(&[], |b| &b.fused)
    }

    /// Drops the blocks that stores recorded in `mem` since the last call overlap (a
    /// store by the last block, or the kernel's into a code page).
    #[inline(always)]
    pub fn drop_written(&mut self, mem: &mut GuestMemory) {
        if mem.has_code_writes() {
            let writes = mem.take_code_writes();
            self.invalidate(&writes);
        }
    }

    /// The direct-mapped table, allocated if it was not yet (host code reads it).
    pub fn fast_table(&mut self) -> *const FastEntry {
        if self.fast.is_empty() {
            self.fast = vec![EMPTY; FAST_SLOTS];
        }
        self.fast.as_ptr()
    }

    /// Counts one more start of the live block in `slot`. At `heat.reuse` starts it
    /// takes host code the translator already has for these bytes (made for an earlier
    /// process); at `heat.compile` it has the translator make it (once: a block it
    /// declines stays on the ops). Whether it has host code now.
    #[cold]
    pub fn heat_up(
        &mut self,
        mem: &mut GuestMemory,
        slot: u32,
        heat: super::tier::Heat,
        translator: &dyn super::tier::Translator,
    ) -> bool {
        let Some(b) = self.blocks[slot as usize].as_mut() else {
            return false;
        };
        b.heat = b.heat.saturating_add(1);
        if b.heat != heat.reuse && b.heat != heat.compile {
            return false;
        }
        let compile = b.heat >= heat.compile;
        let made = translator.translate(mem, b.start, b.insns, compile);
        // Asked for the last time: compiled, or declined for good.
        if compile || made.is_some() {
            b.heat = u32::MAX;
        }
        let Some(t) = made else {
            return false;
        };
        b.native = Some(t.code);
        b.covers = t.covers.into_boxed_slice();
        if let Some(e) = self.fast.get_mut(fast_slot(b.start)) {
            if e.ops == b.ops.as_ptr() {
                e.native = b.native;
            }
        }
        let covers = b.covers.clone();
        for (start, end) in covers.iter().copied() {
            self.track(mem, slot, start, end);
        }
        true
    }

    /// Whether any of the written ranges overlaps bytes of a live block.
    pub fn hits_code(&self, writes: &[(u32, u32)]) -> bool {
        writes.iter().any(|&(addr, len)| {
            let mut hit = false;
            for_each_page_span(addr, addr.wrapping_add(len), |page, lo, hi| {
                if let Some(pc) = self.pages.get(&page) {
                    hit |= any_bits(&pc.bytes, lo, hi);
                }
            });
            hit
        })
    }

    /// Drops every block overlapping one of the written ranges.
    pub fn invalidate(&mut self, writes: &[(u32, u32)]) {
        for &(addr, len) in writes {
            let wend = addr as u64 + len as u64;
            let mut doomed = Vec::new();
            for_each_page_span(addr, addr.wrapping_add(len), |page, lo, hi| {
                if let Some(pc) = self.pages.get(&page) {
                    if any_bits(&pc.bytes, lo, hi) {
                        for &s in &pc.blocks {
                            if let Some(b) = &self.blocks[s as usize] {
                                if b.spans().any(|(start, end)| {
                                    (start as u64) < wend && (addr as u64) < span_end(start, end)
                                }) {
                                    doomed.push(s);
                                }
                            }
                        }
                    }
                }
            });
            doomed.sort_unstable();
            doomed.dedup();
            for s in doomed {
                self.remove(s);
            }
        }
    }

    fn remove(&mut self, slot: u32) {
        let Some(b) = self.blocks[slot as usize].take() else {
            return;
        };
        if self.by_start.get(&b.start) == Some(&slot) {
            self.by_start.remove(&b.start);
        }
        if let Some(e) = self.fast.get_mut(fast_slot(b.start)) {
            if e.ops == b.ops.as_ptr() {
                *e = EMPTY;
            }
        }
        self.free.push(slot);
        // Rebuild the byte maps of the pages the block touched from the blocks still there.
        let blocks = &self.blocks;
        for (start, end) in b.spans() {
            for_each_page_span(start, end, |page, _, _| {
                let Some(pc) = self.pages.get_mut(&page) else {
                    return;
                };
                pc.blocks.retain(|&s| s != slot);
                pc.bytes = [0; 64];
                for &s in &pc.blocks {
                    if let Some(o) = &blocks[s as usize] {
                        for (os, oe) in o.spans() {
                            for_each_page_span(os, oe, |p2, lo, hi| {
                                if p2 == page {
                                    set_bits(&mut pc.bytes, lo, hi);
                                }
                            });
                        }
                    }
                }
                if pc.blocks.is_empty() {
                    self.pages.remove(&page);
                }
            });
        }
    }

    /// Forgets every block (and the memory's code marks).
    pub fn flush(&mut self, mem: &mut GuestMemory) {
        *self = BlockCache::default();
        mem.clear_code_marks();
    }

    /// Number of live blocks.
    pub fn len(&self) -> usize {
        self.by_start.len()
    }
}

/// The end of the span `start..end` as a 64-bit address.
fn span_end(start: u32, end: u32) -> u64 {
    if end > start {
        end as u64
    } else {
        // The block runs up to the very end of the address space.
        1 << 32
    }
}

/// Calls `f(page, lo, hi)` for each page overlapping `[start, end)` (end = 0 means 4 GiB),
/// with `lo..hi` the byte offsets inside that page.
fn for_each_page_span(start: u32, end: u32, mut f: impl FnMut(u32, u32, u32)) {
    let end64 = if end == 0 && start != 0 {
        1u64 << 32
    } else {
        end as u64
    };
    let mut a = start as u64;
    while a < end64 {
        let page = page_of(a as u32);
        let page_base = page as u64 * PAGE_SIZE as u64;
        let hi = end64.min(page_base + PAGE_SIZE as u64);
        f(page, (a - page_base) as u32, (hi - page_base) as u32);
        a = hi;
    }
}

fn set_bits(bits: &mut [u64; 64], lo: u32, hi: u32) {
    for i in lo..hi {
        bits[(i / 64) as usize] |= 1 << (i % 64);
    }
}

fn any_bits(bits: &[u64; 64], lo: u32, hi: u32) -> bool {
    let mut i = lo;
    while i < hi {
        let w = (i / 64) as usize;
        let first = i % 64;
        let n = (hi - i).min(64 - first);
        let mask = if n == 64 {
            u64::MAX
        } else {
            ((1u64 << n) - 1) << first
        };
        if bits[w] & mask != 0 {
            return true;
        }
        i += n;
    }
    false
}
