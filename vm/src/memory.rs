//! Guest memory: the full 32-bit address space in 4 KiB guest pages.
//!
//! Design (see README "Guest memory"): a flat table of 2^20 page slots, each an optional
//! boxed 4 KiB page plus a 64-bit map of which 64-byte granules of that page hold decoded
//! code. Nothing reserves 4 GiB of host address space, so it works on hosts that refuse such
//! a reservation and whatever the host page size is. The table itself (16 MiB) is an
//! anonymous mapping of its own, so the host only backs the slots that are touched. An
//! access to a page with no slot is a [`MemFault`], never silent zeros.
//!
//! Writes that land in a granule holding decoded code are recorded in
//! [`GuestMemory::take_code_writes`] so the CPU can drop stale blocks (self-modifying code,
//! or globals that share a page with code, as in every M2-Planet-built binary).

use std::ops::{Deref, DerefMut};

/// Size of one guest page in bytes.
pub const PAGE_SIZE: u32 = 4096;
const PAGE_SHIFT: u32 = 12;
const PAGE_COUNT: usize = 1 << 20;

/// Bytes per slot of [`GuestMemory::slot_table`].
pub const SLOT_BYTES: u32 = std::mem::size_of::<PageSlot>() as u32;
/// Offset in a slot of the page's host address (0: unmapped).
pub const SLOT_DATA: i32 = std::mem::offset_of!(PageSlot, data) as i32;
/// Offset in a slot of the page's code-granule map (a u64).
pub const SLOT_CODE: i32 = std::mem::offset_of!(PageSlot, code) as i32;
// Translated code reads `data` as one pointer-sized word: Option<Box> must be exactly that.
const _: () = assert!(std::mem::size_of::<Option<Box<Page>>>() == std::mem::size_of::<usize>());
/// Code is tracked in granules of this many bytes (64 granules per page).
pub const CODE_GRANULE: u32 = 64;

type Page = [u8; PAGE_SIZE as usize];

// repr(C): the JIT reads slots in place (see `GuestMemory::slot_table`).
#[derive(Clone, Default)]
#[repr(C)]
struct PageSlot {
    data: Option<Box<Page>>,
    /// Bit i set: granule i (bytes 64*i .. 64*i+63) holds decoded code.
    code: u64,
}

/// A guest memory access that hit an unmapped page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{} of unmapped guest address {addr:#010x}", if *.write { "write" } else { "read" })]
pub struct MemFault {
    /// The first unmapped guest address touched.
    pub addr: u32,
    /// Whether the access was a write.
    pub write: bool,
}

/// The 2^20 page slots, in an anonymous mapping (zero-filled on demand by the host).
///
/// Not a heap allocation: the allocator serves a 16 MiB request from its heap once it has
/// seen one freed (glibc raises its mmap threshold to the size of a freed mapping), and
/// then zeroes all of it, making every address space cost 16 MiB of resident memory
/// instead of the few slots it touches — with a waiting kaem, M2-Mesoplanet and their
/// child alive at once, that was most of the chain's peak RSS above the guests' own.
struct SlotTable(memmap2::MmapMut);

impl SlotTable {
    fn new() -> SlotTable {
        let len = std::mem::size_of::<[PageSlot; PAGE_COUNT]>();
        match memmap2::MmapMut::map_anon(len) {
            Ok(m) => SlotTable(m),
            // Like any failed allocation.
            Err(_) => {
                std::alloc::handle_alloc_error(std::alloc::Layout::new::<[PageSlot; PAGE_COUNT]>())
            }
        }
    }
}

impl Deref for SlotTable {
    type Target = [PageSlot; PAGE_COUNT];
    #[inline(always)]
    fn deref(&self) -> &Self::Target {
        // SAFETY: the mapping is exactly this size, page-aligned (enough for PageSlot),
        // starts zero-filled, and all-zero bytes are a valid PageSlot (None is Box's null
        // niche, `code` a plain u64); only PageSlots are ever written to it.
        unsafe { &*(self.0.as_ptr() as *const [PageSlot; PAGE_COUNT]) }
    }
}

impl DerefMut for SlotTable {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut Self::Target {
        // SAFETY: as in `deref`, and the mapping is uniquely owned.
        unsafe { &mut *(self.0.as_mut_ptr() as *mut [PageSlot; PAGE_COUNT]) }
    }
}

/// The guest's address space.
pub struct GuestMemory {
    slots: SlotTable,
    /// Page numbers that have a slot, kept so fork and teardown need not scan 2^20 slots.
    mapped: Vec<u32>,
    /// Guest ranges (start, len) written inside code granules since the last take: the
    /// view of the engine running on this memory (the interpreter's code cache, or an
    /// engine keeping its own copy of the guest's memory).
    code_writes: Vec<(u32, u32)>,
    /// The same writes for each other subscriber ([`Self::subscribe_writes`]), each its own
    /// log so no reader takes records another still needs. `None`: unsubscribed.
    subscribers: Vec<Option<Vec<(u32, u32)>>>,
}

/// A subscription to the writes into marked granules of one [`GuestMemory`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteLogId(usize);

impl Default for GuestMemory {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for GuestMemory {
    /// A full copy of every mapped page (fork).
    fn clone(&self) -> Self {
        let mut m = GuestMemory::new();
        for &p in &self.mapped {
            m.slots[p as usize].data = self.slots[p as usize].data.clone();
        }
        m.mapped = self.mapped.clone();
        m
    }
}

impl Drop for GuestMemory {
    /// Frees the pages: unmapping the slot table does not run their destructors.
    fn drop(&mut self) {
        for &p in &self.mapped {
            self.slots[p as usize].data = None;
        }
    }
}

fn zero_page() -> Box<Page> {
    // Box<[u8; 4096]> via a zeroed Vec avoids a 4 KiB stack temporary.
    vec![0u8; PAGE_SIZE as usize]
        .into_boxed_slice()
        .try_into()
        .expect("page size")
}

impl GuestMemory {
    /// An empty address space: every access faults until pages are mapped.
    pub fn new() -> Self {
        GuestMemory {
            slots: SlotTable::new(),
            mapped: Vec::new(),
            code_writes: Vec::new(),
            subscribers: Vec::new(),
        }
    }

    /// Maps zero-filled pages covering `[addr, addr+len)`. Already-mapped pages keep their
    /// contents.
    pub fn map(&mut self, addr: u32, len: u32) {
        if len == 0 {
            return;
        }
        let first = addr >> PAGE_SHIFT;
        let last = ((addr as u64 + len as u64 - 1) >> PAGE_SHIFT) as u32;
        for p in first..=last {
            let slot = &mut self.slots[p as usize];
            if slot.data.is_none() {
                slot.data = Some(zero_page());
                self.mapped.push(p);
            }
        }
    }

    /// Unmaps every page wholly inside `[addr, addr+len)`.
    pub fn unmap(&mut self, addr: u32, len: u32) {
        let first = addr.div_ceil(PAGE_SIZE);
        let end = ((addr as u64 + len as u64) >> PAGE_SHIFT) as u32;
        if end <= first {
            return;
        }
        for p in first..end {
            let slot = &mut self.slots[p as usize];
            slot.data = None;
            slot.code = 0;
        }
        self.mapped.retain(|&p| p < first || p >= end);
    }

    /// Unmaps everything (execve).
    pub fn clear(&mut self) {
        for &p in &self.mapped {
            self.slots[p as usize] = PageSlot::default();
        }
        self.mapped.clear();
        self.code_writes.clear();
        // The image is gone: so are the subscribers following it.
        self.subscribers.clear();
    }

    /// Whether the page holding `addr` is mapped.
    #[inline]
    pub fn is_mapped(&self, addr: u32) -> bool {
        self.slots[(addr >> PAGE_SHIFT) as usize].data.is_some()
    }

    /// Number of mapped pages.
    pub fn mapped_pages(&self) -> usize {
        self.mapped.len()
    }

    #[inline(always)]
    fn page(&self, addr: u32) -> Option<&Page> {
        self.slots[(addr >> PAGE_SHIFT) as usize].data.as_deref()
    }

    #[inline(always)]
    fn page_mut(&mut self, addr: u32, len: u32) -> Option<&mut Page> {
        let page = (addr >> PAGE_SHIFT) as usize;
        let code = self.slots[page].code;
        if code != 0 {
            // M2-Planet binaries keep their globals on the code's pages: this check is
            // common, the hit is rare.
            let off = addr & (PAGE_SIZE - 1);
            let g0 = off / CODE_GRANULE;
            let g1 = (off + len - 1).min(PAGE_SIZE - 1) / CODE_GRANULE;
            let mask = (u64::MAX >> (63 - (g1 - g0))) << g0;
            if code & mask != 0 {
                self.note_code_write(addr, len);
            }
        }
        self.slots[page].data.as_deref_mut()
    }

    /// Records a store that hit a code granule. Out of line so the store fast path keeps
    /// few registers (a Vec push may allocate).
    #[cold]
    #[inline(never)]
    fn note_code_write(&mut self, addr: u32, len: u32) {
        self.code_writes.push((addr, len));
        for log in self.subscribers.iter_mut().flatten() {
            log.push((addr, len));
        }
    }

    /// The page and offset of an `N`-byte load at `addr` that stays inside one mapped
    /// page; `None` otherwise. No calls: the interpreter's fast paths are built on this
    /// and leave everything else to the general accessors.
    #[inline(always)]
    fn fast_page<const N: u32>(&self, addr: u32) -> Option<(&Page, usize)> {
        let off = addr & (PAGE_SIZE - 1);
        if off > PAGE_SIZE - N {
            return None;
        }
        let page = self.slots[(addr >> PAGE_SHIFT) as usize].data.as_deref()?;
        Some((page, off as usize))
    }

    /// Like [`Self::fast_page`] for an `N`-byte store, also refusing a store into a
    /// granule that holds decoded code (which must be recorded: the general path does).
    #[inline(always)]
    fn fast_page_mut<const N: u32>(&mut self, addr: u32) -> Option<(&mut Page, usize)> {
        let off = addr & (PAGE_SIZE - 1);
        if off > PAGE_SIZE - N {
            return None;
        }
        let slot = &mut self.slots[(addr >> PAGE_SHIFT) as usize];
        // Stores to a page holding decoded code (even outside its granules) take the
        // general path: testing the granules here costs the fast path registers, and
        // only the page an image's code shares with its first globals is affected.
        if slot.code != 0 {
            return None;
        }
        let page = slot.data.as_deref_mut()?;
        Some((page, off as usize))
    }

    /// The page-slot table as translated code reads it: 2^20 slots of [`SLOT_BYTES`]
    /// bytes, indexed by guest page number; at [`SLOT_DATA`] the host address of the
    /// page's 4 KiB (0 when unmapped), at [`SLOT_CODE`] its code-granule map (a store may
    /// go inline only into granules whose bit is 0: the others must be recorded). Valid
    /// until the memory is dropped; mapping and unmapping change slots in place.
    pub fn slot_table(&self) -> *const u8 {
        self.slots.0.as_ptr()
    }

    /// A u32 load that needs no slow path (in one mapped page), else `None`.
    #[inline(always)]
    pub fn try_read_u32(&self, addr: u32) -> Option<u32> {
        let (p, off) = self.fast_page::<4>(addr)?;
        Some(u32::from_le_bytes(p[off..off + 4].try_into().unwrap()))
    }

    /// A byte load from a mapped page, else `None`.
    #[inline(always)]
    pub fn try_read_u8(&self, addr: u32) -> Option<u8> {
        let (p, off) = self.fast_page::<1>(addr)?;
        Some(p[off])
    }

    /// A u32 store that needs no slow path (in one mapped page, no decoded code in its
    /// granules): whether it was done. When not, nothing was written.
    #[inline(always)]
    pub fn try_write_u32(&mut self, addr: u32, v: u32) -> bool {
        match self.fast_page_mut::<4>(addr) {
            Some((p, off)) => {
                p[off..off + 4].copy_from_slice(&v.to_le_bytes());
                true
            }
            None => false,
        }
    }

    /// A byte store, as [`Self::try_write_u32`].
    #[inline(always)]
    pub fn try_write_u8(&mut self, addr: u32, v: u8) -> bool {
        match self.fast_page_mut::<1>(addr) {
            Some((p, off)) => {
                p[off] = v;
                true
            }
            None => false,
        }
    }

    /// Reads one byte.
    #[inline(always)]
    pub fn read_u8(&self, addr: u32) -> Result<u8, MemFault> {
        match self.page(addr) {
            Some(p) => Ok(p[(addr & (PAGE_SIZE - 1)) as usize]),
            None => Err(MemFault { addr, write: false }),
        }
    }

    /// Reads a little-endian u16.
    #[inline(always)]
    pub fn read_u16(&self, addr: u32) -> Result<u16, MemFault> {
        let off = (addr & (PAGE_SIZE - 1)) as usize;
        if off <= PAGE_SIZE as usize - 2 {
            match self.page(addr) {
                Some(p) => Ok(u16::from_le_bytes([p[off], p[off + 1]])),
                None => Err(MemFault { addr, write: false }),
            }
        } else {
            Ok(self.read_split(addr, 2)? as u16)
        }
    }

    /// Reads a little-endian u32.
    #[inline(always)]
    pub fn read_u32(&self, addr: u32) -> Result<u32, MemFault> {
        let off = (addr & (PAGE_SIZE - 1)) as usize;
        if off <= PAGE_SIZE as usize - 4 {
            match self.page(addr) {
                Some(p) => Ok(u32::from_le_bytes(p[off..off + 4].try_into().unwrap())),
                None => Err(MemFault { addr, write: false }),
            }
        } else {
            self.read_split(addr, 4)
        }
    }

    /// Writes one byte.
    #[inline(always)]
    pub fn write_u8(&mut self, addr: u32, v: u8) -> Result<(), MemFault> {
        match self.page_mut(addr, 1) {
            Some(p) => {
                p[(addr & (PAGE_SIZE - 1)) as usize] = v;
                Ok(())
            }
            None => Err(MemFault { addr, write: true }),
        }
    }

    /// Writes a little-endian u16.
    #[inline(always)]
    pub fn write_u16(&mut self, addr: u32, v: u16) -> Result<(), MemFault> {
        let off = (addr & (PAGE_SIZE - 1)) as usize;
        if off <= PAGE_SIZE as usize - 2 {
            match self.page_mut(addr, 2) {
                Some(p) => {
                    p[off..off + 2].copy_from_slice(&v.to_le_bytes());
                    Ok(())
                }
                None => Err(MemFault { addr, write: true }),
            }
        } else {
            self.write_split(addr, v as u32, 2)
        }
    }

    /// Writes a little-endian u32.
    #[inline(always)]
    pub fn write_u32(&mut self, addr: u32, v: u32) -> Result<(), MemFault> {
        let off = (addr & (PAGE_SIZE - 1)) as usize;
        if off <= PAGE_SIZE as usize - 4 {
            match self.page_mut(addr, 4) {
                Some(p) => {
                    p[off..off + 4].copy_from_slice(&v.to_le_bytes());
                    Ok(())
                }
                None => Err(MemFault { addr, write: true }),
            }
        } else {
            self.write_split(addr, v, 4)
        }
    }

    /// A little-endian load of `n` (2 or 4) bytes that crosses a page boundary. Out of
    /// line (like the other slow paths) so the handlers' fast paths stay small.
    #[cold]
    #[inline(never)]
    fn read_split(&self, addr: u32, n: usize) -> Result<u32, MemFault> {
        let mut b = [0u8; 4];
        self.read_bytes(addr, &mut b[..n])?;
        Ok(u32::from_le_bytes(b))
    }

    /// A little-endian store of the low `n` (2 or 4) bytes of `v` across a page boundary.
    #[cold]
    #[inline(never)]
    fn write_split(&mut self, addr: u32, v: u32, n: usize) -> Result<(), MemFault> {
        self.write_bytes(addr, &v.to_le_bytes()[..n])
    }

    /// Checks that every page of `[addr, addr+len)` is mapped; returns the first fault.
    pub fn check_range(&self, addr: u32, len: u32, write: bool) -> Result<(), MemFault> {
        if len == 0 {
            return Ok(());
        }
        let mut a = addr;
        let end = addr as u64 + len as u64;
        while (a as u64) < end {
            if !self.is_mapped(a) {
                return Err(MemFault { addr: a, write });
            }
            match a.checked_add(PAGE_SIZE - (a & (PAGE_SIZE - 1))) {
                Some(n) => a = n,
                // The range runs past 4 GiB: the wrapped address 0 is the fault.
                None if end > 1 << 32 => return Err(MemFault { addr: 0, write }),
                None => break,
            }
        }
        Ok(())
    }

    /// How many bytes of `[addr, addr+len)` are mapped before the first unmapped page: a
    /// syscall touches that much of a buffer before it faults, as Linux's copies do.
    pub fn mapped_prefix(&self, addr: u32, len: u32) -> u32 {
        let end = (addr as u64 + len as u64).min(1 << 32);
        let mut a = addr as u64;
        while a < end {
            if !self.is_mapped(a as u32) {
                return (a - addr as u64) as u32;
            }
            a = (a | (PAGE_SIZE as u64 - 1)) + 1;
        }
        (end - addr as u64) as u32
    }

    /// Reads `buf.len()` bytes starting at `addr`. On a fault nothing is guaranteed about `buf`.
    pub fn read_bytes(&self, addr: u32, buf: &mut [u8]) -> Result<(), MemFault> {
        self.check_range(addr, buf.len() as u32, false)?;
        let mut a = addr;
        let mut done = 0;
        while done < buf.len() {
            let off = (a & (PAGE_SIZE - 1)) as usize;
            let n = (PAGE_SIZE as usize - off).min(buf.len() - done);
            let p = self.page(a).expect("checked");
            buf[done..done + n].copy_from_slice(&p[off..off + n]);
            done += n;
            a = a.wrapping_add(n as u32);
        }
        Ok(())
    }

    /// Writes `data` starting at `addr`; either all of it is written or nothing (fault).
    pub fn write_bytes(&mut self, addr: u32, data: &[u8]) -> Result<(), MemFault> {
        self.check_range(addr, data.len() as u32, true)?;
        let mut a = addr;
        let mut done = 0;
        while done < data.len() {
            let off = (a & (PAGE_SIZE - 1)) as usize;
            let n = (PAGE_SIZE as usize - off).min(data.len() - done);
            let p = self.page_mut(a, n as u32).expect("checked");
            p[off..off + n].copy_from_slice(&data[done..done + n]);
            done += n;
            a = a.wrapping_add(n as u32);
        }
        Ok(())
    }

    /// Reads a NUL-terminated string of at most `max` bytes (without the NUL).
    pub fn read_cstr(&self, addr: u32, max: usize) -> Result<Vec<u8>, MemFault> {
        let mut out = Vec::new();
        let mut a = addr;
        loop {
            let b = self.read_u8(a)?;
            if b == 0 || out.len() >= max {
                return Ok(out);
            }
            out.push(b);
            a = a.wrapping_add(1);
        }
    }

    /// Marks `[addr, addr+len)` as holding decoded code, so later writes there are reported.
    pub fn mark_code(&mut self, addr: u32, len: u32) {
        let mut a = addr;
        let end = addr as u64 + len as u64;
        while (a as u64) < end {
            let off = a & (PAGE_SIZE - 1);
            let slot = &mut self.slots[(a >> PAGE_SHIFT) as usize];
            slot.code |= 1u64 << (off / CODE_GRANULE);
            match a.checked_add(CODE_GRANULE - (off % CODE_GRANULE)) {
                Some(n) => a = n,
                None => break,
            }
        }
    }

    /// Forgets all code marks (the CPU dropped its whole block cache).
    pub fn clear_code_marks(&mut self) {
        for &p in &self.mapped {
            self.slots[p as usize].code = 0;
        }
    }

    /// Whether any write hit a code granule since the last [`Self::take_code_writes`].
    #[inline(always)]
    pub fn has_code_writes(&self) -> bool {
        !self.code_writes.is_empty()
    }

    /// The guest ranges `(start, len)` written inside code granules since the last take.
    pub fn code_writes(&self) -> &[(u32, u32)] {
        &self.code_writes
    }

    /// Returns and forgets the guest ranges `(start, len)` written inside code granules.
    pub fn take_code_writes(&mut self) -> Vec<(u32, u32)> {
        std::mem::take(&mut self.code_writes)
    }

    /// A log of its own of every later write into a marked granule, for an observer that
    /// is not the engine running on this memory (the lockstep's shadow copy). Marks are
    /// shared: mark what you need with [`Self::mark_code`]; the engine's code-cache flush
    /// may clear them. A copy of the memory ([`Clone`]) and [`Self::clear`] start with no
    /// subscribers.
    pub fn subscribe_writes(&mut self) -> WriteLogId {
        self.subscribers.push(Some(Vec::new()));
        WriteLogId(self.subscribers.len() - 1)
    }

    /// Returns and forgets the writes logged for `id` (empty once unsubscribed).
    pub fn take_writes(&mut self, id: WriteLogId) -> Vec<(u32, u32)> {
        match self.subscribers.get_mut(id.0) {
            Some(Some(log)) => std::mem::take(log),
            _ => Vec::new(),
        }
    }

    /// Ends the subscription `id`.
    pub fn unsubscribe_writes(&mut self, id: WriteLogId) {
        if let Some(s) = self.subscribers.get_mut(id.0) {
            *s = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmapped_access_faults() {
        let m = GuestMemory::new();
        assert_eq!(
            m.read_u32(0x1000),
            Err(MemFault {
                addr: 0x1000,
                write: false
            })
        );
    }

    #[test]
    fn map_read_write_and_cross_page() {
        let mut m = GuestMemory::new();
        m.map(0x0804_8000, 0x2000);
        m.write_u32(0x0804_8ffe, 0xaabb_ccdd).unwrap();
        assert_eq!(m.read_u32(0x0804_8ffe).unwrap(), 0xaabb_ccdd);
        assert_eq!(m.read_u8(0x0804_9000).unwrap(), 0xbb);
        assert_eq!(m.read_u16(0x0804_8fff).unwrap(), 0xbbcc);
        // Straddling into an unmapped page faults at the first unmapped byte, writing nothing.
        let err = m.write_u32(0x0804_9ffe, 1).unwrap_err();
        assert_eq!(err.addr, 0x0804_a000);
        assert_eq!(m.read_u16(0x0804_9ffe).unwrap(), 0);
    }

    #[test]
    fn each_write_subscriber_reads_its_own_log() {
        let mut m = GuestMemory::new();
        m.map(0x1000, 0x1000);
        m.mark_code(0x1000, 0x1000);
        let a = m.subscribe_writes();
        let b = m.subscribe_writes();
        m.write_u8(0x1010, 1).unwrap();
        assert_eq!(m.take_writes(a), vec![(0x1010, 1)]);
        m.write_u8(0x1020, 2).unwrap();
        assert_eq!(m.take_writes(a), vec![(0x1020, 1)]);
        // b's log and the engine's own view keep every write: nobody took theirs.
        assert_eq!(m.take_writes(b), vec![(0x1010, 1), (0x1020, 1)]);
        assert_eq!(m.take_code_writes(), vec![(0x1010, 1), (0x1020, 1)]);
        m.unsubscribe_writes(a);
        m.write_u8(0x1030, 3).unwrap();
        assert!(m.take_writes(a).is_empty());
        assert_eq!(m.take_writes(b), vec![(0x1030, 1)]);
        // A copy (fork) starts with no subscribers.
        let mut c = m.clone();
        c.mark_code(0x1000, 0x1000);
        c.write_u8(0x1040, 4).unwrap();
        assert!(c.take_writes(b).is_empty());
    }

    #[test]
    fn code_writes_are_reported_per_granule() {
        let mut m = GuestMemory::new();
        m.map(0x1000, 0x1000);
        m.mark_code(0x1040, 10);
        m.write_u32(0x1080, 5).unwrap(); // next granule: not code
        assert!(!m.has_code_writes());
        m.write_u8(0x107f, 5).unwrap(); // same granule as the code
        assert_eq!(m.take_code_writes(), vec![(0x107f, 1)]);
        m.write_bytes(0x1000, &[1; 0x100]).unwrap();
        assert!(m.has_code_writes());
    }

    #[test]
    fn fork_copy_is_independent_and_unmap_works() {
        let mut m = GuestMemory::new();
        m.map(0x2000, 1);
        m.write_u8(0x2000, 7).unwrap();
        let mut c = m.clone();
        c.write_u8(0x2000, 9).unwrap();
        assert_eq!(m.read_u8(0x2000).unwrap(), 7);
        assert_eq!(c.read_u8(0x2000).unwrap(), 9);
        m.unmap(0x2000, 0x1000);
        assert!(!m.is_mapped(0x2000));
        assert_eq!(m.mapped_pages(), 0);
        assert_eq!(c.mapped_pages(), 1);
    }

    #[test]
    fn range_past_4gib_faults() {
        let mut m = GuestMemory::new();
        m.map(0xffff_f000, 0x1000);
        assert!(m.read_bytes(0xffff_fff0, &mut [0; 32]).is_err());
        assert!(m.read_bytes(0xffff_fff0, &mut [0; 16]).is_ok());
    }
}
