//! What one translation covers: a hot block and the blocks it reaches by direct branches
//! (jumps, both ways of a Jcc, calls, falling through), so that a loop runs inside one
//! host function. Blocks are cut where the interpreter cuts them: after a branch or `int`,
//! after [`MAX_BLOCK_OPS`] instructions, at a page boundary, or before an instruction
//! that does not decode.

use std::collections::HashSet;

use crate::cpu::{describe, Insn, Kind, Operand, MAX_BLOCK_OPS};
use crate::memory::{GuestMemory, PAGE_SIZE};

/// Most blocks in a region by default (`STAGE0_JIT_REGION` sets it, for measuring): on
/// the chain, 4 beat 1 (91 s against 116-130 s) and 8 (97 s, compile time growing faster
/// than the code gets faster; vm/PERFORMANCE.md).
pub(super) const MAX_BLOCKS: usize = 4;
/// Most instructions in a region.
const MAX_INSNS: usize = 320;

/// One guest basic block of a region.
pub(super) struct GuestBlock {
    pub start: u32,
    /// Just past its last instruction.
    pub end: u32,
    pub insns: Vec<Insn>,
}

/// The block at `start` (`count` instructions when known), or `None` if its first
/// instruction does not decode.
fn block_at(mem: &GuestMemory, start: u32, count: Option<u32>) -> Option<GuestBlock> {
    let mut insns = Vec::new();
    let mut at = start;
    loop {
        if count.is_some_and(|n| insns.len() == n as usize) {
            break;
        }
        let Ok(insn) = describe(mem, at) else {
            // The interpreter's block of known length decodes entirely.
            if count.is_some() || insns.is_empty() {
                return None;
            }
            break;
        };
        at = insn.next();
        insns.push(insn);
        if count.is_none()
            && (insn.ends_block()
                || insns.len() >= MAX_BLOCK_OPS
                || at / PAGE_SIZE != start / PAGE_SIZE)
        {
            break;
        }
    }
    Some(GuestBlock {
        start,
        end: at,
        insns,
    })
}

/// The direct successors of `b`.
fn successors(b: &GuestBlock) -> Vec<u32> {
    let Some(last) = b.insns.last() else {
        return vec![];
    };
    if !last.ends_block() {
        return vec![b.end];
    }
    match (last.kind, last.operand(0)) {
        (Kind::Jcc, Operand::Rel(t)) => vec![t, last.next()],
        (Kind::Jmp | Kind::Call, Operand::Rel(t)) => vec![t],
        _ => vec![],
    }
}

/// The region entered at the block of `insns` instructions at `start`: that block first,
/// then the blocks reached from it, breadth first, up to `max_blocks` blocks and
/// [`MAX_INSNS`] instructions. `None` if the entry block does not decode.
pub(super) fn discover(
    mem: &GuestMemory,
    start: u32,
    insns: u32,
    max_blocks: usize,
) -> Option<Vec<GuestBlock>> {
    let first = block_at(mem, start, Some(insns))?;
    let mut total = first.insns.len();
    let mut seen: HashSet<u32> = HashSet::from([start]);
    let mut queue: Vec<u32> = successors(&first);
    let mut blocks = vec![first];
    let mut next = 0;
    while next < queue.len() && blocks.len() < max_blocks {
        let at = queue[next];
        next += 1;
        if !seen.insert(at) {
            continue;
        }
        let Some(b) = block_at(mem, at, None) else {
            continue;
        };
        if total + b.insns.len() > MAX_INSNS {
            break;
        }
        total += b.insns.len();
        queue.extend(successors(&b));
        blocks.push(b);
    }
    Some(blocks)
}
