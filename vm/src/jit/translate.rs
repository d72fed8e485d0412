//! One block's instructions -> Cranelift IR.
//!
//! Guest registers live in Cranelift variables for the whole block (loaded from the `Cpu`
//! where first read, stored back at exits only if written). The lazy flags record of the last
//! flag-setting instruction is kept as IR values: a Jcc/SETcc after CMP/SUB or a logic op
//! compares the operands directly, and the record reaches the `Cpu` only at an exit.
//! Memory goes through the slot table inline; anything unusual calls a helper.
//!
//! Exactness: each instruction computes everything (loads included) before it commits
//! anything, stores before register writes, so an exit taken at a faulting access stores
//! the state before the instruction. Instructions not translated here run on the
//! interpreter's handler, with the state synced to the `Cpu` around the call.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    types, Block, Endianness, FuncRef, Function, InstBuilder, MemFlags, Type, Value,
};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_jit::JITModule;
use cranelift_module::Module;

use super::HelperIds;
use crate::cpu::flags::kind;
use crate::cpu::cache_layout as fast_layout;
use crate::cpu::tier::{layout, native, InterpStep, CTX_FAST, LOAD_FAULT};
use crate::cpu::{reg::ESP, Insn, Kind, MemRef, Operand, Rep};
use crate::memory::{PAGE_SIZE, SLOT_BYTES, SLOT_CODE, SLOT_DATA};

/// The flags as the block knows them.
#[derive(Clone, Copy)]
enum Flags {
    /// In the `Cpu` (on entry, after an interpreter step).
    InCpu,
    /// Recorded by an instruction of this block: kind byte, operands, result; `synced`
    /// when the `Cpu` holds the same record.
    Known {
        kind: u8,
        a: Value,
        b: Value,
        res: Value,
        synced: bool,
    },
}

struct Helpers {
    load: FuncRef,
    store: FuncRef,
    step: FuncRef,
    cond: FuncRef,
    cf: FuncRef,
}

struct Tx<'a> {
    b: FunctionBuilder<'a>,
    ptr: Type,
    ctx: Value,
    cpu: Value,
    slots: Value,
    /// The instruction budget on entry (covers the whole block).
    budget: Value,
    regs: [Variable; 8],
    /// Registers whose variable holds their value (the others are read from the `Cpu`
    /// where first needed).
    loaded: u8,
    /// Registers written since they were last stored to the `Cpu`.
    dirty: u8,
    /// Block code's signature, for jumps to other blocks.
    sig: cranelift_codegen::ir::SigRef,
    flags: Flags,
    h: Helpers,
    /// The instruction being translated and its index in the block.
    insn: Insn,
    index: u32,
    /// Set when a store of this instruction reached decoded code (i32, non-zero).
    code_hit: Option<Value>,
}

fn width_idx(w: u8) -> u8 {
    match w {
        1 => 0,
        2 => 1,
        _ => 2,
    }
}

fn mask(w: u8) -> u32 {
    match w {
        1 => 0xff,
        2 => 0xffff,
        _ => 0xffff_ffff,
    }
}

fn sign(w: u8) -> u32 {
    match w {
        1 => 0x80,
        2 => 0x8000,
        _ => 0x8000_0000,
    }
}

/// Cpu state accesses: the Cpu is ours for the call.
fn state() -> MemFlags {
    MemFlags::trusted()
}

/// Guest memory: little-endian whatever the host, any alignment.
fn guest() -> MemFlags {
    MemFlags::new()
        .with_notrap()
        .with_endianness(Endianness::Little)
}

/// Translates the block `insns` (`start..end`) into `func`; the interpreter steps it calls
/// are returned to be kept alive with the code. `None`: not translatable.
pub(super) fn block(
    module: &mut JITModule,
    func: &mut Function,
    ids: HelperIds,
    _start: u32,
    end: u32,
    insns: &[Insn],
) -> Option<super::Steps> {
    // Block enders that store (other than `call`, translated here) would need the step's
    // code-write exit to know the branch target: none in the op list does today.
    if let Some(last) = insns.last() {
        if last.ends_block() && last.kind != Kind::Call && !store_free(last) {
            return None;
        }
    }
    let ptr = module.target_config().pointer_type();
    let h = Helpers {
        load: module.declare_func_in_func(ids.load, func),
        store: module.declare_func_in_func(ids.store, func),
        step: module.declare_func_in_func(ids.step, func),
        cond: module.declare_func_in_func(ids.cond, func),
        cf: module.declare_func_in_func(ids.cf, func),
    };
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(func, &mut fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let params = b.block_params(entry).to_vec();
    let (ctx, cpu, slots, budget) = (params[0], params[1], params[2], params[3]);
    let mut regs = [Variable::from_u32(0); 8];
    for (i, r) in regs.iter_mut().enumerate() {
        *r = Variable::from_u32(i as u32);
        b.declare_var(*r, types::I32);
    }
    let sig = b.import_signature(super::block_signature(ptr));
    let mut tx = Tx {
        b,
        ptr,
        ctx,
        cpu,
        slots,
        budget,
        regs,
        loaded: 0,
        dirty: 0,
        sig,
        flags: Flags::InCpu,
        h,
        insn: insns[0],
        index: 0,
        code_hit: None,
    };
    let mut steps = Vec::new();
    let mut ended = false;
    for (i, insn) in insns.iter().enumerate() {
        tx.insn = *insn;
        tx.index = i as u32;
        tx.code_hit = None;
        if !tx.native() {
            let step = InterpStep::new(insn).ok()?;
            tx.step(&step);
            steps.push(step);
        }
        if insn.ends_block() {
            ended = true;
            break;
        }
        tx.finish_insn();
    }
    if !ended {
        let to = tx.b.ins().iconst(types::I32, end as i64);
        tx.chain(insns.len() as u32, to);
    }
    tx.b.seal_all_blocks();
    tx.b.finalize();
    Some(steps)
}

fn store_free(insn: &Insn) -> bool {
    matches!(insn.kind.stores(), crate::cpu::Stores::Nothing)
}

impl Tx<'_> {
    fn c32(&mut self, v: u32) -> Value {
        self.b.ins().iconst(types::I32, v as i32 as i64)
    }

    /// The whole register `slot`, read from the `Cpu` here if it is not in its variable
    /// yet (the straight path dominates every later use, so that read serves them all).
    fn reg32(&mut self, slot: usize) -> Value {
        if self.loaded & (1 << slot) == 0 {
            let v = self
                .b
                .ins()
                .load(types::I32, state(), self.cpu, layout::REGS + 4 * slot as i32);
            self.b.def_var(self.regs[slot], v);
            self.loaded |= 1 << slot;
        }
        self.b.use_var(self.regs[slot])
    }

    /// Register `r` of width `w` (1: AL..BH numbering), zero-extended.
    fn get(&mut self, r: u8, w: u8) -> Value {
        match w {
            4 => self.reg32((r & 7) as usize),
            2 => {
                let v = self.reg32((r & 7) as usize);
                self.b.ins().band_imm(v, 0xffff)
            }
            _ => {
                let v = self.reg32((r & 3) as usize);
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
    fn set(&mut self, r: u8, w: u8, v: Value) {
        let (slot, keep, shift) = match w {
            4 => ((r & 7) as usize, 0u32, 0),
            2 => ((r & 7) as usize, 0xffff_0000, 0),
            _ if r < 4 => ((r & 3) as usize, 0xffff_ff00, 0),
            _ => ((r & 3) as usize, 0xffff_00ff, 8),
        };
        let new = if keep == 0 {
            v
        } else {
            let old = self.reg32(slot);
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
        self.loaded |= 1 << slot;
        self.dirty |= 1 << slot;
    }

    fn ea(&mut self, m: &MemRef) -> Value {
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

    /// The host address of guest `addr` for an inline access of `size` bytes, branching to
    /// `slow` when it cannot be inline (crosses a page, unmapped, or for a store a page
    /// holding decoded code).
    fn host_addr(&mut self, addr: Value, size: u8, store: bool, slow: Block) -> Value {
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
        // A store goes inline only to a page without decoded code: no page otherwise.
        let data = if store {
            let code = self.b.ins().load(types::I64, state(), slot, SLOT_CODE);
            let none = self.b.ins().iconst(self.ptr, 0);
            self.b.ins().select(code, none, data)
        } else {
            data
        };
        let fast = self.b.create_block();
        self.b.ins().brif(data, fast, &[], slow, &[]);
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

    /// A guest load of `size` bytes, zero-extended to i32; a fault leaves the block with
    /// the state before this instruction.
    fn load(&mut self, addr: Value, size: u8) -> Value {
        let slow = self.b.create_block();
        let done = self.b.create_block();
        self.b.append_block_param(done, types::I32);
        let host = self.host_addr(addr, size, false, slow);
        let ty = Self::mem_type(size);
        let v = self.b.ins().load(ty, guest(), host, 0);
        let v = if size < 4 {
            self.b.ins().uextend(types::I32, v)
        } else {
            v
        };
        self.b.ins().jump(done, &[v.into()]);
        self.b.switch_to_block(slow);
        let n = self.c32(size as u32);
        let call = self.b.ins().call(self.h.load, &[self.ctx, addr, n]);
        let r = self.b.inst_results(call)[0];
        let fault = self.b.ins().band_imm(r, LOAD_FAULT as i64);
        let ok = self.b.create_block();
        let out = self.b.create_block();
        self.b.ins().brif(fault, out, &[], ok, &[]);
        self.b.switch_to_block(out);
        self.exit_before(native::FAULT);
        self.b.switch_to_block(ok);
        let v = self.b.ins().ireduce(types::I32, r);
        self.b.ins().jump(done, &[v.into()]);
        self.b.switch_to_block(done);
        self.b.block_params(done)[0]
    }

    /// A guest store of the low `size` bytes of `v`; a fault leaves the block with the
    /// state before this instruction, a store over decoded code after it.
    fn store(&mut self, addr: Value, size: u8, v: Value) {
        let slow = self.b.create_block();
        let done = self.b.create_block();
        self.b.append_block_param(done, types::I32);
        let host = self.host_addr(addr, size, true, slow);
        let narrow = if size < 4 {
            self.b.ins().ireduce(Self::mem_type(size), v)
        } else {
            v
        };
        self.b.ins().store(guest(), narrow, host, 0);
        let zero = self.c32(0);
        self.b.ins().jump(done, &[zero.into()]);
        self.b.switch_to_block(slow);
        let n = self.c32(size as u32);
        let call = self.b.ins().call(self.h.store, &[self.ctx, addr, n, v]);
        let r = self.b.inst_results(call)[0];
        let faulted = self.b.ins().icmp_imm(IntCC::Equal, r, 1);
        let ok = self.b.create_block();
        let out = self.b.create_block();
        self.b.ins().brif(faulted, out, &[], ok, &[]);
        self.b.switch_to_block(out);
        self.exit_before(native::FAULT);
        self.b.switch_to_block(ok);
        let hit = self.b.ins().icmp_imm(IntCC::Equal, r, 2);
        let hit = self.b.ins().uextend(types::I32, hit);
        self.b.ins().jump(done, &[hit.into()]);
        self.b.switch_to_block(done);
        let hit = self.b.block_params(done)[0];
        self.code_hit = Some(match self.code_hit {
            Some(h) => self.b.ins().bor(h, hit),
            None => hit,
        });
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

    /// Stores written registers and the flags to the `Cpu`.
    fn sync(&mut self) {
        for r in 0..8 {
            if self.dirty & (1 << r) != 0 {
                let v = self.b.use_var(self.regs[r]);
                self.b
                    .ins()
                    .store(state(), v, self.cpu, layout::REGS + 4 * r as i32);
            }
        }
        self.dirty = 0;
        self.sync_flags();
    }

    /// Leaves the block from the current (new) IR block: syncs the state, sets eip when
    /// given, returns `how` with `retired` instructions. Compile-time state is restored
    /// afterwards, since the straight path goes on without this exit's stores.
    fn exit(&mut self, how: u64, retired: u32, eip: Option<Value>) {
        let (dirty, flags) = (self.dirty, self.flags);
        self.sync();
        if let Some(e) = eip {
            self.b.ins().store(state(), e, self.cpu, layout::EIP);
        }
        let code = self.result(how, retired);
        self.b.ins().return_(&[code]);
        self.dirty = dirty;
        self.flags = flags;
    }

    /// The result for leaving with `how` after `retired` instructions of the block.
    fn result(&mut self, how: u64, retired: u32) -> Value {
        let left = self.b.ins().iadd_imm(self.budget, -(retired as i64));
        self.b.ins().bor_imm(left, (how << native::SHIFT) as i64)
    }

    /// Leaves the block for guest address `to` after `retired` instructions: straight into
    /// the target's host code when the block cache has it and it fits in the budget left,
    /// else back to the block loop. Ends the current IR block.
    fn chain(&mut self, retired: u32, to: Value) {
        let (dirty, flags) = (self.dirty, self.flags);
        self.sync();
        let left = self.b.ins().iadd_imm(self.budget, -(retired as i64));
        let table = self.b.ins().load(self.ptr, state(), self.ctx, CTX_FAST);
        let hash = self.b.ins().ushr_imm(to, 12);
        let hash = self.b.ins().bxor(hash, to);
        let hash = self
            .b
            .ins()
            .band_imm(hash, (crate::cpu::FAST_SLOTS - 1) as i64);
        let hash = self.b.ins().uextend(self.ptr, hash);
        let at = self.b.ins().imul_imm(hash, fast_layout::SIZE);
        let entry = self.b.ins().iadd(table, at);
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
        let fits = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, left, n);
        let code = self.b.ins().select(fits, code, none);
        let jump = self.b.create_block();
        let back = self.b.create_block();
        self.b.ins().brif(code, jump, &[], back, &[]);
        self.b.switch_to_block(jump);
        let args = [self.ctx, self.cpu, self.slots, left];
        self.b.ins().return_call_indirect(self.sig, code, &args);
        self.b.switch_to_block(back);
        self.b.ins().store(state(), to, self.cpu, layout::EIP);
        let r = self.result(native::BRANCH, retired);
        self.b.ins().return_(&[r]);
        // A Jcc's other arm leaves from the same state.
        self.dirty = dirty;
        self.flags = flags;
    }

    /// Leaves at the current instruction with the state before it.
    fn exit_before(&mut self, how: u64) {
        let at = self.c32(self.insn.addr);
        self.exit(how, self.index, Some(at));
    }

    /// After a translated instruction: leave if one of its stores reached decoded code.
    fn finish_insn(&mut self) {
        if let Some(hit) = self.code_hit.take() {
            let out = self.b.create_block();
            let on = self.b.create_block();
            self.b.ins().brif(hit, out, &[], on, &[]);
            self.b.switch_to_block(out);
            let next = self.c32(self.insn.next());
            self.exit(native::CODE_WRITE, self.index + 1, Some(next));
            self.b.switch_to_block(on);
        }
    }

    /// Runs the instruction on the interpreter's handler `step`.
    fn step(&mut self, step: &InterpStep) {
        self.sync();
        let sp = self
            .b
            .ins()
            .iconst(self.ptr, step as *const InterpStep as usize as i64);
        let call = self.b.ins().call(self.h.step, &[self.ctx, sp]);
        let r = self.b.inst_results(call)[0];
        self.flags = Flags::InCpu;
        let next = self.insn.next();
        if self.insn.ends_block() {
            // 0: branched (eip set by the handler), 1: int 0x80 (eip past it), 2: fault.
            let fault = self.b.create_block();
            let left = self.b.create_block();
            let is_fault = self.b.ins().icmp_imm(IntCC::Equal, r, 2);
            self.b.ins().brif(is_fault, fault, &[], left, &[]);
            self.b.switch_to_block(fault);
            self.exit_before(native::FAULT);
            self.b.switch_to_block(left);
            let how = self.b.ins().uextend(types::I64, r);
            let how = self.b.ins().ishl_imm(how, native::SHIFT as i64);
            let left = self.b.ins().iadd_imm(self.budget, -((self.index + 1) as i64));
            let code = self.b.ins().bor(how, left);
            self.b.ins().return_(&[code]);
            return;
        }
        let fault = self.b.create_block();
        let other = self.b.create_block();
        let hit = self.b.create_block();
        let on = self.b.create_block();
        self.b.ins().brif(r, other, &[], on, &[]);
        self.b.switch_to_block(other);
        let is_fault = self.b.ins().icmp_imm(IntCC::Equal, r, 2);
        self.b.ins().brif(is_fault, fault, &[], hit, &[]);
        self.b.switch_to_block(fault);
        self.exit_before(native::FAULT);
        self.b.switch_to_block(hit);
        let to = self.c32(next);
        self.exit(native::CODE_WRITE, self.index + 1, Some(to));
        self.b.switch_to_block(on);
        // The handler may have changed any register: read them again where needed.
        self.loaded = 0;
    }

    /// Condition `cc` (0 = O ... 15 = G) as an i8 0/1.
    fn cond(&mut self, cc: u8) -> Value {
        if let Flags::Known {
            kind, a, b, res, ..
        } = self.flags
        {
            let w = [1u8, 2, 4, 4][(kind & 3) as usize];
            let family = kind & !3;
            if family == kind::SUB {
                let sh = (32 - 8 * w as i64).min(24);
                let sh = if w == 4 { 0 } else { sh };
                let signed = |tx: &mut Self, cc: IntCC| {
                    let sa = tx.b.ins().ishl_imm(a, sh);
                    let sb = tx.b.ins().ishl_imm(b, sh);
                    tx.b.ins().icmp(cc, sa, sb)
                };
                let direct = match cc {
                    2 => Some(self.b.ins().icmp(IntCC::UnsignedLessThan, a, b)),
                    3 => Some(self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, a, b)),
                    4 => Some(self.b.ins().icmp(IntCC::Equal, a, b)),
                    5 => Some(self.b.ins().icmp(IntCC::NotEqual, a, b)),
                    6 => Some(self.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, a, b)),
                    7 => Some(self.b.ins().icmp(IntCC::UnsignedGreaterThan, a, b)),
                    12 => Some(signed(self, IntCC::SignedLessThan)),
                    13 => Some(signed(self, IntCC::SignedGreaterThanOrEqual)),
                    14 => Some(signed(self, IntCC::SignedLessThanOrEqual)),
                    15 => Some(signed(self, IntCC::SignedGreaterThan)),
                    _ => None,
                };
                if let Some(v) = direct {
                    return v;
                }
            }
            // ZF and SF come from the result for every family this block records.
            let zf = |tx: &mut Self, neg: bool| {
                let m = tx.b.ins().band_imm(res, mask(w) as i32 as i64);
                let cc = if neg { IntCC::NotEqual } else { IntCC::Equal };
                tx.b.ins().icmp_imm(cc, m, 0)
            };
            let sf = |tx: &mut Self, neg: bool| {
                let m = tx.b.ins().band_imm(res, sign(w) as i32 as i64);
                let cc = if neg { IntCC::Equal } else { IntCC::NotEqual };
                tx.b.ins().icmp_imm(cc, m, 0)
            };
            match cc {
                4 => return zf(self, false),
                5 => return zf(self, true),
                8 => return sf(self, false),
                9 => return sf(self, true),
                _ => {}
            }
            if family == kind::RES {
                // Logic ops: CF = OF = 0 (this block records RES only for them).
                match cc {
                    0 | 2 => return self.b.ins().iconst(types::I8, 0),
                    1 | 3 => return self.b.ins().iconst(types::I8, 1),
                    6 => return zf(self, false),
                    7 => return zf(self, true),
                    12 => return sf(self, false),
                    13 => return sf(self, true),
                    14 | 15 => {
                        let z = zf(self, false);
                        let s = sf(self, false);
                        let le = self.b.ins().bor(z, s);
                        return if cc == 14 {
                            le
                        } else {
                            self.b.ins().bxor_imm(le, 1)
                        };
                    }
                    _ => {}
                }
            }
        }
        self.sync_flags();
        let n = self.c32(cc as u32);
        let call = self.b.ins().call(self.h.cond, &[self.ctx, n]);
        let r = self.b.inst_results(call)[0];
        self.b.ins().icmp_imm(IntCC::NotEqual, r, 0)
    }

    /// CF as an i32 0/1.
    fn cf(&mut self) -> Value {
        if let Flags::Known {
            kind, a, b, res, ..
        } = self.flags
        {
            let w = [1u8, 2, 4, 4][(kind & 3) as usize];
            let c = match kind & !3 {
                kind::SUB => Some(self.b.ins().icmp(IntCC::UnsignedLessThan, a, b)),
                kind::ADD => {
                    let r = self.b.ins().band_imm(res, mask(w) as i32 as i64);
                    Some(self.b.ins().icmp(IntCC::UnsignedLessThan, r, a))
                }
                kind::INC | kind::DEC => return b,
                kind::RES => return self.c32(0),
                _ => None,
            };
            if let Some(c) = c {
                return self.b.ins().uextend(types::I32, c);
            }
        }
        self.sync_flags();
        let call = self.b.ins().call(self.h.cf, &[self.ctx]);
        self.b.inst_results(call)[0]
    }

    fn record(&mut self, family: u8, w: u8, a: Value, b: Value, res: Value) {
        self.flags = Flags::Known {
            kind: family | width_idx(w),
            a,
            b,
            res,
            synced: false,
        };
    }

    /// Reads a register, memory or immediate operand of width `w`.
    fn read(&mut self, o: Operand, w: u8) -> Option<Value> {
        Some(match o {
            Operand::Reg(r, _) => self.get(r, w),
            Operand::Mem(m) => {
                let a = self.ea(&m);
                self.load(a, w)
            }
            Operand::Imm(v) => self.c32(v & mask(w)),
            _ => return None,
        })
    }

    /// Writes `v` to a register or memory operand of width `w` (memory: `addr` computed
    /// before anything was committed).
    fn write(&mut self, o: Operand, addr: Option<Value>, w: u8, v: Value) {
        match (o, addr) {
            (Operand::Reg(r, _), _) => self.set(r, w, v),
            (_, Some(a)) => self.store(a, w, v),
            _ => unreachable!("write to a non-location operand"),
        }
    }

    /// The width of a register or memory operand.
    fn width(o: Operand) -> Option<u8> {
        match o {
            Operand::Reg(_, w) => Some(w),
            Operand::Mem(m) => Some(m.size),
            _ => None,
        }
    }

    /// A destination operand: its width, its address when in memory, and its value when
    /// `read`.
    fn dest(&mut self, o: Operand, read: bool) -> Option<(u8, Option<Value>, Option<Value>)> {
        let w = Self::width(o)?;
        if !matches!(w, 1 | 2 | 4) {
            return None;
        }
        Some(match o {
            Operand::Reg(r, _) => (w, None, read.then(|| self.get(r, w))),
            Operand::Mem(m) => {
                let a = self.ea(&m);
                let v = read.then(|| self.load(a, w));
                (w, Some(a), v)
            }
            _ => return None,
        })
    }

    /// Translates the current instruction natively; false: run it on the interpreter.
    fn native(&mut self) -> bool {
        let i = self.insn;
        if i.rep != Rep::None {
            return false;
        }
        let (o0, o1) = (i.operand(0), i.operand(1));
        match i.kind {
            Kind::Mov => {
                let Some((w, addr, _)) = self.dest(o0, false) else {
                    return false;
                };
                if !matches!(o1, Operand::Reg(..) | Operand::Mem(_) | Operand::Imm(_)) {
                    return false;
                }
                let v = self.read(o1, w).expect("checked");
                self.write(o0, addr, w, v);
            }
            Kind::Movzx | Kind::Movsx => {
                let (Operand::Reg(r, w), Some(ws)) = (o0, Self::width(o1)) else {
                    return false;
                };
                if !matches!(o1, Operand::Reg(..) | Operand::Mem(_)) || ws >= w {
                    return false;
                }
                let v = self.read(o1, ws).expect("checked");
                let v = if i.kind == Kind::Movsx {
                    let sh = 32 - 8 * ws as i64;
                    let v = self.b.ins().ishl_imm(v, sh);
                    self.b.ins().sshr_imm(v, sh)
                } else {
                    v
                };
                self.set(r, w, v);
            }
            Kind::Lea => {
                let (Operand::Reg(r, w), Operand::Mem(m)) = (o0, o1) else {
                    return false;
                };
                let a = self.ea(&m);
                self.set(r, w, a);
            }
            Kind::Push if i.osize == 4 => {
                let v = match o0 {
                    Operand::Reg(r, 4) => self.get(r, 4),
                    Operand::Imm(v) => self.c32(v),
                    Operand::Mem(m) if m.size == 4 => {
                        let a = self.ea(&m);
                        self.load(a, 4)
                    }
                    _ => return false,
                };
                let esp = self.get(ESP as u8, 4);
                let new = self.b.ins().iadd_imm(esp, -4);
                self.store(new, 4, v);
                self.set(ESP as u8, 4, new);
            }
            Kind::Pop if i.osize == 4 => {
                let Operand::Reg(r, 4) = o0 else {
                    return false;
                };
                let esp = self.get(ESP as u8, 4);
                let v = self.load(esp, 4);
                let up = self.b.ins().iadd_imm(esp, 4);
                self.set(ESP as u8, 4, up);
                self.set(r, 4, v);
            }
            Kind::Add | Kind::Sub | Kind::Cmp | Kind::And | Kind::Or | Kind::Xor | Kind::Test => {
                let Some((w, addr, Some(a))) = self.dest(o0, true) else {
                    return false;
                };
                let Some(b) = self.read(o1, w) else {
                    return false;
                };
                let (res, family) = match i.kind {
                    Kind::Add => (self.b.ins().iadd(a, b), kind::ADD),
                    Kind::Sub | Kind::Cmp => (self.b.ins().isub(a, b), kind::SUB),
                    Kind::And | Kind::Test => (self.b.ins().band(a, b), kind::RES),
                    Kind::Or => (self.b.ins().bor(a, b), kind::RES),
                    _ => (self.b.ins().bxor(a, b), kind::RES),
                };
                if !matches!(i.kind, Kind::Cmp | Kind::Test) {
                    let out = if w == 4 {
                        res
                    } else {
                        self.b.ins().band_imm(res, mask(w) as i64)
                    };
                    self.write(o0, addr, w, out);
                }
                if family == kind::RES {
                    let zero = self.c32(0);
                    self.record(family, w, zero, zero, res);
                } else {
                    self.record(family, w, a, b, res);
                }
            }
            Kind::Inc | Kind::Dec | Kind::Neg | Kind::Not => {
                let cf = matches!(i.kind, Kind::Inc | Kind::Dec).then(|| self.cf());
                let Some((w, addr, Some(a))) = self.dest(o0, true) else {
                    return false;
                };
                let res = match i.kind {
                    Kind::Inc => self.b.ins().iadd_imm(a, 1),
                    Kind::Dec => self.b.ins().iadd_imm(a, -1),
                    Kind::Neg => self.b.ins().ineg(a),
                    _ => self.b.ins().bnot(a),
                };
                let out = if w == 4 {
                    res
                } else {
                    self.b.ins().band_imm(res, mask(w) as i64)
                };
                self.write(o0, addr, w, out);
                match i.kind {
                    Kind::Inc => self.record(kind::INC, w, a, cf.expect("inc"), res),
                    Kind::Dec => self.record(kind::DEC, w, a, cf.expect("dec"), res),
                    Kind::Neg => {
                        let zero = self.c32(0);
                        self.record(kind::SUB, w, zero, a, res)
                    }
                    _ => {}
                }
            }
            Kind::Setcc => {
                let Some(cc) = i.cond else { return false };
                let Some((1, addr, _)) = self.dest(o0, false) else {
                    return false;
                };
                let c = self.cond(cc);
                let v = self.b.ins().uextend(types::I32, c);
                self.write(o0, addr, 1, v);
            }
            Kind::Jcc => {
                let (Some(cc), Operand::Rel(t)) = (i.cond, o0) else {
                    return false;
                };
                let c = self.cond(cc);
                let taken = self.b.create_block();
                let not = self.b.create_block();
                self.b.ins().brif(c, taken, &[], not, &[]);
                let n = self.index + 1;
                self.b.switch_to_block(taken);
                let to = self.c32(t);
                self.chain(n, to);
                self.b.switch_to_block(not);
                let to = self.c32(i.next());
                self.chain(n, to);
            }
            Kind::Jmp | Kind::Call if i.osize == 4 => {
                let to = match o0 {
                    Operand::Rel(t) => self.c32(t),
                    Operand::Reg(r, 4) => self.get(r, 4),
                    Operand::Mem(m) if m.size == 4 => {
                        let a = self.ea(&m);
                        self.load(a, 4)
                    }
                    _ => return false,
                };
                if i.kind == Kind::Call {
                    let esp = self.get(ESP as u8, 4);
                    let new = self.b.ins().iadd_imm(esp, -4);
                    let ret = self.c32(i.next());
                    self.store(new, 4, ret);
                    self.set(ESP as u8, 4, new);
                    // A call that stored over decoded code still branches: the loop
                    // drops the stale blocks before it runs the target.
                    self.code_hit = None;
                }
                self.chain(self.index + 1, to);
            }
            Kind::Ret if i.osize == 4 => {
                let extra = match o0 {
                    Operand::Imm(v) => v & 0xffff,
                    Operand::Other if i.count == 0 => 0,
                    _ => return false,
                };
                let esp = self.get(ESP as u8, 4);
                let to = self.load(esp, 4);
                let up = self.b.ins().iadd_imm(esp, 4 + extra as i64);
                self.set(ESP as u8, 4, up);
                self.chain(self.index + 1, to);
            }
            _ => return false,
        }
        true
    }
}
