//! The cross-check: two engines run the same process in lockstep and must agree.
//!
//! Engine A runs on the process's memory (the one the kernel's syscalls read and write);
//! engine B runs on a shadow copy. Both are stepped one instruction at a time (so every
//! basic-block boundary and every syscall is a comparison point, and state is read only
//! after each engine returns, never from inside a unicorn hook). After each instruction:
//! - the stop (syscall, fault kind and address) must match;
//! - the eight registers and eip must match;
//! - EFLAGS must match in CF PF AF ZF SF DF OF, except the bits the instruction leaves
//!   undefined (per the op list, [`Insn::flags_undefined`]); those are copied from A to B
//!   to stay in step;
//! - the memory either side wrote must match: B's stores as its engine reports them (the
//!   unicorn write hook) and A's as the op list computes them ([`Insn::stores`]).
//!
//! At syscalls the whole address space is compared too: always where the OS's syscall
//! descriptions say the image is copied, replaced or ends (fork, execve, exit; every
//! syscall when no descriptions were given), otherwise whenever enough instructions ran
//! since the last full comparison to pay for it (256 per mapped page). The kernel's
//! effects (syscall results, stores into guest memory, break and stack growth) are copied
//! from the process memory into the shadow before B runs again: every page carries a code
//! mark, and the lockstep reads the stores from a write log of its own
//! ([`GuestMemory::subscribe_writes`]), leaving engine A's untouched.

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;

use super::{Engine, EngineError, MappedPages, State, SyscallAbi, SyscallMemory};
use crate::cpu::flags::bit;
use crate::cpu::{self, Insn, Rep, Stop};
use crate::memory::{GuestMemory, WriteLogId, PAGE_SIZE};

/// What a cross-check compared so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Instructions stepped on both engines and compared.
    pub instructions: u64,
    /// Basic blocks (instructions that end one: jumps, calls, returns, `int`).
    pub blocks: u64,
    /// Syscalls reached in agreement.
    pub syscalls: u64,
    /// Whole-address-space comparisons.
    pub full_compares: u64,
}

/// Counts shared by every process's cross-check in a run.
pub type SharedCounts = Rc<Cell<Counts>>;

/// Instructions per mapped page between full comparisons at syscalls.
const INSNS_PER_PAGE_COMPARED: u64 = 256;

/// The EFLAGS bits the cross-check compares.
const COMPARED_FLAGS: u32 = bit::ARITH | bit::DF;

/// Two engines in lockstep (see the module docs).
pub struct Lockstep {
    a: Box<dyn Engine>,
    b: Box<dyn Engine>,
    /// B's memory; made from the process memory at the first run.
    shadow: Option<GuestMemory>,
    /// Pages of the process memory (and so of the shadow).
    pages: MappedPages,
    counts: SharedCounts,
    since_full: u64,
    /// What the OS does at each syscall (None: compare everything at every syscall).
    abi: Option<&'static dyn SyscallAbi>,
    /// The lockstep's own log of the stores into the process memory.
    log: Option<WriteLogId>,
    /// Compare after each of A's blocks instead of each instruction (see
    /// [`Lockstep::by_blocks`]).
    by_block: bool,
}

impl Lockstep {
    /// A cross-check of `a` (on the process memory) against `b` (on a shadow copy); both
    /// must start in the same state.
    pub fn new(a: Box<dyn Engine>, b: Box<dyn Engine>, counts: SharedCounts) -> Lockstep {
        Lockstep {
            a,
            b,
            shadow: None,
            pages: MappedPages::default(),
            counts,
            since_full: 0,
            abi: None,
            log: None,
            by_block: false,
        }
    }

    /// Steps A a block at a time (as [`Engine::block_len`] counts them) and B an
    /// instruction at a time up to the same count, comparing at the end of each block:
    /// for an engine that translates whole blocks (the JIT), which single-stepping would
    /// never run. Both must compute the same flags, undefined ones included.
    pub fn by_blocks(mut self) -> Lockstep {
        self.by_block = true;
        self
    }

    /// Compares the whole memory at the syscalls `abi` says copy, replace or end the image
    /// (without it: at every syscall).
    pub fn with_syscalls(mut self, abi: Option<&'static dyn SyscallAbi>) -> Lockstep {
        self.abi = abi;
        self
    }

    fn count(&self, f: impl FnOnce(&mut Counts)) {
        let mut c = self.counts.get();
        f(&mut c);
        self.counts.set(c);
    }

    /// Brings the shadow up to date with what the kernel did to `mem`.
    fn sync_shadow(&mut self, mem: &mut GuestMemory) {
        let Some(shadow) = self.shadow.as_mut() else {
            self.shadow = Some(mem.clone());
            self.pages = MappedPages::scan(mem);
            mark_all(mem, self.pages.pages());
            self.log = Some(mem.subscribe_writes());
            return;
        };
        let changes = self.pages.update(mem);
        let mut buf = vec![0u8; PAGE_SIZE as usize];
        for &p in &changes.removed {
            shadow.unmap(p << 12, PAGE_SIZE);
        }
        for &p in &changes.added {
            shadow.map(p << 12, PAGE_SIZE);
            if mem.read_bytes(p << 12, &mut buf).is_ok() {
                let _ = shadow.write_bytes(p << 12, &buf);
            }
            mem.mark_code(p << 12, PAGE_SIZE);
        }
        let log = self.log.expect("subscribed with the shadow");
        for (addr, len) in mem.take_writes(log) {
            buf.resize(len as usize, 0);
            if mem.read_bytes(addr, &mut buf).is_ok() {
                let _ = shadow.write_bytes(addr, &buf);
            }
        }
    }

    /// One instruction on both engines, compared.
    fn step(&mut self, mem: &mut GuestMemory) -> Result<Stop, EngineError> {
        let before = self.a.state();
        // Described before it runs: a store may overwrite its own bytes.
        let insn = cpu::describe(mem, before.eip).ok();
        let stop_a = self.a.run(mem, 1)?;
        let shadow = self.shadow.as_mut().expect("synced");
        let mut stop_b = self.b.run(shadow, 1)?;
        let mut b_writes: Vec<(u32, u32)> = self.b.last_writes().unwrap_or(&[]).to_vec();
        // A `rep` string instruction is one instruction to the interpreter (A) but one
        // iteration per step to unicorn, which stops with eip still at it: step B on until
        // it leaves the instruction or stops otherwise (at most ECX iterations).
        if insn.as_ref().is_some_and(|i| i.rep != Rep::None) {
            let mut left = before.regs[cpu::reg::ECX];
            while stop_b == Stop::InsnLimit && self.b.eip() == before.eip && left > 0 {
                stop_b = self.b.run(shadow, 1)?;
                b_writes.extend_from_slice(self.b.last_writes().unwrap_or(&[]));
                left -= 1;
            }
        }
        let undefined = insn.as_ref().map_or(0, Insn::flags_undefined);
        let mut ranges = b_writes;
        if let Some(i) = &insn {
            ranges.extend(i.stores(&before.regs, before.eflags & bit::DF != 0));
        }
        let ends_block = insn.as_ref().is_none_or(Insn::ends_block);
        self.compare(
            mem,
            before,
            (stop_a, stop_b),
            undefined,
            ranges,
            (1, ends_block as u64),
        )
    }

    /// One block of A (as A's [`Engine::block_len`] counts it) against as many single
    /// steps of B, compared at the end: the stores either side made in between (A's from
    /// the write log, B's from the op list) and the state.
    fn step_block(&mut self, mem: &mut GuestMemory, max: u64) -> Result<Stop, EngineError> {
        let before = self.a.state();
        // `run` asks for at least one instruction.
        let n = self.a.block_len(mem).clamp(1, max);
        let stop_a = self.a.run(mem, n)?;
        let ran = self.a.insns_retired() - before.retired;
        let shadow = self.shadow.as_mut().expect("synced");
        let mut ranges = Vec::new();
        let mut stop_b = Stop::InsnLimit;
        let mut stepped = 0;
        // B runs as many instructions as A retired, plus the faulting one if A faulted.
        let goal = ran + matches!(stop_a, Stop::Fault(_)) as u64;
        while stepped < goal {
            let (regs, eflags) = (self.b.regs(), self.b.eflags());
            if let Ok(i) = cpu::describe(shadow, self.b.eip()) {
                ranges.extend(i.stores(&regs, eflags & bit::DF != 0));
            }
            stop_b = self.b.run(shadow, 1)?;
            stepped += 1;
            if stop_b != Stop::InsnLimit {
                break;
            }
        }
        if let Some(log) = self.log {
            ranges.extend(mem.take_writes(log));
        }
        self.compare(mem, before, (stop_a, stop_b), 0, ranges, (ran, 1))
    }

    /// Compares the engines after a step from `before` that stopped with `stops`: the
    /// state (but the flags in `undefined`), the memory in `ranges`, and at syscalls the
    /// whole memory when due; counts `done` (instructions, blocks) when they agree.
    fn compare(
        &mut self,
        mem: &mut GuestMemory,
        before: State,
        (stop_a, stop_b): (Stop, Stop),
        undefined: u32,
        ranges: Vec<(u32, u32)>,
        done: (u64, u64),
    ) -> Result<Stop, EngineError> {
        let (after_a, after_b) = (self.a.state(), self.b.state());

        let mut diffs = Vec::new();
        if stop_a != stop_b {
            diffs.push(format!("stop: {stop_a:?} vs {stop_b:?}"));
        }
        for (i, name) in REG_NAMES.iter().enumerate() {
            if after_a.regs[i] != after_b.regs[i] {
                diffs.push(format!(
                    "{name}: {:#010x} vs {:#010x}",
                    after_a.regs[i], after_b.regs[i]
                ));
            }
        }
        if after_a.eip != after_b.eip {
            diffs.push(format!(
                "eip: {:#010x} vs {:#010x}",
                after_a.eip, after_b.eip
            ));
        }
        let compared = COMPARED_FLAGS & !undefined;
        let flag_diff = (after_a.eflags ^ after_b.eflags) & COMPARED_FLAGS;
        if flag_diff & compared != 0 {
            diffs.push(format!(
                "eflags: {:#x} vs {:#x} (differ in {})",
                after_a.eflags,
                after_b.eflags,
                flag_names(flag_diff & compared)
            ));
        } else if flag_diff != 0 {
            // Only bits the instruction leaves undefined: follow A.
            self.b.set_eflags(after_a.eflags);
        }
        let shadow = self.shadow.as_ref().expect("synced");
        if let Some(d) = first_memory_difference(mem, shadow, &ranges) {
            diffs.push(d);
        }
        if diffs.is_empty() && stop_a == Stop::Syscall {
            let os = self
                .abi
                .map_or(SyscallMemory::UNKNOWN, |abi| abi.memory_use(&after_a.regs));
            let full = os.image.last_look()
                || self.since_full >= self.pages.pages().len() as u64 * INSNS_PER_PAGE_COMPARED;
            if full {
                self.since_full = 0;
                self.count(|c| c.full_compares += 1);
                if let Some(d) = whole_memory_difference(mem, shadow, self.pages.pages()) {
                    diffs.push(d);
                }
            }
        }
        if !diffs.is_empty() {
            return Err(EngineError::Divergence(Box::new(Divergence {
                eip: before.eip,
                insn: cpu::disassemble(mem, before.eip),
                names: (self.a.name(), self.b.name()),
                before,
                after: (after_a, after_b),
                differences: diffs,
                compared: self.counts.get(),
            })));
        }
        // A's stores were just compared with B's: the shadow has them already.
        if let Some(log) = self.log {
            mem.take_writes(log);
        }
        self.since_full += done.0;
        self.count(|c| {
            c.instructions += done.0;
            c.blocks += done.1;
            c.syscalls += (stop_a == Stop::Syscall) as u64;
        });
        Ok(stop_a)
    }
}

impl Engine for Lockstep {
    fn name(&self) -> &'static str {
        "cross-check"
    }

    fn run(&mut self, mem: &mut GuestMemory, max_insns: u64) -> Result<Stop, EngineError> {
        self.sync_shadow(mem);
        let start = self.a.insns_retired();
        loop {
            let done = self.a.insns_retired() - start;
            if done >= max_insns {
                return Ok(Stop::InsnLimit);
            }
            let stop = if self.by_block {
                self.step_block(mem, max_insns - done)?
            } else {
                self.step(mem)?
            };
            if stop != Stop::InsnLimit {
                return Ok(stop);
            }
        }
    }

    fn regs(&self) -> [u32; 8] {
        self.a.regs()
    }
    fn set_regs(&mut self, regs: [u32; 8]) {
        self.a.set_regs(regs);
        self.b.set_regs(regs);
    }
    fn eip(&self) -> u32 {
        self.a.eip()
    }
    fn set_eip(&mut self, eip: u32) {
        self.a.set_eip(eip);
        self.b.set_eip(eip);
    }
    fn eflags(&self) -> u32 {
        self.a.eflags()
    }
    fn set_eflags(&mut self, v: u32) {
        self.a.set_eflags(v);
        self.b.set_eflags(v);
    }
    fn insns_retired(&self) -> u64 {
        self.a.insns_retired()
    }
    fn flush_code_cache(&mut self, mem: &mut GuestMemory) {
        self.a.flush_code_cache(mem);
        if let Some(shadow) = self.shadow.as_mut() {
            self.b.flush_code_cache(shadow);
        }
        // The image was replaced: the shadow is made afresh from it at the next run
        // (the mapping may look the same page by page with other bytes in it).
        self.shadow = None;
        if let Some(log) = self.log.take() {
            mem.unsubscribe_writes(log);
        }
    }
    fn fork(&self) -> Box<dyn Engine> {
        Box::new(Lockstep {
            by_block: self.by_block,
            ..Lockstep::new(self.a.fork(), self.b.fork(), Rc::clone(&self.counts))
                .with_syscalls(self.abi)
        })
    }
}

/// Marks every page as code so the memory records every store into it.
fn mark_all(mem: &mut GuestMemory, pages: &[u32]) {
    for &p in pages {
        mem.mark_code(p << 12, PAGE_SIZE);
    }
}

const REG_NAMES: [&str; 8] = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];

/// "CF ZF" for the set bits.
fn flag_names(bits: u32) -> String {
    const NAMES: [(u32, &str); 7] = [
        (bit::CF, "CF"),
        (bit::PF, "PF"),
        (bit::AF, "AF"),
        (bit::ZF, "ZF"),
        (bit::SF, "SF"),
        (bit::DF, "DF"),
        (bit::OF, "OF"),
    ];
    let names: Vec<&str> = NAMES
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, n)| *n)
        .collect();
    names.join(" ")
}

/// The first byte of `ranges` where the two memories differ.
fn first_memory_difference(
    a: &GuestMemory,
    b: &GuestMemory,
    ranges: &[(u32, u32)],
) -> Option<String> {
    for &(addr, len) in ranges {
        for i in 0..len {
            let x = addr.wrapping_add(i);
            let (va, vb) = (a.read_u8(x).ok(), b.read_u8(x).ok());
            if va != vb {
                return Some(format!(
                    "memory at {x:#010x} (stored to): {} vs {}",
                    byte_text(va),
                    byte_text(vb)
                ));
            }
        }
    }
    None
}

/// The first byte of any page in `pages` where the two memories differ.
fn whole_memory_difference(a: &GuestMemory, b: &GuestMemory, pages: &[u32]) -> Option<String> {
    let mut pa = vec![0u8; PAGE_SIZE as usize];
    let mut pb = vec![0u8; PAGE_SIZE as usize];
    for &p in pages {
        let base = p << 12;
        let ra = a.read_bytes(base, &mut pa).is_ok();
        let rb = b.read_bytes(base, &mut pb).is_ok();
        if ra != rb {
            return Some(format!("page {base:#010x}: mapped on one side only"));
        }
        if let Some(i) = pa.iter().zip(&pb).position(|(x, y)| x != y) {
            let x = base + i as u32;
            return Some(format!(
                "memory at {x:#010x} (whole-memory comparison at this syscall; the store was \
                 earlier): {:#04x} vs {:#04x}",
                pa[i], pb[i]
            ));
        }
    }
    None
}

fn byte_text(v: Option<u8>) -> String {
    v.map_or("unmapped".into(), |b| format!("{b:#04x}"))
}

/// The first disagreement between two engines.
#[derive(Debug, Clone)]
pub struct Divergence {
    /// The instruction after which the states differ.
    pub eip: u32,
    /// Its bytes and Intel-syntax text.
    pub insn: Option<(Vec<u8>, String)>,
    /// The two engines' names (A, B).
    pub names: (&'static str, &'static str),
    /// The common state before the instruction (A's).
    pub before: State,
    /// Each engine's state after it.
    pub after: (State, State),
    /// What differs, one line each ("eax: a vs b").
    pub differences: Vec<String>,
    /// What was compared in agreement before this.
    pub compared: Counts,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (na, nb) = self.names;
        write!(
            f,
            "{na} and {nb} disagree after the instruction at eip {:#010x}",
            self.eip
        )?;
        match &self.insn {
            Some((bytes, text)) => {
                let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
                writeln!(f, ": {} ({text})", hex.join(" "))?;
            }
            None => writeln!(f, ": instruction bytes not readable")?,
        }
        for d in &self.differences {
            writeln!(f, "  differs: {d} ({na} vs {nb})")?;
        }
        writeln!(f, "  {:<7} {:>10}  {:>10}  {:>10}", "", "before", na, nb)?;
        let (a, b) = &self.after;
        let row = |f: &mut fmt::Formatter<'_>, name: &str, x: u32, y: u32, z: u32| {
            let mark = if y != z { " <" } else { "" };
            writeln!(f, "  {name:<7} {x:#010x}  {y:#010x}  {z:#010x}{mark}")
        };
        for (i, name) in REG_NAMES.iter().enumerate() {
            row(f, name, self.before.regs[i], a.regs[i], b.regs[i])?;
        }
        row(f, "eip", self.before.eip, a.eip, b.eip)?;
        row(f, "eflags", self.before.eflags, a.eflags, b.eflags)?;
        write!(
            f,
            "  ({} instructions, {} blocks, {} syscalls compared in agreement before this)",
            self.compared.instructions, self.compared.blocks, self.compared.syscalls
        )
    }
}
