//! A second CPU engine, backed by unicorn-engine (QEMU's TCG), for differential testing.
//!
//! [`UnicornCpu`] mirrors the state of a [`Cpu`] and its [`GuestMemory`]: registers, EFLAGS,
//! eip and every mapped page are copied into a unicorn instance in i386 32-bit mode with
//! flat segments (unicorn's default for `MODE_32`: protected mode, all bases 0). It then runs
//! up to N instructions and stops where the interpreter would: after `int 0x80`
//! ([`Stop::Syscall`]), when the budget is used up ([`Stop::InsnLimit`]), or at a fault
//! ([`Stop::Fault`], eip at the faulting instruction).
//!
//! Unicorn computes EFLAGS lazily and is known to report stale flags when registers are
//! read from inside hooks; so hooks here only record what happened and stop the run, and
//! all state is read after `emu_start` returns. Flags can also be stale after a fault in a
//! multi-instruction run (see [`UnicornCpu::run`]): step with `run(1)` for exact flags.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use unicorn_engine::unicorn_const::{uc_error, Arch, HookType, MemType, Mode, Prot};
use unicorn_engine::{RegisterX86, Unicorn};

use super::{Engine, EngineError, MappedPages};
use crate::cpu::{Cpu, Fault, FaultKind, Stop};
use crate::memory::{GuestMemory, MemFault, PAGE_SIZE};

/// The eight general registers in the encoding's order (EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI).
pub(crate) const GPRS: [RegisterX86; 8] = [
    RegisterX86::EAX,
    RegisterX86::ECX,
    RegisterX86::EDX,
    RegisterX86::EBX,
    RegisterX86::ESP,
    RegisterX86::EBP,
    RegisterX86::ESI,
    RegisterX86::EDI,
];

/// x86 exception vectors that unicorn reports through its interrupt hook.
pub(crate) mod vector {
    pub const DIVIDE: u32 = 0;
    pub const DEBUG: u32 = 1;
    pub const BREAKPOINT: u32 = 3;
    pub const INVALID_OPCODE: u32 = 6;
    /// `int 0x80`: the gate [`Stop::Syscall`](crate::cpu::Stop::Syscall) stands for.
    pub const SYSCALL_GATE: u32 = 0x80;
}

/// Why the unicorn engine could not be set up or driven (never a guest fault: those are
/// [`Stop::Fault`]).
#[derive(Debug, thiserror::Error)]
pub enum UnicornError {
    /// A unicorn call failed.
    #[error("unicorn {what} failed: {err:?} ({err})")]
    Engine {
        /// What was being done.
        what: &'static str,
        /// Unicorn's error code.
        err: uc_error,
    },
    /// A guest page could not be read while copying it into unicorn.
    #[error("copying guest memory into unicorn: {0}")]
    Guest(#[from] MemFault),
}

/// Wraps a unicorn error with what was being done.
pub(crate) fn uc(what: &'static str) -> impl FnOnce(uc_error) -> UnicornError {
    move |err| UnicornError::Engine { what, err }
}

/// What the hooks saw during one `emu_start`.
#[derive(Default)]
struct HookLog {
    /// The interrupt or exception vector that stopped the run.
    interrupt: Cell<Option<u32>>,
    /// The first invalid access: (address, size, whether it was a write).
    unmapped: Cell<Option<(u32, u32, bool)>>,
    /// Guest stores `(addr, len)` since the last run began (with [`UnicornCpu::track`]).
    writes: RefCell<Vec<(u32, u32)>>,
    /// Instructions in the blocks entered since the last run began, and the last block
    /// `(addr, size)` (with [`UnicornCpu::track`]).
    insns: Cell<u64>,
    last_block: Cell<(u32, u32)>,
}

/// A unicorn instance holding a copy of one guest's CPU state and memory.
pub struct UnicornCpu {
    emu: Unicorn<'static, ()>,
    log: Rc<HookLog>,
    /// Guest page numbers (address >> 12) mapped into unicorn, ascending.
    pages: Vec<u32>,
}

impl UnicornCpu {
    /// Copies `cpu`'s registers, eip and EFLAGS and every mapped page of `mem` into a new
    /// unicorn instance.
    pub fn new(cpu: &Cpu, mem: &GuestMemory) -> Result<Self, UnicornError> {
        Self::from_state(&cpu.regs, cpu.eip, cpu.eflags(), mem, mapped_pages(mem))
    }

    /// A new unicorn instance with the given registers, eip and EFLAGS, mapping only the
    /// guest page numbers (address >> 12) in `pages`, copied from `mem`. Faster than
    /// [`Self::new`] when the caller knows the pages: finding them means probing all 2^20.
    pub fn from_state(
        regs: &[u32; 8],
        eip: u32,
        eflags: u32,
        mem: &GuestMemory,
        pages: impl IntoIterator<Item = u32>,
    ) -> Result<Self, UnicornError> {
        let mut emu = Unicorn::new(Arch::X86, Mode::MODE_32).map_err(uc("open (x86, 32-bit)"))?;
        let log = Rc::new(HookLog::default());
        let intr_log = Rc::clone(&log);
        emu.add_intr_hook(move |emu, intno| {
            // Recording is all a hook may do safely; state is read after emu_start returns.
            intr_log.interrupt.set(Some(intno));
            let _ = emu.emu_stop();
        })
        .map_err(uc("adding the interrupt hook"))?;
        let mem_log = Rc::clone(&log);
        // begin > end: the hook covers the whole address space.
        emu.add_mem_hook(
            HookType::MEM_INVALID,
            1,
            0,
            move |_, kind, addr, size, _| {
                if mem_log.unmapped.get().is_none() {
                    let write = matches!(kind, MemType::WRITE_UNMAPPED | MemType::WRITE_PROT);
                    mem_log
                        .unmapped
                        .set(Some((addr as u32, size as u32, write)));
                }
                false // not handled: unicorn stops with an UNMAPPED error
            },
        )
        .map_err(uc("adding the invalid-memory hook"))?;

        let mut this = UnicornCpu {
            emu,
            log,
            pages: Vec::new(),
        };
        this.load_memory(mem, pages)?;
        this.set_state(regs, eip, eflags)?;
        Ok(this)
    }

    /// Maps `pages` (ascending or not) and copies their contents from `mem`.
    fn load_memory(
        &mut self,
        mem: &GuestMemory,
        pages: impl IntoIterator<Item = u32>,
    ) -> Result<(), UnicornError> {
        let mut pages: Vec<u32> = pages.into_iter().collect();
        pages.sort_unstable();
        pages.dedup();
        let mut buf = Vec::new();
        // Map runs of consecutive pages as one region: fewer unicorn regions, faster lookups.
        for run in pages.chunk_by(|a, b| b.wrapping_sub(*a) == 1) {
            let start = run[0] << 12;
            let len = run.len() * PAGE_SIZE as usize;
            buf.resize(len, 0);
            mem.read_bytes(start, &mut buf)?;
            self.emu
                .mem_map(start as u64, len as u64, Prot::ALL)
                .map_err(uc("mapping guest pages"))?;
            self.emu
                .mem_write(start as u64, &buf)
                .map_err(uc("writing guest pages"))?;
        }
        self.pages = pages;
        Ok(())
    }

    /// Overwrites registers, eip and EFLAGS.
    pub fn set_state(
        &mut self,
        regs: &[u32; 8],
        eip: u32,
        eflags: u32,
    ) -> Result<(), UnicornError> {
        for (reg, &value) in GPRS.iter().zip(regs) {
            self.emu
                .reg_write(*reg, value as u64)
                .map_err(uc("writing a register"))?;
        }
        self.emu
            .reg_write(RegisterX86::EFLAGS, eflags as u64)
            .map_err(uc("writing EFLAGS"))?;
        self.emu
            .reg_write(RegisterX86::EIP, eip as u64)
            .map_err(uc("writing EIP"))?;
        Ok(())
    }

    /// Runs at most `max_insns` instructions (0 means no limit) from the current eip.
    ///
    /// Budgets are not comparable with [`Cpu::insns_retired`]: unicorn counts every
    /// iteration of a `rep` string instruction, the interpreter counts the instruction once.
    ///
    /// When a fault ends a run of several instructions, unicorn can report stale EFLAGS
    /// (seen: `sar si,1; div bl` faulting at the div reports OF=1, the correct OF is 0).
    /// Registers, eip and memory are right. Where exact flags matter, step with `run(1)`:
    /// every `emu_start` begins from the flags as written, and state is read only after it
    /// returns.
    pub fn run(&mut self, max_insns: u64) -> Result<Stop, UnicornError> {
        self.log.interrupt.set(None);
        self.log.unmapped.set(None);
        self.log.writes.borrow_mut().clear();
        self.log.insns.set(0);
        self.log.last_block.set((0, 0));
        let begin = self.eip();
        // A count makes unicorn hook every instruction: "no limit" must be 0.
        let count = match max_insns {
            u64::MAX => 0,
            n => usize::try_from(n).unwrap_or(0),
        };
        // until = 0 never matches a real address here: the guest's page 0 is never code.
        let result = self.emu.emu_start(begin as u64, 0, 0, count);
        let eip = self.eip();
        match result {
            Ok(()) => {}
            Err(
                err @ (uc_error::READ_UNMAPPED
                | uc_error::WRITE_UNMAPPED
                | uc_error::FETCH_UNMAPPED),
            ) => {
                let write = err == uc_error::WRITE_UNMAPPED;
                let addr = match self.log.unmapped.get() {
                    Some((addr, size, _)) => self.first_unmapped(addr, size).unwrap_or(addr),
                    None if err == uc_error::FETCH_UNMAPPED => eip,
                    None => {
                        return Err(UnicornError::Engine {
                            what: "run (no fault address)",
                            err,
                        })
                    }
                };
                return Ok(fault(FaultKind::Page(MemFault { addr, write }), eip));
            }
            Err(uc_error::INSN_INVALID) => return Ok(fault(FaultKind::InvalidOpcode, eip)),
            Err(err) => {
                return Err(UnicornError::Engine {
                    what: "emu_start",
                    err,
                })
            }
        }
        Ok(match self.log.interrupt.get() {
            None => Stop::InsnLimit,
            Some(vector::SYSCALL_GATE) => Stop::Syscall,
            Some(vector::DIVIDE) => fault(FaultKind::Divide, eip),
            Some(vector::BREAKPOINT | vector::DEBUG) => fault(FaultKind::Breakpoint, eip),
            Some(vector::INVALID_OPCODE) => fault(FaultKind::InvalidOpcode, eip),
            // #GP, a page fault unicorn did not report as an UNMAPPED error, and `int n`
            // through a gate user mode may not use: Linux gives SIGSEGV for all of them.
            Some(_) => fault(FaultKind::GeneralProtection, eip),
        })
    }

    /// Adds hooks that record every guest store and count the instructions of the blocks
    /// entered (see [`Self::writes`], [`Self::block_insns`]). The hooks only record: no
    /// register is read inside them.
    pub fn track(&mut self) -> Result<(), UnicornError> {
        let log = Rc::clone(&self.log);
        self.emu
            .add_mem_hook(HookType::MEM_WRITE, 1, 0, move |_, _, addr, size, _| {
                log.writes.borrow_mut().push((addr as u32, size as u32));
                true
            })
            .map_err(uc("adding the write hook"))?;
        let log = Rc::clone(&self.log);
        let mut counts: HashMap<(u32, u32), u64> = HashMap::new();
        self.emu
            .add_block_hook(1, 0, move |emu, addr, size| {
                let key = (addr as u32, size);
                let n = *counts.entry(key).or_insert_with(|| {
                    let mut buf = vec![0u8; size as usize];
                    match emu.mem_read(addr, &mut buf) {
                        Ok(()) => count_insns(&buf, addr as u32, u32::MAX),
                        Err(_) => 1,
                    }
                });
                log.insns.set(log.insns.get() + n);
                log.last_block.set(key);
            })
            .map_err(uc("adding the block hook"))?;
        Ok(())
    }

    /// The stores `(addr, len)` of the last run (with [`Self::track`]).
    pub fn writes(&self) -> std::cell::Ref<'_, Vec<(u32, u32)>> {
        self.log.writes.borrow()
    }

    /// Instructions retired by the last run, counted from the blocks it entered (with
    /// [`Self::track`]); a block left at a fault counts only up to the faulting instruction.
    pub fn block_insns(&self, stop: Stop) -> u64 {
        let n = self.log.insns.get();
        let (start, size) = self.log.last_block.get();
        match stop {
            Stop::Fault(f) if f.eip >= start && f.eip - start < size => {
                let mut buf = vec![0u8; size as usize];
                if self.read_mem(start, &mut buf).is_err() {
                    return n;
                }
                let whole = count_insns(&buf, start, u32::MAX);
                let before = count_insns(&buf, start, f.eip);
                n - (whole - before).min(n)
            }
            _ => n,
        }
    }

    /// Maps zeroed pages (ascending, none mapped yet), each run of consecutive pages as
    /// one unicorn region: thousands of one-page regions make unicorn slow.
    pub fn map_pages(&mut self, pages: &[u32]) -> Result<(), UnicornError> {
        for run in pages.chunk_by(|a, b| b.wrapping_sub(*a) == 1) {
            self.emu
                .mem_map(
                    (run[0] as u64) << 12,
                    run.len() as u64 * PAGE_SIZE as u64,
                    Prot::ALL,
                )
                .map_err(uc("mapping pages"))?;
        }
        self.pages.extend_from_slice(pages);
        self.pages.sort_unstable();
        Ok(())
    }

    /// Unmaps one page.
    pub fn unmap_page(&mut self, page: u32) -> Result<(), UnicornError> {
        if let Ok(i) = self.pages.binary_search(&page) {
            self.emu
                .mem_unmap((page as u64) << 12, PAGE_SIZE as u64)
                .map_err(uc("unmapping a page"))?;
            self.pages.remove(i);
        }
        Ok(())
    }

    /// Writes guest memory as unicorn sees it.
    pub fn write_mem(&mut self, addr: u32, data: &[u8]) -> Result<(), UnicornError> {
        self.emu
            .mem_write(addr as u64, data)
            .map_err(uc("writing memory"))
    }

    /// The first address of `[addr, addr+size)` on a page that is not mapped.
    fn first_unmapped(&self, addr: u32, size: u32) -> Option<u32> {
        (0..size.max(1))
            .map(|i| addr.wrapping_add(i))
            .find(|a| self.pages.binary_search(&(a >> 12)).is_err())
    }

    /// The eight general registers in the encoding's order.
    pub fn regs(&self) -> [u32; 8] {
        GPRS.map(|reg| self.emu.reg_read(reg).unwrap_or(0) as u32)
    }

    /// The instruction pointer.
    pub fn eip(&self) -> u32 {
        self.emu.reg_read(RegisterX86::EIP).unwrap_or(0) as u32
    }

    /// EFLAGS as the hardware would push it.
    pub fn eflags(&self) -> u32 {
        self.emu.reg_read(RegisterX86::EFLAGS).unwrap_or(0) as u32
    }

    /// Reads guest memory as unicorn sees it.
    pub fn read_mem(&self, addr: u32, buf: &mut [u8]) -> Result<(), UnicornError> {
        self.emu
            .mem_read(addr as u64, buf)
            .map_err(uc("reading memory"))
    }

    /// Guest page numbers (address >> 12) mirrored in unicorn, ascending.
    pub fn pages(&self) -> &[u32] {
        &self.pages
    }

    /// Compares every mirrored page with `mem`; returns the pages that differ (or are no
    /// longer mapped in `mem`), each with the first differing address.
    pub fn diff_pages(&self, mem: &GuestMemory) -> Result<Vec<PageDiff>, UnicornError> {
        let mut ours = vec![0u8; PAGE_SIZE as usize];
        let mut theirs = vec![0u8; PAGE_SIZE as usize];
        let mut diffs = Vec::new();
        for &page in &self.pages {
            let base = page << 12;
            self.read_mem(base, &mut ours)?;
            if mem.read_bytes(base, &mut theirs).is_err() {
                diffs.push(PageDiff {
                    page_addr: base,
                    first_diff: None,
                });
                continue;
            }
            if let Some(i) = ours.iter().zip(&theirs).position(|(a, b)| a != b) {
                diffs.push(PageDiff {
                    page_addr: base,
                    first_diff: Some(base + i as u32),
                });
            }
        }
        Ok(diffs)
    }

    /// Writes every mirrored page back into `mem` (mapping it there if needed).
    pub fn copy_back(&self, mem: &mut GuestMemory) -> Result<(), UnicornError> {
        let mut buf = vec![0u8; PAGE_SIZE as usize];
        for &page in &self.pages {
            let base = page << 12;
            self.read_mem(base, &mut buf)?;
            mem.map(base, PAGE_SIZE);
            mem.write_bytes(base, &buf)?;
        }
        Ok(())
    }
}

/// A mirrored page whose contents differ between unicorn and a [`GuestMemory`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageDiff {
    /// The page's first address.
    pub page_addr: u32,
    /// The first differing address, or `None` when the page is unmapped in the other memory.
    pub first_diff: Option<u32>,
}

pub(crate) fn fault(kind: FaultKind, eip: u32) -> Stop {
    Stop::Fault(Fault { kind, eip })
}

/// Every mapped guest page number, found by probing each page (GuestMemory does not expose
/// its list of mapped pages).
fn mapped_pages(mem: &GuestMemory) -> impl Iterator<Item = u32> + '_ {
    (0..1u32 << 20).filter(move |&p| mem.is_mapped(p << 12))
}

/// How many instructions start in `code` (loaded at `addr`) before address `stop`.
pub(crate) fn count_insns(code: &[u8], addr: u32, stop: u32) -> u64 {
    let mut d = iced_x86::Decoder::with_ip(32, code, addr as u64, iced_x86::DecoderOptions::NONE);
    let mut n = 0;
    while d.can_decode() && (d.ip() as u32) < stop {
        let _ = d.decode();
        n += 1;
    }
    n
}

/// EFLAGS after `set_eflags(v)`: the interpreter's fixed bits and the user-settable
/// flags (CF PF AF ZF SF DF OF) of `v`.
pub(crate) fn settable_eflags(v: u32) -> u32 {
    use crate::cpu::flags::bit;
    crate::cpu::EFLAGS_FIXED | (v & (bit::ARITH | bit::DF))
}

/// Above this many stores in one run, copy whole pages back instead of each store.
const MAX_STORE_RANGES: usize = 64;

/// unicorn as an [`Engine`]: keeps a unicorn instance in step with a [`GuestMemory`].
///
/// The kernel and its syscalls only see the `GuestMemory`, so each run copies in what the
/// kernel changed since the last one and copies out what the guest stored:
/// - in: every mapped page carries a code mark, so the memory itself records the ranges
///   the kernel wrote (`take_code_writes`); pages the kernel mapped or unmapped (break,
///   stack) are found with [`MappedPages`];
/// - out: a write hook records every store; those ranges are copied back.
///
/// The unicorn instance is made lazily from the memory at the first run, so a forked
/// child's engine is just the registers.
pub struct UnicornEngine {
    uc: Option<UnicornCpu>,
    regs: [u32; 8],
    eip: u32,
    eflags: u32,
    retired: u64,
    /// Registers changed from outside since the last run.
    dirty: bool,
    pages: MappedPages,
    /// The stores of the last run.
    writes: Vec<(u32, u32)>,
}

impl UnicornEngine {
    /// An engine starting from `cpu`'s registers, eip and EFLAGS.
    pub fn from_cpu(cpu: &Cpu) -> UnicornEngine {
        UnicornEngine {
            uc: None,
            regs: cpu.regs,
            eip: cpu.eip,
            eflags: cpu.eflags(),
            retired: cpu.insns_retired(),
            dirty: true,
            pages: MappedPages::default(),
            writes: Vec::new(),
        }
    }

    /// Makes or refreshes the unicorn instance so it matches `mem` and the registers.
    fn sync_in(&mut self, mem: &mut GuestMemory) -> Result<(), UnicornError> {
        let Some(uc) = self.uc.as_mut() else {
            self.pages = MappedPages::scan(mem);
            let pages = self.pages.pages();
            let mut uc = UnicornCpu::from_state(
                &self.regs,
                self.eip,
                self.eflags,
                mem,
                pages.iter().copied(),
            )?;
            uc.track()?;
            for &p in pages {
                mem.mark_code(p << 12, PAGE_SIZE);
            }
            mem.take_code_writes();
            self.uc = Some(uc);
            self.dirty = false;
            return Ok(());
        };
        let changes = self.pages.update(mem);
        for &p in &changes.removed {
            uc.unmap_page(p)?;
        }
        let mut buf = vec![0u8; PAGE_SIZE as usize];
        uc.map_pages(&changes.added)?;
        for &p in &changes.added {
            mem.read_bytes(p << 12, &mut buf)?;
            uc.write_mem(p << 12, &buf)?;
            mem.mark_code(p << 12, PAGE_SIZE);
        }
        for (addr, len) in mem.take_code_writes() {
            buf.resize(len as usize, 0);
            // A range on a page unmapped since is gone on both sides.
            if mem.read_bytes(addr, &mut buf).is_ok() {
                uc.write_mem(addr, &buf)?;
            }
        }
        if self.dirty {
            uc.set_state(&self.regs, self.eip, self.eflags)?;
            self.dirty = false;
        }
        Ok(())
    }

    /// Copies the guest's stores of the last run from unicorn into `mem`.
    fn sync_out(&mut self, mem: &mut GuestMemory) -> Result<(), UnicornError> {
        let uc = self.uc.as_ref().expect("synced in");
        self.writes.clear();
        self.writes.extend(uc.writes().iter());
        let mut ranges = self.writes.clone();
        if ranges.len() > MAX_STORE_RANGES {
            let mut pages: Vec<u32> = ranges
                .iter()
                .flat_map(|&(a, l)| (a >> 12)..=(a.wrapping_add(l.max(1) - 1) >> 12))
                .collect();
            pages.sort_unstable();
            pages.dedup();
            ranges = pages.iter().map(|p| (p << 12, PAGE_SIZE)).collect();
        }
        let mut buf = Vec::new();
        for (addr, len) in ranges {
            buf.resize(len as usize, 0);
            // A store that faulted wrote nothing: its page is absent from unicorn.
            if uc.read_mem(addr, &mut buf).is_ok() {
                let _ = mem.write_bytes(addr, &buf);
            }
        }
        // Those were our own copies, not kernel writes.
        mem.take_code_writes();
        Ok(())
    }
}

impl Engine for UnicornEngine {
    fn name(&self) -> &'static str {
        "unicorn"
    }

    fn run(&mut self, mem: &mut GuestMemory, max_insns: u64) -> Result<Stop, EngineError> {
        // unicorn reads a count of 0 as "no limit"; the trait's 0 runs nothing.
        if max_insns == 0 {
            return Ok(Stop::InsnLimit);
        }
        self.sync_in(mem)?;
        let uc = self.uc.as_mut().expect("synced in");
        let stop = uc.run(max_insns)?;
        self.regs = uc.regs();
        self.eip = uc.eip();
        self.eflags = uc.eflags();
        self.retired += match (stop, max_insns) {
            (_, u64::MAX) => uc.block_insns(stop),
            (Stop::InsnLimit, n) => n,
            (_, n) => uc.block_insns(stop).min(n),
        };
        self.sync_out(mem)?;
        Ok(stop)
    }

    fn regs(&self) -> [u32; 8] {
        self.regs
    }
    fn set_regs(&mut self, regs: [u32; 8]) {
        self.regs = regs;
        self.dirty = true;
    }
    fn eip(&self) -> u32 {
        self.eip
    }
    fn set_eip(&mut self, eip: u32) {
        self.eip = eip;
        self.dirty = true;
    }
    fn eflags(&self) -> u32 {
        self.eflags
    }
    fn set_eflags(&mut self, v: u32) {
        self.eflags = settable_eflags(v);
        self.dirty = true;
    }
    fn insns_retired(&self) -> u64 {
        self.retired
    }
    fn flush_code_cache(&mut self, _mem: &mut GuestMemory) {
        // Nothing to drop here: unicorn keeps its own translations. It does not always drop
        // them after a store into translated code (the conformance tests cpu_smc and cpu_fused
        // mark that as an engine bug); the stage0 chain does not need it (19/19 on unicorn).
    }
    fn fork(&self) -> Box<dyn Engine> {
        Box::new(UnicornEngine {
            uc: None,
            regs: self.regs,
            eip: self.eip,
            eflags: self.eflags,
            retired: self.retired,
            dirty: true,
            pages: MappedPages::default(),
            writes: Vec::new(),
        })
    }
    fn last_writes(&self) -> Option<&[(u32, u32)]> {
        Some(&self.writes)
    }
}
