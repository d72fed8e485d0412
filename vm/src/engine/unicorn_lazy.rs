//! The unicorn engine for whole runs ([`EngineKind::Unicorn`](crate::EngineKind)).
//!
//! [`FastUnicorn`] runs a process on unicorn-engine with no per-store hook: unicorn's
//! memory is the authoritative copy of what the guest stores, and the kernel's
//! [`GuestMemory`] is brought up to date only where the kernel is about to look.
//!
//! - **Out** (unicorn → kernel), at each stop: a syscall gets exactly the guest memory its
//!   handler reads, as the OS's syscall descriptions say ([`SyscallAbi`]: the buffer of
//!   `write`, string arguments); a syscall that copies or replaces the image (`fork`,
//!   `execve`), any syscall when no descriptions were given, and a run ended by its budget
//!   get every page; a fault gets the bytes at eip (the fault report disassembles them).
//! - **In** (kernel → unicorn), at the next run: every page carries a code mark, so the
//!   memory records the ranges the kernel wrote (`take_code_writes`); those are copied in.
//!   Pages the kernel mapped or unmapped (break, stack growth) are found from the count of
//!   mapped pages and the edges of each run of pages; anything else rebuilds the mapping.
//!
//! Grown memory is mapped as new unicorn regions that are merged with their neighbour
//! whenever the neighbour is no larger (a binary counter): a heap grown one page at a time
//! to N pages stays O(log N) regions and each page is copied O(log N) times. (One region
//! per page makes every later map rebuild a long flat view; remapping the whole heap on
//! each growth is quadratic.)
//!
//! Instructions are counted per translated block entered (a block hook with a small
//! direct-mapped cache of block sizes → instruction counts). The lockstep cross-check does
//! not use this engine: it needs every store reported, which
//! [`UnicornEngine`](super::unicorn::UnicornEngine) does.

use std::cell::Cell;
use std::rc::Rc;

use unicorn_engine::unicorn_const::{uc_error, Arch, HookType, Mode, Prot};
use unicorn_engine::{RegisterX86, Unicorn};

use super::unicorn::{count_insns, fault, settable_eflags, uc, vector, UnicornError, GPRS};
use super::{Engine, EngineError, GuestInput, ImageChange, SyscallAbi, SyscallMemory};
use crate::cpu::{Cpu, FaultKind, Stop};
use crate::memory::{GuestMemory, MemFault, PAGE_SIZE};

/// Guest pages in the 32-bit address space.
const PAGE_COUNT: u32 = 1 << 20;

/// Entries of the block-size → instruction-count cache.
const BLOCK_CACHE: usize = 1 << 14;

/// What the hooks saw during one `emu_start`.
#[derive(Default)]
struct Log {
    interrupt: Cell<Option<u32>>,
    /// The first invalid access: (address, size).
    unmapped: Cell<Option<(u32, u32)>>,
    /// Instructions in the blocks entered, and the last block `(addr, size)`.
    insns: Cell<u64>,
    last_block: Cell<(u32, u32)>,
}

/// A unicorn memory region, in guest pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Region {
    start: u32,
    n: u32,
}

impl Region {
    fn end(&self) -> u32 {
        self.start + self.n
    }
}

/// A live unicorn instance and the regions mapped in it.
struct Live {
    emu: Unicorn<'static, ()>,
    log: Rc<Log>,
    /// Ascending, disjoint.
    regions: Vec<Region>,
    /// Pages in all regions.
    pages: usize,
}

fn addr(page: u32) -> u64 {
    (page as u64) << 12
}

fn bytes(pages: u32) -> usize {
    pages as usize * PAGE_SIZE as usize
}

impl Live {
    fn new() -> Result<Live, UnicornError> {
        let mut emu = Unicorn::new(Arch::X86, Mode::MODE_32).map_err(uc("open (x86, 32-bit)"))?;
        let log = Rc::new(Log::default());
        let l = Rc::clone(&log);
        emu.add_intr_hook(move |emu, intno| {
            // Recording is all a hook may do safely; state is read after emu_start returns.
            l.interrupt.set(Some(intno));
            let _ = emu.emu_stop();
        })
        .map_err(uc("adding the interrupt hook"))?;
        let l = Rc::clone(&log);
        let mut cache = vec![(u32::MAX, 0u32, 0u32); BLOCK_CACHE];
        emu.add_block_hook(1, 0, move |emu: &mut Unicorn<'_, ()>, addr, size| {
            let a = addr as u32;
            let i = ((a ^ (a >> 14) ^ size.wrapping_mul(0x9e37)) as usize) & (BLOCK_CACHE - 1);
            let e = &mut cache[i];
            if e.0 != a || e.1 != size {
                let mut buf = vec![0u8; size as usize];
                let n = match emu.mem_read(addr, &mut buf) {
                    Ok(()) => count_insns(&buf, a, u32::MAX) as u32,
                    Err(_) => 1,
                };
                *e = (a, size, n);
            }
            l.insns.set(l.insns.get() + e.2 as u64);
            l.last_block.set((a, size));
        })
        .map_err(uc("adding the block hook"))?;
        Ok(Live {
            emu,
            log,
            regions: Vec::new(),
            pages: 0,
        })
    }

    /// The address that made the instruction at `eip` fault, found by running it once
    /// more with an invalid-memory hook (a faulting instruction changes nothing, so it
    /// faults again at the same access).
    ///
    /// The hook is not kept: while any invalid-memory hook exists, unicorn never marks a
    /// page dirty in its TLB, so every guest store takes the slow path (half the run time
    /// of a store-heavy guest).
    fn fault_address(&mut self, eip: u32) -> Result<Option<(u32, u32)>, UnicornError> {
        let l = Rc::clone(&self.log);
        l.unmapped.set(None);
        // begin > end: the hook covers the whole address space.
        let hook = self
            .emu
            .add_mem_hook(HookType::MEM_INVALID, 1, 0, move |_, _, addr, size, _| {
                if l.unmapped.get().is_none() {
                    l.unmapped.set(Some((addr as u32, size as u32)));
                }
                false // not handled: unicorn stops with an UNMAPPED error
            })
            .map_err(uc("adding the invalid-memory hook"))?;
        // The re-run's block must not count, nor become the last block entered.
        let saved = (self.log.insns.get(), self.log.last_block.get());
        let again = self.emu.emu_start(eip as u64, 0, 0, 1);
        self.log.insns.set(saved.0);
        self.log.last_block.set(saved.1);
        self.emu
            .remove_hook(hook)
            .map_err(uc("removing the invalid-memory hook"))?;
        let pc = self
            .emu
            .reg_read(RegisterX86::EIP)
            .map_err(uc("reading EIP"))? as u32;
        match again {
            Err(uc_error::READ_UNMAPPED | uc_error::WRITE_UNMAPPED | uc_error::FETCH_UNMAPPED)
                if pc == eip =>
            {
                Ok(self.log.unmapped.get())
            }
            Ok(()) | Err(_) => Err(UnicornError::Engine {
                what: "re-running a faulting instruction (it did not fault again)",
                err: again.err().unwrap_or(uc_error::EXCEPTION),
            }),
        }
    }

    /// Whether `page` is in a region.
    fn has(&self, page: u32) -> bool {
        self.region_of(page).is_some()
    }

    fn region_of(&self, page: u32) -> Option<usize> {
        let i = self.regions.partition_point(|r| r.end() <= page);
        (i < self.regions.len() && self.regions[i].start <= page).then_some(i)
    }

    /// Maps a new region holding `mem`'s pages `[start, start+n)`; returns its index.
    fn map_from(&mut self, mem: &GuestMemory, start: u32, n: u32) -> Result<usize, UnicornError> {
        let mut buf = vec![0u8; bytes(n)];
        mem.read_bytes(start << 12, &mut buf)?;
        self.map_with(start, &buf)
    }

    /// Maps a new region at page `start` holding `data` (whole pages); returns its index.
    fn map_with(&mut self, start: u32, data: &[u8]) -> Result<usize, UnicornError> {
        let n = (data.len() / PAGE_SIZE as usize) as u32;
        self.emu
            .mem_map(addr(start), data.len() as u64, Prot::ALL)
            .map_err(uc("mapping guest pages"))?;
        self.emu
            .mem_write(addr(start), data)
            .map_err(uc("writing guest pages"))?;
        let i = self.regions.partition_point(|r| r.start < start);
        self.regions.insert(i, Region { start, n });
        self.pages += n as usize;
        Ok(i)
    }

    /// The bytes of region `i`.
    fn read_region(&self, i: usize) -> Result<Vec<u8>, UnicornError> {
        let r = self.regions[i];
        let mut buf = vec![0u8; bytes(r.n)];
        self.emu
            .mem_read(addr(r.start), &mut buf)
            .map_err(uc("reading a region"))?;
        Ok(buf)
    }

    fn unmap(&mut self, i: usize) -> Result<Region, UnicornError> {
        let r = self.regions.remove(i);
        self.emu
            .mem_unmap(addr(r.start), bytes(r.n) as u64)
            .map_err(uc("unmapping a region"))?;
        self.pages -= r.n as usize;
        Ok(r)
    }

    /// Merges regions `i` and `i + 1` (adjacent) into one; returns its index (`i`).
    fn merge(&mut self, i: usize) -> Result<usize, UnicornError> {
        let mut data = self.read_region(i)?;
        data.extend(self.read_region(i + 1)?);
        let start = self.regions[i].start;
        self.unmap(i + 1)?;
        self.unmap(i)?;
        self.map_with(start, &data)
    }

    /// Adds `mem`'s pages `[start, start+n)`, adjacent to an existing run, and merges the
    /// new region into its neighbours while they are no larger.
    fn grow(&mut self, mem: &GuestMemory, start: u32, n: u32) -> Result<(), UnicornError> {
        let mut i = self.map_from(mem, start, n)?;
        loop {
            let r = self.regions[i];
            let below = i
                .checked_sub(1)
                .map(|j| self.regions[j])
                .filter(|b| b.end() == r.start && b.n <= r.n);
            let above = self
                .regions
                .get(i + 1)
                .copied()
                .filter(|a| a.start == r.end() && a.n <= r.n);
            if below.is_some() {
                i = self.merge(i - 1)?;
            } else if above.is_some() {
                i = self.merge(i)?;
            } else {
                return Ok(());
            }
        }
    }

    /// Removes pages `[start, end)` (each in some region), keeping the rest of the regions
    /// they were in.
    fn drop_pages(&mut self, start: u32, end: u32) -> Result<(), UnicornError> {
        while let Some(i) = self
            .regions
            .iter()
            .position(|r| r.start < end && r.end() > start)
        {
            let data = self.read_region(i)?;
            let r = self.unmap(i)?;
            if r.start < start {
                self.map_with(r.start, &data[..bytes(start - r.start)])?;
            }
            if r.end() > end {
                self.map_with(end, &data[bytes(end - r.start)..])?;
            }
        }
        Ok(())
    }

    /// Brings the regions in line with the pages mapped in `mem`: the edges of each run
    /// of regions move as the break or the stack did; anything else rebuilds everything.
    fn follow_mapping(&mut self, mem: &mut GuestMemory) -> Result<(), UnicornError> {
        let runs: Vec<(u32, u32)> = self
            .regions
            .chunk_by(|a, b| a.end() == b.start)
            .map(|run| (run[0].start, run[run.len() - 1].end()))
            .collect();
        for (lo, hi) in runs {
            let mut h = hi;
            while h > lo && !mapped(mem, h - 1) {
                h -= 1;
            }
            let mut l = lo;
            while l < h && !mapped(mem, l) {
                l += 1;
            }
            if h < hi {
                self.drop_pages(h.max(l), hi)?;
            }
            if l > lo {
                self.drop_pages(lo, l)?;
            }
            if l == h {
                continue;
            }
            let mut t = h;
            while mapped(mem, t) && !self.has(t) {
                t += 1;
            }
            if t > h {
                self.grow(mem, h, t - h)?;
                mark(mem, h, t);
            }
            let mut b = l;
            while b > 0 && mapped(mem, b - 1) && !self.has(b - 1) {
                b -= 1;
            }
            if b < l {
                self.grow(mem, b, l - b)?;
                mark(mem, b, l);
            }
        }
        if self.pages != mem.mapped_pages() {
            self.rebuild(mem)?;
        }
        Ok(())
    }

    /// Copies every region into `mem` (where mapped there), then maps exactly `mem`'s pages.
    fn rebuild(&mut self, mem: &mut GuestMemory) -> Result<(), UnicornError> {
        while !self.regions.is_empty() {
            let data = self.read_region(0)?;
            let r = self.unmap(0)?;
            for (k, page) in data.chunks(PAGE_SIZE as usize).enumerate() {
                let a = (r.start + k as u32) << 12;
                if mem.is_mapped(a) {
                    mem.write_bytes(a, page)?;
                }
            }
        }
        self.map_all(mem)
    }

    /// Maps every page of `mem`, one region per run of pages, and marks them all.
    fn map_all(&mut self, mem: &mut GuestMemory) -> Result<(), UnicornError> {
        let pages: Vec<u32> = (0..PAGE_COUNT)
            .filter(|&p| mem.is_mapped(p << 12))
            .collect();
        for run in pages.chunk_by(|a, b| b.wrapping_sub(*a) == 1) {
            let (start, n) = (run[0], run.len() as u32);
            self.map_from(mem, start, n)?;
            mark(mem, start, start + n);
        }
        mem.take_code_writes();
        Ok(())
    }

    /// Calls `f(mem, address, length)` for each piece of `[addr, addr+len)` that lies in
    /// one page and holds at most `chunk` bytes, while its page is mapped on both sides;
    /// `f` returns whether to go on.
    fn each_piece(
        &self,
        mem: &mut GuestMemory,
        addr: u32,
        len: u32,
        chunk: usize,
        mut f: impl FnMut(&mut GuestMemory, u64, usize) -> Result<bool, UnicornError>,
    ) -> Result<(), UnicornError> {
        let mut a = addr as u64;
        let end = addr as u64 + len as u64;
        while a < end && a < 1 << 32 {
            let n = (PAGE_SIZE as u64 - (a & (PAGE_SIZE as u64 - 1)))
                .min(end - a)
                .min(chunk as u64) as usize;
            if !mem.is_mapped(a as u32) || !self.has((a >> 12) as u32) || !f(mem, a, n)? {
                break;
            }
            a += n as u64;
        }
        Ok(())
    }

    /// Copies `[addr, addr+len)` from unicorn into `mem`, up to the first unmapped page.
    fn sync_range(&self, mem: &mut GuestMemory, addr: u32, len: u32) -> Result<(), UnicornError> {
        // Most writes are one byte: no page-sized buffer to zero for them.
        let mut buf = vec![0u8; (len as usize).min(PAGE_SIZE as usize)];
        let chunk = buf.len();
        self.each_piece(mem, addr, len, chunk, |mem, a, n| {
            self.emu
                .mem_read(a, &mut buf[..n])
                .map_err(uc("reading guest memory"))?;
            mem.write_bytes(a as u32, &buf[..n])?;
            Ok(true)
        })
    }

    /// Copies the NUL-terminated string at `addr` (at most `max` bytes) into `mem`.
    fn sync_cstr(&self, mem: &mut GuestMemory, addr: u32, max: u32) -> Result<(), UnicornError> {
        let mut buf = [0u8; 256];
        self.each_piece(mem, addr, max, buf.len(), |mem, a, n| {
            self.emu
                .mem_read(a, &mut buf[..n])
                .map_err(uc("reading guest memory"))?;
            let nul = buf[..n].iter().position(|&b| b == 0);
            let len = nul.map_or(n, |z| z + 1);
            mem.write_bytes(a as u32, &buf[..len])?;
            Ok(nul.is_none())
        })
    }

    /// Copies every region into `mem`.
    fn sync_all(&self, mem: &mut GuestMemory) -> Result<(), UnicornError> {
        for i in 0..self.regions.len() {
            let data = self.read_region(i)?;
            mem.write_bytes(self.regions[i].start << 12, &data)?;
        }
        Ok(())
    }

    /// The first address of `[addr, addr+size)` on a page that is not mapped.
    fn first_unmapped(&self, addr: u32, size: u32) -> Option<u32> {
        (0..size.max(1))
            .map(|i| addr.wrapping_add(i))
            .find(|a| !self.has(a >> 12))
    }

    /// Instructions retired by the last run, from the blocks it entered; a block left at
    /// a fault counts only up to the faulting instruction.
    fn block_insns(&self, stop: Stop) -> u64 {
        let n = self.log.insns.get();
        let (start, size) = self.log.last_block.get();
        match stop {
            Stop::Fault(f) if f.eip >= start && f.eip - start < size => {
                let mut buf = vec![0u8; size as usize];
                if self.emu.mem_read(start as u64, &mut buf).is_err() {
                    return n;
                }
                let whole = count_insns(&buf, start, u32::MAX);
                let before = count_insns(&buf, start, f.eip);
                n - (whole - before).min(n)
            }
            _ => n,
        }
    }
}

/// Whether guest page `p` is mapped in `mem`.
fn mapped(mem: &GuestMemory, p: u32) -> bool {
    p < PAGE_COUNT && mem.is_mapped(p << 12)
}

/// Marks pages `[start, end)` as code, so the memory records the kernel's stores there.
fn mark(mem: &mut GuestMemory, start: u32, end: u32) {
    for p in start..end {
        mem.mark_code(p << 12, PAGE_SIZE);
    }
}

/// unicorn as the engine of a whole run (see the module docs).
pub struct FastUnicorn {
    live: Option<Live>,
    regs: [u32; 8],
    eip: u32,
    eflags: u32,
    retired: u64,
    /// Registers (bit i = GPRS\[i\]), eip (bit 8) and EFLAGS (bit 9) changed from outside.
    dirty: u16,
    /// The last stop may have been followed by a change of the kernel's mapping.
    check_mapping: bool,
    /// What the OS reads at each syscall (None: everything).
    abi: Option<&'static dyn SyscallAbi>,
}

const DIRTY_EIP: u16 = 1 << 8;
const DIRTY_EFLAGS: u16 = 1 << 9;
const DIRTY_ALL: u16 = 0x3ff;

impl FastUnicorn {
    /// An engine starting from `cpu`'s registers, eip and EFLAGS; the unicorn instance is
    /// made from the memory at the first run.
    pub fn from_cpu(cpu: &Cpu) -> FastUnicorn {
        FastUnicorn {
            live: None,
            regs: cpu.regs,
            eip: cpu.eip,
            eflags: cpu.eflags(),
            retired: cpu.insns_retired(),
            dirty: DIRTY_ALL,
            check_mapping: false,
            abi: None,
        }
    }

    /// Syncs at each syscall only the memory `abi` says the OS reads (without it: every
    /// page).
    pub fn with_syscalls(mut self, abi: Option<&'static dyn SyscallAbi>) -> FastUnicorn {
        self.abi = abi;
        self
    }

    /// Makes the unicorn instance, or gives it what the kernel changed since the last stop.
    fn sync_in(&mut self, mem: &mut GuestMemory) -> Result<(), UnicornError> {
        let live = match self.live.as_mut() {
            Some(live) => {
                if mem.has_code_writes() {
                    for (a, len) in mem.take_code_writes() {
                        let mut buf = vec![0u8; len as usize];
                        // A range on a page unmapped since, or mapped only now (copied
                        // whole below), is skipped.
                        if mem.read_bytes(a, &mut buf).is_ok() && live.has(a >> 12) {
                            live.emu
                                .mem_write(a as u64, &buf)
                                .map_err(uc("writing the kernel's stores"))?;
                        }
                    }
                }
                if self.check_mapping || live.pages != mem.mapped_pages() {
                    live.follow_mapping(mem)?;
                    self.check_mapping = false;
                }
                live
            }
            None => {
                let mut live = Live::new()?;
                live.map_all(mem)?;
                self.dirty = DIRTY_ALL;
                self.live.insert(live)
            }
        };
        if self.dirty != 0 {
            for (i, r) in GPRS.iter().enumerate() {
                if self.dirty & (1 << i) != 0 {
                    live.emu
                        .reg_write(*r, self.regs[i] as u64)
                        .map_err(uc("writing a register"))?;
                }
            }
            if self.dirty & DIRTY_EFLAGS != 0 {
                live.emu
                    .reg_write(RegisterX86::EFLAGS, self.eflags as u64)
                    .map_err(uc("writing EFLAGS"))?;
            }
            self.dirty = 0;
        }
        Ok(())
    }

    /// Gives the kernel the guest memory it is about to read after `stop`.
    fn sync_out(&mut self, mem: &mut GuestMemory, stop: Stop) -> Result<(), UnicornError> {
        let live = self.live.as_ref().expect("synced in");
        match stop {
            Stop::Syscall => {
                let os = self
                    .abi
                    .map_or(SyscallMemory::UNKNOWN, |abi| abi.memory_use(&self.regs));
                if os.image.reads_everything() {
                    live.sync_all(mem)?;
                } else {
                    for input in os.inputs() {
                        match input {
                            GuestInput::Bytes { addr, len } => live.sync_range(mem, addr, len)?,
                            GuestInput::CStr { addr, max } => live.sync_cstr(mem, addr, max)?,
                        }
                    }
                }
                // Stack growth and unmapping are caught by the page count; the break can
                // move within the count (look at the edges).
                if os.image == ImageChange::Remaps {
                    self.check_mapping = true;
                }
            }
            Stop::Fault(f) => {
                live.sync_range(mem, f.eip, 15)?;
                self.check_mapping = true;
            }
            Stop::InsnLimit => {
                live.sync_all(mem)?;
                self.check_mapping = true;
            }
        }
        // Those were our own copies, not the kernel's stores.
        mem.take_code_writes();
        Ok(())
    }

    fn run_inner(&mut self, mem: &mut GuestMemory, max_insns: u64) -> Result<Stop, UnicornError> {
        self.sync_in(mem)?;
        let live = self.live.as_mut().expect("synced in");
        live.log.interrupt.set(None);
        live.log.unmapped.set(None);
        live.log.insns.set(0);
        live.log.last_block.set((0, 0));
        // A count makes unicorn hook every instruction: "no limit" must be 0.
        let count = match max_insns {
            u64::MAX => 0,
            n => usize::try_from(n).unwrap_or(0),
        };
        // until = 0 never matches a real address here: the guest's page 0 is never code.
        let result = live.emu.emu_start(self.eip as u64, 0, 0, count);
        for (i, r) in GPRS.iter().enumerate() {
            self.regs[i] = live.emu.reg_read(*r).map_err(uc("reading a register"))? as u32;
        }
        self.eip = live
            .emu
            .reg_read(RegisterX86::EIP)
            .map_err(uc("reading EIP"))? as u32;
        self.eflags = live
            .emu
            .reg_read(RegisterX86::EFLAGS)
            .map_err(uc("reading EFLAGS"))? as u32;
        let eip = self.eip;
        let stop = match result {
            Ok(()) => match live.log.interrupt.get() {
                None => Stop::InsnLimit,
                Some(vector::SYSCALL_GATE) => Stop::Syscall,
                Some(vector::DIVIDE) => fault(FaultKind::Divide, eip),
                Some(vector::BREAKPOINT | vector::DEBUG) => fault(FaultKind::Breakpoint, eip),
                Some(vector::INVALID_OPCODE) => fault(FaultKind::InvalidOpcode, eip),
                // #GP, a page fault unicorn did not report as an UNMAPPED error, and
                // `int n` through a gate user mode may not use: Linux gives SIGSEGV.
                Some(_) => fault(FaultKind::GeneralProtection, eip),
            },
            Err(
                err @ (uc_error::READ_UNMAPPED
                | uc_error::WRITE_UNMAPPED
                | uc_error::FETCH_UNMAPPED),
            ) => {
                let write = err == uc_error::WRITE_UNMAPPED;
                let addr = match live.fault_address(eip)? {
                    Some((addr, size)) => live.first_unmapped(addr, size).unwrap_or(addr),
                    None if err == uc_error::FETCH_UNMAPPED => eip,
                    None => {
                        return Err(UnicornError::Engine {
                            what: "run (no fault address)",
                            err,
                        })
                    }
                };
                fault(FaultKind::Page(MemFault { addr, write }), eip)
            }
            Err(uc_error::INSN_INVALID) => fault(FaultKind::InvalidOpcode, eip),
            Err(err) => {
                return Err(UnicornError::Engine {
                    what: "emu_start",
                    err,
                })
            }
        };
        self.retired += match (stop, max_insns) {
            (_, u64::MAX) => live.block_insns(stop),
            (Stop::InsnLimit, n) => n,
            (_, n) => live.block_insns(stop).min(n),
        };
        self.sync_out(mem, stop)?;
        Ok(stop)
    }
}

impl Engine for FastUnicorn {
    fn name(&self) -> &'static str {
        "unicorn"
    }

    fn run(&mut self, mem: &mut GuestMemory, max_insns: u64) -> Result<Stop, EngineError> {
        // unicorn reads a count of 0 as "no limit"; the trait's 0 runs nothing.
        if max_insns == 0 {
            return Ok(Stop::InsnLimit);
        }
        Ok(self.run_inner(mem, max_insns)?)
    }

    fn regs(&self) -> [u32; 8] {
        self.regs
    }
    fn set_regs(&mut self, regs: [u32; 8]) {
        for (i, (new, old)) in regs.iter().zip(&self.regs).enumerate() {
            if new != old {
                self.dirty |= 1 << i;
            }
        }
        self.regs = regs;
    }
    fn eip(&self) -> u32 {
        self.eip
    }
    fn set_eip(&mut self, eip: u32) {
        self.eip = eip;
        self.dirty |= DIRTY_EIP;
    }
    fn eflags(&self) -> u32 {
        self.eflags
    }
    fn set_eflags(&mut self, v: u32) {
        self.eflags = settable_eflags(v);
        self.dirty |= DIRTY_EFLAGS;
    }
    fn insns_retired(&self) -> u64 {
        self.retired
    }
    fn flush_code_cache(&mut self, _mem: &mut GuestMemory) {
        // Nothing to drop here: unicorn keeps its own translations, and the kernel's stores
        // reach it through mem_write. It does not always drop a translation after a store
        // into translated code (an engine bug the conformance tests cpu_smc and cpu_fused
        // mark); the stage0 chain does not need it (19/19 on unicorn).
    }
    fn fork(&self) -> Box<dyn Engine> {
        Box::new(FastUnicorn {
            live: None,
            regs: self.regs,
            eip: self.eip,
            eflags: self.eflags,
            retired: self.retired,
            dirty: DIRTY_ALL,
            check_mapping: false,
            abi: self.abi,
        })
    }
}
