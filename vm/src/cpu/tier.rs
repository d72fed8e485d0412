//! The interpreter's second tier: host code for hot blocks.
//!
//! The block loop counts how often each decoded block starts; when one gets hot it asks a
//! [`Translator`] (the Cranelift JIT, `crate::jit`) for host code, and from then on runs
//! that code instead of the block's ops whenever the whole block fits in the instruction
//! budget (a cut block runs on the ops, so budgets and `--max-insns` stay exact). A block's
//! host code lives and dies with its decoded block, so self-modifying code drops both.
//!
//! Host code works on the [`Cpu`] in place: the registers, eip and the lazy flags record at
//! the offsets below, guest memory through [`GuestMemory::slot_table`]. Whatever it does
//! not do itself (a page-straddling or unmapped access, a store into decoded code, an
//! instruction it does not translate) it leaves to the interpreter: it returns
//! [`native::SLOW`] with the state before that instruction, and the block loop runs the
//! interpreter's block from there. So faults and self-modifying code are the
//! interpreter's business, handled exactly as without the tier. It is given the instruction
//! budget left and returns a [`native`] code: how it left and the budget left then. Where
//! a block branches to another block that has host code and fits in the budget, it jumps
//! straight there (a tail call, after looking the target up in the block cache's
//! direct-mapped table), so hot loops run without coming back to the block loop.

use std::mem::offset_of;
use std::ptr::NonNull;

use super::cache::{BlockCache, FastEntry};
use super::flags::LazyFlags;
use super::Cpu;
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

/// Calls host code `code` with `(block table, cpu, slot table, budget)`: the block cache's
/// direct-mapped table (for jumps to other blocks' code, see `cpu::cache_layout`), the
/// `Cpu`, the memory's slot table and the budget left (at most [`MAX_BUDGET`]), which
/// covers the whole block at `cpu.eip`. Returns a [`native`] code.
pub type Entry = unsafe extern "C" fn(
    table: *const FastEntry,
    cpu: *mut Cpu,
    slots: *const u8,
    budget: u64,
    code: *const u8,
) -> u64;

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
    /// The instruction at eip is for the interpreter (an access the code does not do
    /// inline, an instruction or condition it does not translate); nothing of it ran.
    pub const SLOW: u64 = 2;
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

/// Host code for a block, and the guest bytes it was made from.
pub struct Translated {
    pub code: NativeBlock,
    /// Guest ranges `(start, end)` beyond the block's own bytes that the code depends on
    /// (the other blocks of a region): a store there must drop it.
    pub covers: Vec<(u32, u32)>,
}

/// Turns hot blocks into host code.
pub trait Translator: Send + Sync {
    /// How the block loop calls the code this translator makes.
    fn entry(&self) -> Entry;
    /// Host code for the block of `insns` instructions at `start` in `mem`, or `None` when
    /// this translator does not take it (it then runs on the interpreter). Without
    /// `compile`, only code it already has for these bytes.
    fn translate(
        &self,
        mem: &GuestMemory,
        start: u32,
        insns: u32,
        compile: bool,
    ) -> Option<Translated>;
    /// When blocks should get its code.
    fn heat(&self) -> Heat {
        Heat::DEFAULT
    }
    /// What it did so far.
    fn stats(&self) -> TierStats;
}

/// When the block loop asks for a block's host code, in starts of the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heat {
    /// Take code the translator already has (cheap: a lookup).
    pub reuse: u32,
    /// Have the translator make it (a compile costs as much as interpreting some
    /// hundred thousand instructions, so only blocks that run often are worth it).
    pub compile: u32,
}

impl Heat {
    /// The defaults, measured on the chain (vm/PERFORMANCE.md).
    pub const DEFAULT: Heat = Heat {
        reuse: 32,
        compile: 1000,
    };

    /// Everything at the first start (the tests run every block as host code).
    pub const AT_ONCE: Heat = Heat {
        reuse: 1,
        compile: 1,
    };
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
        let table = cache.fast_table();
        // SAFETY: per the contract; nothing else touches the Cpu, the memory or the
        // cache until it returns.
        let r = unsafe { entry(table, self, slots, budget, f.addr()) };
        (r >> native::SHIFT, budget - (r & MAX_BUDGET))
    }
}
