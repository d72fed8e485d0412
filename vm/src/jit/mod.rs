//! The Cranelift JIT: host code for the interpreter's hot blocks (its second tier, see
//! [`crate::cpu::tier`]).
//!
//! [`Jit`] is a [`Translator`]: given a hot block it finds the region it heads ([`region`]:
//! the block and the blocks it reaches by direct branches), decodes their instructions (the
//! same [`Insn`](crate::cpu::Insn)s the interpreter was built from), translates them to
//! Cranelift IR ([`translate`]; what it does not translate leaves to the interpreter) and
//! compiles the function. Translations are kept by the region's address and bytes, so one
//! `Jit` shared by every process of a run compiles each region of a binary once, however
//! many processes run it (M2-Planet, M1, hex2 and blood-elf run 13+ times each in the
//! chain).
//!
//! Variables for measuring, read once when the JIT is made: `STAGE0_JIT_HOT` and
//! `STAGE0_JIT_REUSE` (the starts of [`Heat`]), `STAGE0_JIT_REGION` (most blocks in a
//! region), `STAGE0_JIT_DISASM` (print each region's host code).

mod flags;
mod insn;
mod region;
mod translate;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use cranelift_codegen::ir::{types, AbiParam, InstBuilder, Signature, UserFuncName};
use cranelift_codegen::isa::CallConv;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, Linkage, Module};

use crate::cpu::tier::{Entry, Heat, NativeBlock, TierStats, Translated, Translator};
use crate::memory::GuestMemory;
use region::GuestBlock;

/// Why the JIT could not start on this host.
#[derive(Debug, thiserror::Error)]
#[error("the JIT cannot generate code for this host: {0}")]
pub struct JitUnavailable(String);

struct Inner {
    module: JITModule,
    /// Host code (owned by the module) by region address and bytes; `None`: declined.
    done: HashMap<(u32, Box<[u8]>), Option<NativeBlock>>,
    stats: TierStats,
    /// Print each region's host code (`STAGE0_JIT_DISASM`).
    disasm: bool,
}

// SAFETY: JITModule holds raw pointers to the code it owns; it is only touched under the
// Mutex, and the code it made is immutable once finalized.
unsafe impl Send for Inner {}

/// The Cranelift JIT, shared by the processes of a run.
pub struct Jit {
    inner: Mutex<Inner>,
    /// The trampoline from the host's C convention into block code (tail convention, so
    /// blocks can jump to each other).
    entry: Entry,
    /// When blocks get host code.
    heat: Heat,
    /// Most blocks in a region.
    region_blocks: usize,
}

/// The number in environment variable `name`, if set to one.
fn knob<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok()?.parse().ok()
}

/// The signature of block code: `(block table, cpu, slots, budget) -> result`, tail
/// convention (see [`Entry`]).
pub(crate) fn block_signature(ptr: types::Type) -> Signature {
    let mut sig = Signature::new(CallConv::Tail);
    sig.params.extend([AbiParam::new(ptr); 3]);
    sig.params.push(AbiParam::new(types::I64));
    sig.returns.push(AbiParam::new(types::I64));
    sig
}

/// Compiles the [`Entry`] trampoline: calls its last argument as block code with the rest.
fn compile_entry(module: &mut JITModule) -> Result<Entry, String> {
    let ptr = module.target_config().pointer_type();
    let mut sig = Signature::new(module.isa().default_call_conv());
    sig.params.extend([AbiParam::new(ptr); 3]);
    sig.params.push(AbiParam::new(types::I64));
    sig.params.push(AbiParam::new(ptr));
    sig.returns.push(AbiParam::new(types::I64));
    let id = module
        .declare_function("tier_entry", Linkage::Local, &sig)
        .map_err(|e| e.to_string())?;
    let mut ctx = module.make_context();
    ctx.func.signature = sig;
    ctx.func.name = UserFuncName::user(0, id.as_u32());
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
    let block = b.create_block();
    b.append_block_params_for_function_params(block);
    b.switch_to_block(block);
    let p = b.block_params(block).to_vec();
    let callee = b.import_signature(block_signature(ptr));
    let call = b.ins().call_indirect(callee, p[4], &p[..4]);
    let r = b.inst_results(call)[0];
    b.ins().return_(&[r]);
    b.seal_all_blocks();
    b.finalize();
    module
        .define_function(id, &mut ctx)
        .map_err(|e| format!("{e:?}"))?;
    module.clear_context(&mut ctx);
    module.finalize_definitions().map_err(|e| e.to_string())?;
    let addr = module.get_finalized_function(id);
    // SAFETY: the function has Entry's signature in the host's C convention.
    Ok(unsafe { std::mem::transmute::<*const u8, Entry>(addr) })
}

impl Jit {
    /// A JIT for the host this runs on.
    pub fn new() -> Result<Jit, JitUnavailable> {
        let err = |e: &dyn std::fmt::Display| JitUnavailable(e.to_string());
        let mut flags = settings::builder();
        // "speed" over "none": 1.48 s against 1.71 s on the M2 step (vm/PERFORMANCE.md).
        flags.set("opt_level", "speed").map_err(|e| err(&e))?;
        flags
            .set("use_colocated_libcalls", "false")
            .map_err(|e| err(&e))?;
        flags.set("is_pic", "false").map_err(|e| err(&e))?;
        // Tail calls between blocks need frame pointers (Cranelift 0.121).
        flags
            .set("preserve_frame_pointers", "true")
            .map_err(|e| err(&e))?;
        // The IR comes from one translator whose output the tests check; verifying each
        // function again costs a fifth of compile time.
        flags.set("enable_verifier", "false").map_err(|e| err(&e))?;
        let isa = cranelift_native::builder()
            .map_err(|e| err(&e))?
            .finish(settings::Flags::new(flags))
            .map_err(|e| err(&e))?;
        let builder = JITBuilder::with_isa(isa, default_libcall_names());
        let mut module = JITModule::new(builder);
        let entry = compile_entry(&mut module).map_err(|e| err(&e))?;
        Ok(Jit {
            inner: Mutex::new(Inner {
                module,
                done: HashMap::new(),
                stats: TierStats::default(),
                disasm: std::env::var_os("STAGE0_JIT_DISASM").is_some(),
            }),
            entry,
            heat: Heat {
                reuse: knob("STAGE0_JIT_REUSE").unwrap_or(Heat::DEFAULT.reuse),
                compile: knob("STAGE0_JIT_HOT").unwrap_or(Heat::DEFAULT.compile),
            },
            region_blocks: knob("STAGE0_JIT_REGION").unwrap_or(region::MAX_BLOCKS),
        })
    }
}

impl Translator for Jit {
    fn entry(&self) -> Entry {
        self.entry
    }

    fn heat(&self) -> Heat {
        self.heat
    }

    fn translate(
        &self,
        mem: &GuestMemory,
        start: u32,
        insns: u32,
        compile: bool,
    ) -> Option<Translated> {
        let blocks = region::discover(mem, start, insns, self.region_blocks)?;
        // Keyed by every byte the code is made from: the same address holds other code
        // in other processes.
        let mut bytes = Vec::new();
        for g in &blocks {
            let at = bytes.len();
            bytes.resize(at + g.end.wrapping_sub(g.start) as usize, 0);
            mem.read_bytes(g.start, &mut bytes[at..]).ok()?;
        }
        let covers: Vec<(u32, u32)> = blocks[1..].iter().map(|g| (g.start, g.end)).collect();
        let key = (start, bytes.into_boxed_slice());
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let code = match inner.done.get(&key) {
            Some(&code) => {
                if code.is_some() {
                    inner.stats.cache_hits += 1;
                }
                code
            }
            None if !compile => None,
            None => {
                let began = Instant::now();
                let made = inner.compile(start, &blocks);
                inner.stats.compile_nanos += began.elapsed().as_nanos() as u64;
                match made {
                    Some(_) => inner.stats.compiled += 1,
                    None => inner.stats.declined += 1,
                }
                inner.done.insert(key, made);
                made
            }
        }?;
        Some(Translated { code, covers })
    }

    fn stats(&self) -> TierStats {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).stats
    }
}

impl Inner {
    /// Compiles the region `blocks` entered at `start`.
    fn compile(&mut self, start: u32, blocks: &[GuestBlock]) -> Option<NativeBlock> {
        let mut ctx = self.module.make_context();
        let ptr = self.module.target_config().pointer_type();
        let sig = block_signature(ptr);
        ctx.func.signature = sig.clone();
        translate::region(&mut self.module, &mut ctx.func, blocks)?;
        let disasm = self.disasm;
        ctx.set_disasm(disasm);
        let id = self.module.declare_anonymous_function(&sig).ok()?;
        let defined = self.module.define_function(id, &mut ctx);
        if let Err(e) = defined {
            // A translation Cranelift rejects is a bug in `translate`; the block still runs.
            if cfg!(debug_assertions) {
                panic!("JIT: block at {start:#x} failed to compile: {e:?}");
            }
            return None;
        }
        if let Some(c) = ctx.compiled_code() {
            self.stats.code_bytes += c.code_info().total_size as u64;
            if let Some(text) = c.vcode.as_ref().filter(|_| disasm) {
                eprintln!(
                    "JIT region at {start:#010x} ({} blocks):\n{text}",
                    blocks.len()
                );
            }
        }
        self.module.clear_context(&mut ctx);
        self.module.finalize_definitions().ok()?;
        NativeBlock::new(self.module.get_finalized_function(id))
    }
}
