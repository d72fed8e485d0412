//! One region (see [`super::region`]) -> one Cranelift function.
//!
//! Guest registers live in Cranelift variables for the whole region (read from the `Cpu`
//! on entry, those the region may write stored back at each exit). The lazy flags record
//! of the last flag-setting instruction is kept as IR values (see [`super::flags`]) and
//! reaches the `Cpu` only where the code leaves a guest block. Memory is accessed
//! inline through the slot table.
//!
//! The code calls nothing: anything it does not do inline (an access that crosses a
//! page or hits an unmapped page, a store into a granule of decoded code, an
//! instruction or condition it does not translate) leaves with [`native::SLOW`] and the
//! state before that instruction, and the block loop runs it on the interpreter. So a
//! fault is reported by the interpreter, exactly, and no value has to survive a call
//! (which keeps the guest registers in host registers).
//!
//! Exactness: each instruction computes everything (loads included) before it commits
//! anything, stores before register writes, so leaving at any access is leaving before
//! the instruction.

use std::collections::HashMap;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    types, Block, Endianness, Function, InstBuilder, MemFlags, SigRef, Type, Value,
};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_jit::JITModule;
use cranelift_module::Module;

use super::region::GuestBlock;
use crate::cpu::cache_layout as fast_layout;
use crate::cpu::tier::{layout, native};
use crate::cpu::{reg::ESP, Insn, Kind, MemRef, Operand};
use crate::memory::{CODE_GRANULE, PAGE_SIZE, SLOT_BYTES, SLOT_CODE, SLOT_DATA};

/// The flags as the code knows them.
#[derive(Clone, Copy)]
pub(super) enum Flags {
    /// In the `Cpu` (on entering a guest block).
    InCpu,
    /// Recorded by an instruction of this guest block: kind byte, operands, result;
    /// `synced` when the `Cpu` holds the same record.
    Known {
        kind: u8,
        a: Value,
        b: Value,
        res: Value,
        synced: bool,
    },
}

pub(super) struct Tx<'a> {
    pub(super) b: FunctionBuilder<'a>,
    ptr: Type,
    /// The block cache's direct-mapped table (see [`crate::cpu::tier::Entry`]).
    table: Value,
    pub(super) cpu: Value,
    slots: Value,
    /// The instruction budget left before the current guest block (on entry: covers
    /// the first block).
    budget: Variable,
    regs: [Variable; 8],
    /// Registers some instruction of the region may write: stored back at every exit.
    written: u8,
    /// Block code's signature, for jumps to other regions.
    sig: SigRef,
    /// The region's blocks by guest address: their IR block and instruction count.
    heads: HashMap<u32, (Block, u32)>,
    /// The one block every exit to the block loop goes through: `(result, eip)`.
    exit_block: Block,
    /// The one block every jump out of the region goes through: `(budget left, eip)`.
    chain_block: Block,
    pub(super) flags: Flags,
    /// The instruction being translated and its index in its guest block.
    pub(super) insn: Insn,
    pub(super) index: u32,
}

/// Cpu state accesses: the Cpu is ours for the call.
pub(super) fn state() -> MemFlags {
    MemFlags::trusted()
}

/// Guest memory: little-endian whatever the host, any alignment.
fn guest() -> MemFlags {
    MemFlags::new()
        .with_notrap()
        .with_endianness(Endianness::Little)
}

/// Translates the region `blocks` (entered at the first) into `func`. `None`: empty.
pub(super) fn region(
    module: &mut JITModule,
    func: &mut Function,
    blocks: &[GuestBlock],
) -> Option<()> {
    let first = blocks.first().filter(|g| !g.insns.is_empty())?;
    let ptr = module.target_config().pointer_type();
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(func, &mut fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let params = b.block_params(entry).to_vec();
    let mut regs = [Variable::from_u32(0); 8];
    for (i, r) in regs.iter_mut().enumerate() {
        *r = Variable::from_u32(i as u32);
        b.declare_var(*r, types::I32);
    }
    let budget = Variable::from_u32(8);
    b.declare_var(budget, types::I64);
    b.def_var(budget, params[3]);
    let sig = b.import_signature(super::block_signature(ptr));
    let heads = blocks
        .iter()
        .map(|g| (g.start, (b.create_block(), g.insns.len() as u32)))
        .collect();
    let exit_block = b.create_block();
    b.append_block_param(exit_block, types::I64);
    b.append_block_param(exit_block, types::I32);
    b.set_cold_block(exit_block);
    let chain_block = b.create_block();
    b.append_block_param(chain_block, types::I64);
    b.append_block_param(chain_block, types::I32);
    let insns = || blocks.iter().flat_map(|g| &g.insns);
    let written = insns().fold(0u8, |m, i| m | writes(i));
    let used = insns().fold(written, |m, i| m | reads(i));
    let mut tx = Tx {
        b,
        ptr,
        table: params[0],
        cpu: params[1],
        slots: params[2],
        budget,
        regs,
        written,
        sig,
        heads,
        exit_block,
        chain_block,
        flags: Flags::InCpu,
        insn: first.insns[0],
        index: 0,
    };
    // The registers the region uses are read once, on entry: every path then has them.
    for r in 0..8 {
        if used & (1 << r) != 0 {
            let v =
                tx.b.ins()
                    .load(types::I32, state(), tx.cpu, layout::REGS + 4 * r as i32);
            tx.b.def_var(tx.regs[r], v);
        }
    }
    let head = tx.heads[&first.start].0;
    tx.b.ins().jump(head, &[]);
    for g in blocks {
        tx.guest_block(g);
    }
    tx.finish_exits();
    tx.b.seal_all_blocks();
    tx.b.finalize();
    Some(())
}

/// The registers an instruction may write (by slot; every one for instructions that
/// write registers implicitly: those leave to the interpreter before they run, but the
/// mask stays safe if that changes).
fn writes(i: &Insn) -> u8 {
    let esp = 1u8 << ESP;
    let dest = match i.operand(0) {
        Operand::Reg(r, 1) => 1u8 << (r & 3),
        Operand::Reg(r, _) => 1u8 << (r & 7),
        _ => 0,
    };
    match i.kind {
        Kind::Cmp | Kind::Test | Kind::Jcc | Kind::Jmp | Kind::Int => 0,
        Kind::Mov
        | Kind::Movzx
        | Kind::Movsx
        | Kind::Lea
        | Kind::Add
        | Kind::Sub
        | Kind::And
        | Kind::Or
        | Kind::Xor
        | Kind::Inc
        | Kind::Dec
        | Kind::Neg
        | Kind::Not
        | Kind::Setcc => dest,
        Kind::Pop => dest | esp,
        Kind::Push | Kind::Call | Kind::Ret => esp,
        _ => 0xff,
    }
}

/// The registers an instruction's operands name (and ESP for stack instructions).
fn reads(i: &Insn) -> u8 {
    let mut m = 0u8;
    for o in i.operands.iter().flatten() {
        m |= match *o {
            Operand::Reg(r, 1) => 1 << (r & 3),
            Operand::Reg(r, _) => 1 << (r & 7),
            Operand::Mem(MemRef { base, index, .. }) => {
                base.map_or(0, |r| 1 << (r & 7)) | index.map_or(0, |r| 1 << (r & 7))
            }
            _ => 0,
        };
    }
    if matches!(i.kind, Kind::Push | Kind::Pop | Kind::Call | Kind::Ret) {
        m |= 1 << ESP;
    }
    m
}

impl Tx<'_> {
    /// Translates guest block `g` at its IR block.
    fn guest_block(&mut self, g: &GuestBlock) {
        let head = self.heads[&g.start].0;
        self.b.switch_to_block(head);
        self.flags = Flags::InCpu;
        for (i, insn) in g.insns.iter().enumerate() {
            self.insn = *insn;
            self.index = i as u32;
            if !self.native() {
                // The rest of this guest block is the interpreter's.
                self.exit_before(native::SLOW);
                return;
            }
            if insn.ends_block() {
                return;
            }
        }
        self.goto(g.insns.len() as u32, g.end);
    }

    pub(super) fn c32(&mut self, v: u32) -> Value {
        self.b.ins().iconst(types::I32, v as i32 as i64)
    }

    /// Register `r` of width `w` (1: AL..BH numbering), zero-extended.
    pub(super) fn get(&mut self, r: u8, w: u8) -> Value {
        match w {
            4 => self.b.use_var(self.regs[(r & 7) as usize]),
            2 => {
                let v = self.b.use_var(self.regs[(r & 7) as usize]);
                self.b.ins().band_imm(v, 0xffff)
            }
            _ => {
                let v = self.b.use_var(self.regs[(r & 3) as usize]);
                let v = if r >= 4 {
                    self.b.ins().ushr_imm(v, 8)
                } else {
                    v
                };
                self.b.ins().band_imm(v, 0xff)
            }
        }
    }

    /// Sets register `r` of width `w` to the low bits of `v`.
    pub(super) fn set(&mut self, r: u8, w: u8, v: Value) {
        let (slot, keep, shift) = match w {
            4 => ((r & 7) as usize, 0u32, 0),
            2 => ((r & 7) as usize, 0xffff_0000, 0),
            _ if r < 4 => ((r & 3) as usize, 0xffff_ff00, 0),
            _ => ((r & 3) as usize, 0xffff_00ff, 8),
        };
        let new = if keep == 0 {
            v
        } else {
            let old = self.b.use_var(self.regs[slot]);
            let old = self.b.ins().band_imm(old, keep as i32 as i64);
            let low = self.b.ins().band_imm(v, (!keep >> shift) as i64);
            let low = if shift > 0 {
                self.b.ins().ishl_imm(low, shift)
            } else {
                low
            };
            self.b.ins().bor(old, low)
        };
        self.b.def_var(self.regs[slot], new);
    }

    pub(super) fn ea(&mut self, m: &MemRef) -> Value {
        let mut a = self.c32(m.disp);
        if let Some(base) = m.base {
            let v = self.get(base, 4);
            a = self.b.ins().iadd(a, v);
        }
        if let Some(i) = m.index {
            let v = self.get(i, 4);
            let v = self.b.ins().ishl_imm(v, (m.scale & 3) as i64);
            a = self.b.ins().iadd(a, v);
        }
        a
    }

    /// The host address of guest `addr` for an inline access of `size` bytes; where it
    /// cannot be inline (crosses a page, unmapped, for a store a granule of decoded code)
    /// the code leaves to the interpreter before this instruction.
    fn host_addr(&mut self, addr: Value, size: u8, store: bool) -> Value {
        let slow = self.b.create_block();
        self.b.set_cold_block(slow);
        let check = self.b.create_block();
        let off = self.b.ins().band_imm(addr, (PAGE_SIZE - 1) as i64);
        let in_page = self.b.ins().icmp_imm(
            IntCC::UnsignedLessThanOrEqual,
            off,
            (PAGE_SIZE - size as u32) as i64,
        );
        self.b.ins().brif(in_page, check, &[], slow, &[]);
        self.b.switch_to_block(check);
        let page = self.b.ins().ushr_imm(addr, 12);
        let page = self.b.ins().uextend(self.ptr, page);
        let at = self.b.ins().imul_imm(page, SLOT_BYTES as i64);
        let slot = self.b.ins().iadd(self.slots, at);
        let data = self.b.ins().load(self.ptr, state(), slot, SLOT_DATA);
        let data = if store {
            // The granules of the first and last byte must hold no decoded code.
            let code = self.b.ins().load(types::I64, state(), slot, SLOT_CODE);
            let shift = CODE_GRANULE.trailing_zeros() as i64;
            let g1 = self.b.ins().ushr_imm(off, shift);
            let last = self.b.ins().iadd_imm(off, size as i64 - 1);
            let g2 = self.b.ins().ushr_imm(last, shift);
            let g1 = self.b.ins().uextend(types::I64, g1);
            let g2 = self.b.ins().uextend(types::I64, g2);
            let c1 = self.b.ins().ushr(code, g1);
            let c2 = self.b.ins().ushr(code, g2);
            let c = self.b.ins().bor(c1, c2);
            let c = self.b.ins().band_imm(c, 1);
            let none = self.b.ins().iconst(self.ptr, 0);
            self.b.ins().select(c, none, data)
        } else {
            data
        };
        let fast = self.b.create_block();
        self.b.ins().brif(data, fast, &[], slow, &[]);
        self.b.switch_to_block(slow);
        self.exit_before(native::SLOW);
        self.b.switch_to_block(fast);
        let off = self.b.ins().uextend(self.ptr, off);
        self.b.ins().iadd(data, off)
    }

    fn mem_type(size: u8) -> Type {
        match size {
            1 => types::I8,
            2 => types::I16,
            _ => types::I32,
        }
    }

    /// A guest load of `size` bytes, zero-extended to i32.
    pub(super) fn load(&mut self, addr: Value, size: u8) -> Value {
        let host = self.host_addr(addr, size, false);
        let v = self.b.ins().load(Self::mem_type(size), guest(), host, 0);
        if size < 4 {
            self.b.ins().uextend(types::I32, v)
        } else {
            v
        }
    }

    /// A guest store of the low `size` bytes of `v`.
    pub(super) fn store(&mut self, addr: Value, size: u8, v: Value) {
        let host = self.host_addr(addr, size, true);
        let narrow = if size < 4 {
            self.b.ins().ireduce(Self::mem_type(size), v)
        } else {
            v
        };
        self.b.ins().store(guest(), narrow, host, 0);
    }

    /// Stores the flags record to the `Cpu` if it is not there.
    fn sync_flags(&mut self) {
        if let Flags::Known {
            kind,
            a,
            b,
            res,
            synced: false,
        } = self.flags
        {
            let k = self.b.ins().iconst(types::I8, kind as i64);
            self.b.ins().store(state(), k, self.cpu, layout::FLAGS_KIND);
            self.b.ins().store(state(), a, self.cpu, layout::FLAGS_A);
            self.b.ins().store(state(), b, self.cpu, layout::FLAGS_B);
            self.b
                .ins()
                .store(state(), res, self.cpu, layout::FLAGS_RES);
            self.flags = Flags::Known {
                kind,
                a,
                b,
                res,
                synced: true,
            };
        }
    }

    /// Stores the registers the region writes to the `Cpu`.
    fn store_regs(&mut self) {
        for r in 0..8 {
            if self.written & (1 << r) != 0 {
                let v = self.b.use_var(self.regs[r]);
                self.b
                    .ins()
                    .store(state(), v, self.cpu, layout::REGS + 4 * r as i32);
            }
        }
    }

    /// Leaves the region from the current (new) IR block with `how` after `retired`
    /// instructions of the guest block, eip at `eip`: the flags are stored here, the
    /// registers in the region's one exit block. Compile-time state is kept for the
    /// straight path, which goes on without this exit's stores.
    pub(super) fn exit(&mut self, how: u64, retired: u32, eip: Value) {
        let flags = self.flags;
        self.sync_flags();
        let code = self.result(how, retired);
        self.b
            .ins()
            .jump(self.exit_block, &[code.into(), eip.into()]);
        self.flags = flags;
    }

    /// Leaves at the current instruction with the state before it.
    pub(super) fn exit_before(&mut self, how: u64) {
        let at = self.c32(self.insn.addr);
        self.exit(how, self.index, at);
    }

    /// The result for leaving with `how` after `retired` instructions of the block.
    fn result(&mut self, how: u64, retired: u32) -> Value {
        let left = self.left(retired);
        self.b.ins().bor_imm(left, (how << native::SHIFT) as i64)
    }

    /// The budget left after `retired` instructions of the current guest block.
    fn left(&mut self, retired: u32) -> Value {
        let b = self.b.use_var(self.budget);
        self.b.ins().iadd_imm(b, -(retired as i64))
    }

    /// Leaves for guest address `to` after `retired` instructions of the guest block,
    /// through the region's one chaining block. Ends the current IR block.
    pub(super) fn chain(&mut self, retired: u32, to: Value) {
        let flags = self.flags;
        self.sync_flags();
        let left = self.left(retired);
        self.b
            .ins()
            .jump(self.chain_block, &[left.into(), to.into()]);
        // A Jcc's other arm leaves from the same state.
        self.flags = flags;
    }

    /// Goes on at the constant guest address `to` after `retired` instructions of the
    /// current guest block: a jump inside the region when `to` is one of its blocks and
    /// it fits in the budget, else [`Self::chain`]. Ends the current IR block.
    pub(super) fn goto(&mut self, retired: u32, to: u32) {
        let Some(&(head, n)) = self.heads.get(&to) else {
            let to = self.c32(to);
            return self.chain(retired, to);
        };
        let flags = self.flags;
        // Every guest block starts with the flags in the Cpu.
        self.sync_flags();
        let left = self.left(retired);
        let fits = self
            .b
            .ins()
            .icmp_imm(IntCC::UnsignedGreaterThanOrEqual, left, n as i64);
        let inside = self.b.create_block();
        let out = self.b.create_block();
        self.b.ins().brif(fits, inside, &[], out, &[]);
        self.b.switch_to_block(inside);
        self.b.def_var(self.budget, left);
        self.b.ins().jump(head, &[]);
        self.b.switch_to_block(out);
        let to = self.c32(to);
        self.exit(native::BRANCH, retired, to);
        self.flags = flags;
    }

    /// Fills in the region's shared exit blocks (after every jump to them is made).
    fn finish_exits(&mut self) {
        // exit(result, eip): registers back to the Cpu, eip, return.
        self.b.switch_to_block(self.exit_block);
        let p = self.b.block_params(self.exit_block).to_vec();
        self.store_regs();
        self.b.ins().store(state(), p[1], self.cpu, layout::EIP);
        self.b.ins().return_(&[p[0]]);
        // chain(left, to): registers back to the Cpu, then straight into the target's
        // host code when the block cache has it and it fits in the budget left, else
        // back to the block loop.
        self.b.switch_to_block(self.chain_block);
        let p = self.b.block_params(self.chain_block).to_vec();
        let (left, to) = (p[0], p[1]);
        self.store_regs();
        let hash = self.b.ins().ushr_imm(to, 12);
        let hash = self.b.ins().bxor(hash, to);
        let hash = self
            .b
            .ins()
            .band_imm(hash, (crate::cpu::FAST_SLOTS - 1) as i64);
        let hash = self.b.ins().uextend(self.ptr, hash);
        let at = self.b.ins().imul_imm(hash, fast_layout::SIZE);
        let entry = self.b.ins().iadd(self.table, at);
        let start = self
            .b
            .ins()
            .load(types::I32, state(), entry, fast_layout::START);
        let code = self
            .b
            .ins()
            .load(self.ptr, state(), entry, fast_layout::NATIVE);
        let n = self
            .b
            .ins()
            .load(types::I32, state(), entry, fast_layout::INSNS);
        let n = self.b.ins().uextend(types::I64, n);
        let same = self.b.ins().icmp(IntCC::Equal, start, to);
        let none = self.b.ins().iconst(self.ptr, 0);
        let code = self.b.ins().select(same, code, none);
        let fits = self
            .b
            .ins()
            .icmp(IntCC::UnsignedGreaterThanOrEqual, left, n);
        let code = self.b.ins().select(fits, code, none);
        let jump = self.b.create_block();
        let back = self.b.create_block();
        self.b.ins().brif(code, jump, &[], back, &[]);
        self.b.switch_to_block(jump);
        let args = [self.table, self.cpu, self.slots, left];
        self.b.ins().return_call_indirect(self.sig, code, &args);
        self.b.switch_to_block(back);
        self.b.ins().store(state(), to, self.cpu, layout::EIP);
        let r = self
            .b
            .ins()
            .bor_imm(left, (native::BRANCH << native::SHIFT) as i64);
        self.b.ins().return_(&[r]);
    }

    pub(super) fn record(&mut self, family: u8, w: u8, a: Value, b: Value, res: Value) {
        let idx = match w {
            1 => 0,
            2 => 1,
            _ => 2,
        };
        self.flags = Flags::Known {
            kind: family | idx,
            a,
            b,
            res,
            synced: false,
        };
    }
}
