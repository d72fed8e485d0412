//! The interpreter's second tier: host code for hot blocks.
//!
//! The block loop counts how often each decoded block starts; when one gets hot it asks a
//! [`Translator`] (the Cranelift JIT, `crate::jit`) for host code, and from then on runs
//! that code instead of the block's ops whenever the whole block fits in the instruction
//! budget (a cut block runs on the ops, so budgets and `--max-insns` stay exact). A block's
//! host code lives and dies with its decoded block, so self-modifying code drops both.
//!
//! Host code works on the [`Cpu`] in place: the registers, eip and the lazy flags record at
//! the offsets below, guest memory through [`GuestMemory::slot_table`] inline and through
//! the helpers here when that is not enough (a page-straddling or unmapped access, a store
//! into a page holding code, a flag it does not compute itself, an instruction it does not
//! translate, which runs on the interpreter's own handler). It is given the instruction
//! budget left and returns a [`native`] code: how it left and the budget left then. Where
//! a block branches to another block that has host code and fits in the budget, it jumps
//! straight there (a tail call, after looking the target up in the block cache's
//! direct-mapped table), so hot loops run without coming back to the block loop. A fault
//! leaves the state as it was before the faulting instruction, with the fault in the
//! `Cpu`, exactly as the interpreter does.

use std::mem::offset_of;
use std::ptr::NonNull;

use super::cache::{BlockCache, FastEntry};
use super::decode;
use super::flags::LazyFlags;
use super::insn::Insn;
use super::op::{Leave, Op};
use super::{Cpu, FaultKind};
use crate::memory::GuestMemory;

/// Host code for one block: the address of a function in the translator's own calling
/// convention, entered through the translator's [`Entry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NativeBlock(NonNull<u8>);

// SAFETY: an address of immutable code, shared by design.
unsafe impl Send for NativeBlock {}
unsafe impl Sync for NativeBlock {}

// Host code reads `Option<NativeBlock>` from the block table as one pointer (0: none).
const _: () = assert!(std::mem::size_of::<Option<NativeBlock>>() == std::mem::size_of::<usize>());

impl NativeBlock {
    /// The code at `addr` (non-null).
    pub fn new(addr: *const u8) -> Option<NativeBlock> {
        NonNull::new(addr as *mut u8).map(NativeBlock)
    }

    /// Its address.
    pub fn addr(self) -> *const u8 {
        self.0.as_ptr()
    }
}

/// Calls host code `code` with `(ctx, cpu, slot table, budget)`: the budget left (at most
/// [`MAX_BUDGET`]), which covers the whole block at `cpu.eip`. Returns a [`native`] code.
pub type Entry = unsafe extern "C" fn(
    ctx: *mut TierCtx,
    cpu: *mut Cpu,
    slots: *const u8,
    budget: u64,
    code: *const u8,
) -> u64;

/// What host code and its helpers reach while a block runs.
#[repr(C)]
pub struct TierCtx {
    cpu: *mut Cpu,
    mem: *mut GuestMemory,
    cache: *const BlockCache,
    /// The block cache's direct-mapped table, for chaining.
    fast: *const FastEntry,
}

/// Offset of the direct-mapped table's address in a [`TierCtx`].
pub const CTX_FAST: i32 = offset_of!(TierCtx, fast) as i32;

/// The most budget host code is given at once (the rest of its result holds the exit).
pub const MAX_BUDGET: u64 = (1 << 48) - 1;

/// How host code left (the bits from [`native::SHIFT`] up of its result; the bits below
/// are the budget left).
pub mod native {
    /// Where the exit kind starts in a result.
    pub const SHIFT: u32 = 56;
    /// A branch (or the end of the block) retired; eip is where execution goes on.
    pub const BRANCH: u64 = 0;
    /// `int 0x80` retired; eip is past it.
    pub const SYSCALL: u64 = 1;
    /// An instruction faulted; eip is at it, the fault is in the `Cpu`.
    pub const FAULT: u64 = 2;
    /// An instruction stored over decoded code; eip is past it.
    pub const CODE_WRITE: u64 = 3;
}

/// Where host code finds the `Cpu`'s state (byte offsets from the `Cpu`).
pub mod layout {
    use super::*;
    /// `regs: [u32; 8]`.
    pub const REGS: i32 = offset_of!(Cpu, regs) as i32;
    /// `eip: u32`.
    pub const EIP: i32 = offset_of!(Cpu, eip) as i32;
    const FLAGS: usize = offset_of!(Cpu, flags);
    /// The lazy flags' kind (a u8, see [`super::super::flags`]).
    pub const FLAGS_KIND: i32 = (FLAGS + offset_of!(LazyFlags, kind)) as i32;
    /// The lazy flags' operands and result (u32s).
    pub const FLAGS_A: i32 = (FLAGS + offset_of!(LazyFlags, a)) as i32;
    pub const FLAGS_B: i32 = (FLAGS + offset_of!(LazyFlags, b)) as i32;
    pub const FLAGS_RES: i32 = (FLAGS + offset_of!(LazyFlags, res)) as i32;
}

/// What a translator did so far (shared by every process using it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TierStats {
    /// Blocks translated to host code.
    pub compiled: u64,
    /// Hot blocks whose host code was already there (the same bytes at the same address,
    /// translated for an earlier process or an earlier copy of the block).
    pub cache_hits: u64,
    /// Blocks it would not translate.
    pub declined: u64,
    /// Time spent translating, in nanoseconds.
    pub compile_nanos: u64,
    /// Bytes of host code.
    pub code_bytes: u64,
}

/// Turns hot blocks into host code.
pub trait Translator: Send + Sync {
    /// How the block loop calls the code this translator makes.
    fn entry(&self) -> Entry;
    /// Host code for the block of `insns` instructions at `start..end` in `mem`, or `None`
    /// when this translator does not take it (it then runs on the interpreter).
    fn translate(&self, mem: &GuestMemory, start: u32, end: u32, insns: u32)
        -> Option<NativeBlock>;
    /// What it did so far.
    fn stats(&self) -> TierStats;
}

/// One instruction as the interpreter runs it, for host code to call on
/// ([`helper_step`]): its op followed by a jump to the next instruction.
pub struct InterpStep {
    ops: [Op; 2],
}

impl InterpStep {
    /// The interpreter's op for `insn`, or the fault it raises when run.
    pub fn new(insn: &Insn) -> Result<Box<InterpStep>, FaultKind> {
        let (op, _) = decode::translate(insn)?;
        Ok(Box::new(InterpStep {
            ops: [op, decode::end_of_block(insn.next())],
        }))
    }
}

impl Cpu {
    /// Runs host code `f` (entered through `entry`) for the block at eip on `mem`, with
    /// `budget` instructions (at least the block's); `cache` holds the block. Returns how
    /// it left and how many instructions retired.
    ///
    /// # Safety
    /// `f` must be host code the translator of `entry` made for the live block at
    /// `self.eip`.
    #[inline(always)]
    pub(super) unsafe fn run_native(
        &mut self,
        entry: Entry,
        f: NativeBlock,
        mem: &mut GuestMemory,
        cache: &mut BlockCache,
        budget: u64,
    ) -> (u64, u64) {
        let budget = budget.min(MAX_BUDGET);
        let slots = mem.slot_table();
        let fast = cache.fast_table();
        let mut ctx = TierCtx {
            cpu: self,
            mem,
            cache,
            fast,
        };
        let cpu = ctx.cpu;
        // SAFETY: per the contract; the references behind ctx are not used until it returns.
        let r = unsafe { entry(&mut ctx, cpu, slots, budget, f.addr()) };
        (r >> native::SHIFT, budget - (r & MAX_BUDGET))
    }
}

/// Flag in a [`helper_load`] result: the load faulted.
pub const LOAD_FAULT: u64 = 1 << 32;

/// Whether the store just done reached decoded code: true leaves the block after the
/// instruction; a store into a code granule that misses the decoded bytes is forgotten
/// (as the interpreter's block loop does).
fn store_hit_code(ctx: &TierCtx) -> bool {
    // SAFETY: the pointers in ctx are live for the duration of the host code's call.
    let (mem, cache) = unsafe { (&mut *ctx.mem, &*ctx.cache) };
    if !mem.has_code_writes() {
        return false;
    }
    if cache.hits_code(mem.code_writes()) {
        return true;
    }
    mem.take_code_writes();
    false
}

/// A load of `size` (1, 2 or 4) bytes: the value, or [`LOAD_FAULT`] with the fault
/// recorded in the `Cpu`.
extern "C" fn helper_load(ctx: *mut TierCtx, addr: u32, size: u32) -> u64 {
    // SAFETY: host code passes the ctx it was given.
    let ctx = unsafe { &mut *ctx };
    let (cpu, mem) = unsafe { (&mut *ctx.cpu, &*ctx.mem) };
    let r = match size {
        1 => mem.read_u8(addr).map(u32::from),
        2 => mem.read_u16(addr).map(u32::from),
        _ => mem.read_u32(addr),
    };
    match r {
        Ok(v) => v as u64,
        Err(f) => {
            cpu.fault = FaultKind::Page(f);
            LOAD_FAULT
        }
    }
}

/// A store of the low `size` bytes of `v`: 0 done, 1 faulted (nothing written, the fault
/// in the `Cpu`), 2 done over decoded code (leave after this instruction).
extern "C" fn helper_store(ctx: *mut TierCtx, addr: u32, size: u32, v: u32) -> u32 {
    // SAFETY: host code passes the ctx it was given.
    let ctx = unsafe { &mut *ctx };
    let (cpu, mem) = unsafe { (&mut *ctx.cpu, &mut *ctx.mem) };
    let r = match size {
        1 => mem.write_u8(addr, v as u8),
        2 => mem.write_u16(addr, v as u16),
        _ => mem.write_u32(addr, v),
    };
    match r {
        Err(f) => {
            cpu.fault = FaultKind::Page(f);
            1
        }
        Ok(()) if store_hit_code(ctx) => 2,
        Ok(()) => 0,
    }
}

/// Runs one instruction on the interpreter's handler (the state is in the `Cpu`): 0 it
/// went on or branched (eip set), 1 `int 0x80` (eip past it), 2 it faulted (nothing
/// committed, the fault in the `Cpu`), 3 it stored over decoded code.
extern "C" fn helper_step(ctx: *mut TierCtx, step: *const InterpStep) -> u32 {
    // SAFETY: host code passes the ctx it was given and a step it owns.
    let ctx = unsafe { &mut *ctx };
    let (cpu, mem, step) = unsafe { (&mut *ctx.cpu, &mut *ctx.mem, &*step) };
    let op = &step.ops[0];
    match (op.exec)(cpu, mem, op) {
        Leave::Branch => 0,
        Leave::Syscall => 1,
        Leave::Fault => 2,
        Leave::CodeWrite if store_hit_code(ctx) => 3,
        Leave::CodeWrite => 0,
    }
}

/// Condition code `cc` (0 = O ... 15 = G) from the flags in the `Cpu`.
extern "C" fn helper_cond(ctx: *mut TierCtx, cc: u32) -> u32 {
    // SAFETY: host code passes the ctx it was given.
    let cpu = unsafe { &*(*ctx).cpu };
    cpu.flags.cond(cc as u8) as u32
}

/// CF from the flags in the `Cpu`.
extern "C" fn helper_cf(ctx: *mut TierCtx) -> u32 {
    // SAFETY: host code passes the ctx it was given.
    let cpu = unsafe { &*(*ctx).cpu };
    cpu.flags.cf() as u32
}

/// The helpers by the names host code imports them under.
pub fn helpers() -> [(&'static str, *const u8); 5] {
    [
        ("tier_load", helper_load as *const u8),
        ("tier_store", helper_store as *const u8),
        ("tier_step", helper_step as *const u8),
        ("tier_cond", helper_cond as *const u8),
        ("tier_cf", helper_cf as *const u8),
    ]
}
