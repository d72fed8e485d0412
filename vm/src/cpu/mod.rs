//! The i386 interpreter: 32-bit protected-mode user code with flat segments.
//!
//! Layout: [`ops`] is the op list, every supported instruction declared once (kind,
//! operands, flags, stores, fast form, fused sequences); [`insn`] is a decoded instruction
//! as data ([`Insn`]); [`decode`] turns guest code into blocks of pre-resolved
//! [`op::Op`]s (iced-x86 is used once per block), choosing handlers from the op list;
//! [`cache`] keeps the blocks by address and drops them when the
//! guest writes over their bytes, [`exec`] holds the handlers by instruction family, and
//! [`flags`] computes EFLAGS lazily. This file is the public face and the block loop.
//!
//! Counting: every retired instruction counts 1 ([`Cpu::insns_retired`]), a whole
//! `rep`-prefixed string instruction included. A faulting instruction does not retire.

mod cache;
mod decode;
mod disasm;
mod exec;
pub mod flags;
mod insn;
mod op;
mod ops;
pub mod tier;
mod width;

pub use cache::{fast_layout as cache_layout, FAST_SLOTS};
pub use decode::MAX_BLOCK_OPS;
pub use disasm::disassemble;
pub use insn::{describe, stores_at, Insn, MemRef, Operand, Rep, StrMem};
pub use ops::{Kind, Stores};

use crate::memory::{GuestMemory, MemFault};
use cache::BlockCache;
use flags::{bit as fbit, LazyFlags};
use op::{Leave, Op};
use std::sync::Arc;
use tier::{native, Heat, Translator};

/// Register numbers, in the encoding's order.
pub mod reg {
    pub const EAX: usize = 0;
    pub const ECX: usize = 1;
    pub const EDX: usize = 2;
    pub const EBX: usize = 3;
    pub const ESP: usize = 4;
    pub const EBP: usize = 5;
    pub const ESI: usize = 6;
    pub const EDI: usize = 7;
}

/// Why [`Cpu::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// `int 0x80` executed; `eip` already points past it.
    Syscall,
    /// The instruction budget given to `run` is used up.
    InsnLimit,
    /// The guest faulted; `eip` is left at the faulting instruction.
    Fault(Fault),
}

/// A guest fault, with the address of the instruction that raised it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    pub eip: u32,
}

/// What kind of fault; each maps to the signal Linux would deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Undecodable bytes, or an instruction outside the supported set (SIGILL).
    InvalidOpcode,
    /// A data access or instruction fetch hit an unmapped page (SIGSEGV).
    Page(MemFault),
    /// div/idiv by zero or quotient overflow (SIGFPE).
    Divide,
    /// A privileged instruction or `int n` other than 0x80 (SIGSEGV).
    GeneralProtection,
    /// `int3` (SIGTRAP).
    Breakpoint,
}

/// EFLAGS bit 1 (always set) and IF (user code always runs with interrupts on).
pub const EFLAGS_FIXED: u32 = 0x202;

/// CPU state plus its decoded-block cache.
///
/// Cloning (fork) copies the architectural state but not the block cache: the child's
/// memory copy carries no code marks, so the child decodes afresh and marks its own.
pub struct Cpu {
    pub regs: [u32; 8],
    pub eip: u32,
    flags: LazyFlags,
    /// The direction flag.
    df: bool,
    retired: u64,
    cache: BlockCache,
    /// Address of the op that last left a block with a fault or code write, and the
    /// fault (see [`op::leave`]).
    exit_op: usize,
    fault: FaultKind,
    /// Scratch ops for a block cut short by the instruction budget.
    partial: Vec<Op>,
    /// The second tier: host code for hot blocks (see [`tier`]); `None` for the plain
    /// interpreter.
    tier: Option<Arc<dyn Translator>>,
    /// When blocks get host code.
    hot: Heat,
    /// Instructions retired in host code.
    native_retired: u64,
}

impl Clone for Cpu {
    fn clone(&self) -> Self {
        Cpu {
            regs: self.regs,
            eip: self.eip,
            flags: self.flags,
            df: self.df,
            retired: self.retired,
            tier: self.tier.clone(),
            hot: self.hot,
            ..Cpu::new()
        }
    }
}

impl Default for Cpu {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Cpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cpu")
            .field("regs", &format_args!("{:08x?}", self.regs))
            .field("eip", &format_args!("{:#010x}", self.eip))
            .field("eflags", &format_args!("{:#x}", self.eflags()))
            .field("retired", &self.retired)
            .finish()
    }
}

impl Cpu {
    /// All registers zero, EFLAGS 0x202 (as Linux starts a process).
    pub fn new() -> Self {
        Cpu {
            regs: [0; 8],
            eip: 0,
            flags: LazyFlags::fixed(0),
            df: false,
            retired: 0,
            cache: BlockCache::default(),
            exit_op: 0,
            fault: FaultKind::InvalidOpcode,
            partial: Vec::new(),
            tier: None,
            hot: Heat::DEFAULT,
            native_retired: 0,
        }
    }

    /// The interpreter with a second tier: hot blocks run as host code from `translator`
    /// (which processes may share: forks keep it), at the starts it asks for.
    pub fn with_tier(translator: Arc<dyn Translator>) -> Self {
        let hot = translator.heat();
        Self::with_tier_at(translator, hot)
    }

    /// [`Cpu::with_tier`], blocks getting host code at the starts `hot` says.
    pub fn with_tier_at(translator: Arc<dyn Translator>, hot: Heat) -> Self {
        Cpu {
            tier: Some(translator),
            hot: Heat {
                reuse: hot.reuse.max(1),
                compile: hot.compile.max(1),
            },
            ..Cpu::new()
        }
    }

    /// The second tier, if this interpreter has one.
    pub fn tier(&self) -> Option<&Arc<dyn Translator>> {
        self.tier.as_ref()
    }

    /// Instructions in the block at eip (1 when it does not decode: it faults).
    pub fn block_len_at(&mut self, mem: &mut GuestMemory) -> u64 {
        self.cache.drop_written(mem);
        self.cache.get(mem, self.eip).map_or(1, |b| b.insns as u64)
    }

    /// Instructions of [`Cpu::insns_retired`] that ran as host code.
    pub fn native_retired(&self) -> u64 {
        self.native_retired
    }

    /// EFLAGS as the guest would see it with `pushfd`.
    pub fn eflags(&self) -> u32 {
        EFLAGS_FIXED | self.flags.bits() | if self.df { fbit::DF } else { 0 }
    }

    /// Sets the user-settable flags (CF PF AF ZF SF DF OF) from `v`; bit 1 and IF stay set,
    /// every other bit is ignored.
    pub fn set_eflags(&mut self, v: u32) {
        self.flags = LazyFlags::fixed(v & fbit::ARITH);
        self.df = v & fbit::DF != 0;
    }

    /// Instructions retired since [`Cpu::new`] or the last [`Cpu::reset`].
    pub fn insns_retired(&self) -> u64 {
        self.retired
    }

    /// Back to the [`Cpu::new`] state (registers, flags, counter); keeps decoded blocks,
    /// which stay valid as long as the memory is the same.
    pub fn reset(&mut self) {
        self.regs = [0; 8];
        self.eip = 0;
        self.flags = LazyFlags::fixed(0);
        self.df = false;
        self.retired = 0;
    }

    /// Drops every decoded block and the memory's code marks (execve replaced the image,
    /// or code pages were unmapped).
    pub fn flush_code_cache(&mut self, mem: &mut GuestMemory) {
        self.cache.flush(mem);
    }

    /// Number of decoded blocks currently cached.
    pub fn cached_blocks(&self) -> usize {
        self.cache.len()
    }

    /// Runs until `int 0x80`, a fault, or `max_insns` instructions have retired
    /// (exactly one when `max_insns` is 1).
    pub fn run(&mut self, mem: &mut GuestMemory, max_insns: u64) -> Stop {
        // The cache is moved out while running so handlers can borrow `self` mutably
        // while the executing block's ops are borrowed from the cache.
        let mut cache = std::mem::take(&mut self.cache);
        let mut partial = std::mem::take(&mut self.partial);
        let stop = match self.tier.take() {
            None => self.run_blocks::<false>(None, &mut cache, &mut partial, mem, max_insns),
            Some(t) => {
                let stop =
                    self.run_blocks::<true>(Some(&*t), &mut cache, &mut partial, mem, max_insns);
                self.tier = Some(t);
                stop
            }
        };
        self.cache = cache;
        self.partial = partial;
        stop
    }

    /// The block loop. `TIERED` (with `translator`): a block with host code runs it when
    /// the whole block fits in the budget, any other block runs on its ops and warms up
    /// (see [`tier`]); without, the plain interpreter (the tier's code is compiled out).
    fn run_blocks<const TIERED: bool>(
        &mut self,
        translator: Option<&dyn Translator>,
        cache: &mut BlockCache,
        partial: &mut Vec<Op>,
        mem: &mut GuestMemory,
        max: u64,
    ) -> Stop {
        // Instructions left; what ran is `max - budget`, added to `retired` on return.
        let mut budget = max;
        // Set when host code left an instruction to the interpreter: the next block runs
        // on its ops.
        let mut slow = false;
        let stop = loop {
            // Stores by the previous block's last instruction, or by a syscall (read()
            // into a code page) may have hit decoded code.
            cache.drop_written(mem);
            let start = self.eip;
            let block = match cache.get(mem, start) {
                Ok(b) => b,
                Err(kind) => break Stop::Fault(Fault { kind, eip: start }),
            };
            let n = block.insns as u64;
            if TIERED && budget >= n && !std::mem::take(&mut slow) {
                let translator = translator.expect("the tiered loop has a translator");
                if let Some(f) = block.native {
                    // SAFETY: `f` is the live block's host code, made by `translator`.
                    let (how, done) =
                        unsafe { self.run_native(translator.entry(), f, mem, cache, budget) };
                    budget -= done;
                    self.native_retired += done;
                    match how {
                        native::BRANCH => continue,
                        native::SYSCALL => break Stop::Syscall,
                        _ => {
                            slow = true;
                            continue;
                        }
                    }
                }
                if cache.heat_up(mem, block.slot, self.hot, translator) {
                    continue;
                }
            }
            // SAFETY: nothing invalidates or flushes `cache` until this iteration is
            // done with `ops` (invalidation happens in the next one).
            let ops = unsafe { block.ops() };
            if budget < n {
                if budget == 0 {
                    break Stop::InsnLimit;
                }
                match self.run_partial(cache, partial, mem, ops, &mut budget) {
                    Some(stop) => break stop,
                    None => continue,
                }
            }
            let op = &ops[0];
            let leave = (op.exec)(self, mem, op);
            // The common case: a branch (or the closing jump) retired, so every
            // instruction of the block ran.
            if leave == Leave::Branch {
                budget -= n;
                continue;
            }
            if let Some(stop) = self.block_left(cache, mem, ops, n as usize, leave, &mut budget) {
                break stop;
            }
        };
        self.retired += max - budget;
        stop
    }

    /// After the block `ops` (`n` instructions from `self.eip`) left other than by a
    /// branch: the stop, or `None` to go on with the next block.
    #[cold]
    #[inline(never)]
    fn block_left(
        &mut self,
        cache: &mut BlockCache,
        mem: &mut GuestMemory,
        ops: &[Op],
        n: usize,
        mut leave: Leave,
        budget: &mut u64,
    ) -> Option<Stop> {
        let start = self.eip;
        loop {
            match leave {
                Leave::Branch => {
                    *budget -= n as u64;
                    return None;
                }
                Leave::Syscall => {
                    *budget -= n as u64;
                    return Some(Stop::Syscall);
                }
                Leave::CodeWrite => {
                    // The storing instruction completed. Only a store over decoded bytes
                    // (not merely their granule) ends the block.
                    // The blocks it overlaps are dropped at the top of the next
                    // iteration, when nothing refers to their ops any more.
                    let done = self.exit_index(ops) + 1;
                    if cache.hits_code(mem.code_writes()) {
                        self.eip = eip_after(start, &ops[..done]);
                        *budget -= done as u64;
                        return None;
                    }
                    mem.take_code_writes();
                    let op = &ops[done];
                    leave = (op.exec)(self, mem, op);
                }
                Leave::Fault => {
                    let kind = self.fault;
                    let done = self.exit_index(ops);
                    self.eip = eip_after(start, &ops[..done]);
                    *budget -= done as u64;
                    return Some(Stop::Fault(Fault {
                        kind,
                        eip: self.eip,
                    }));
                }
            }
        }
    }

    /// Runs the first `budget` (fewer than all) instructions of the block `ops` at
    /// `self.eip`: a copy of them followed by a jump to where they end, with any fused op
    /// whose instructions the cut separates back to a single instruction.
    #[cold]
    #[inline(never)]
    fn run_partial(
        &mut self,
        cache: &mut BlockCache,
        partial: &mut Vec<Op>,
        mem: &mut GuestMemory,
        ops: &[Op],
        budget: &mut u64,
    ) -> Option<Stop> {
        let start = self.eip;
        let k = *budget as usize;
        partial.clear();
        partial.extend_from_slice(&ops[..k]);
        for f in cache.fusions(start) {
            let (i, end) = (f.index as usize, f.index as usize + f.span as usize);
            if i < k && end > k {
                partial[i].exec = f.single;
            }
        }
        partial.push(decode::end_of_block(eip_after(start, &ops[..k])));
        let op = &partial[0];
        let leave = (op.exec)(self, mem, op);
        self.block_left(cache, mem, partial, k, leave, budget)
    }

    /// Index in `ops` of the op that last left its block with a fault or a code write.
    fn exit_index(&self, ops: &[Op]) -> usize {
        let i = (self.exit_op - ops.as_ptr() as usize) / std::mem::size_of::<Op>();
        debug_assert!(i < ops.len());
        i
    }
}

/// The address after executing `ops` from `start`.
fn eip_after(start: u32, ops: &[Op]) -> u32 {
    ops.iter()
        .fold(start, |a, op| a.wrapping_add(op.len as u32))
}
