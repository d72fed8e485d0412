//! Shared helpers for the CPU tests: assemble i386 code with iced-x86's code assembler,
//! load it into a fresh guest memory, run it on one engine until `int 0x80` or a fault.
//! Tests take the engine as an argument and are instantiated for every engine of the
//! build with [`conformance!`] (see `engines.rs`).
#![allow(dead_code, unused_imports)]

pub use iced_x86::code_asm::*;
pub use vm::cpu::reg::*;
pub use vm::engine::{Engine, EngineError};
pub use vm::{Cpu, Fault, FaultKind, GuestMemory, MemFault, Stop, PAGE_SIZE};

mod engines;
pub use engines::*;

/// Where test code is loaded.
pub const CODE: u32 = 0x0804_8000;
/// A 64 KiB zeroed data area.
pub const DATA: u32 = 0x0806_0000;
pub const DATA_LEN: u32 = 0x1_0000;
/// The stack: 64 KiB below 0xC0000000.
pub const STACK_BASE: u32 = 0xBFFF_0000;
pub const STACK_TOP: u32 = 0xC000_0000;
/// ESP at start (leaves room above it for tests that read [esp+N]).
pub const INITIAL_ESP: u32 = STACK_TOP - 0x100;
/// An address with no page.
pub const UNMAPPED: u32 = 0x1000_0000;

pub const CF: u32 = 1;
pub const PF: u32 = 1 << 2;
pub const AF: u32 = 1 << 4;
pub const ZF: u32 = 1 << 6;
pub const SF: u32 = 1 << 7;
/// The trap flag (single-step).
pub const TF: u32 = 1 << 8;
pub const DF: u32 = 1 << 10;
pub const OF: u32 = 1 << 11;
/// The six arithmetic flags.
pub const ARITH: u32 = CF | PF | AF | ZF | SF | OF;

/// Assembles 32-bit code for address [`CODE`].
pub fn asm(f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Vec<u8> {
    let mut a = CodeAssembler::new(32).expect("32-bit assembler");
    f(&mut a).expect("assembling test code");
    a.assemble(CODE as u64).expect("assembling test code")
}

/// A memory with `code` at [`CODE`], the data area and the stack mapped.
pub fn memory_with(code: &[u8]) -> GuestMemory {
    let mut mem = GuestMemory::new();
    mem.map(CODE, (code.len() as u32).max(1));
    mem.write_bytes(CODE, code).expect("code fits");
    mem.map(DATA, DATA_LEN);
    mem.map(STACK_BASE, STACK_TOP - STACK_BASE);
    mem
}

/// The state every test starts from: EIP at [`CODE`], ESP at [`INITIAL_ESP`].
pub fn start_cpu() -> Cpu {
    let mut cpu = Cpu::new();
    cpu.eip = CODE;
    cpu.regs[ESP] = INITIAL_ESP;
    cpu
}

/// A page of its own holding `nop`s (see [`Guest::sync_memory`]).
pub const SYNC_PAGE: u32 = 0x0900_0000;

/// A guest with code, data and stack mapped, on one engine.
pub struct Guest {
    pub engine: Box<dyn Engine>,
    pub mem: GuestMemory,
    /// Which engine this is, for the documented differences it asks about.
    pub kind: EngineUnderTest,
    /// One-instruction runs [`Guest::sync_memory`] made, left out of [`Guest::retired`].
    sync_steps: u64,
}

impl Guest {
    /// Loads raw code bytes at [`CODE`]; EIP there, ESP at [`INITIAL_ESP`].
    pub fn new(kind: EngineUnderTest, code: &[u8]) -> Self {
        let mut mem = memory_with(code);
        if kind.memory_is_partial_after_a_stop() {
            mem.map(SYNC_PAGE, PAGE_SIZE);
            mem.write_bytes(SYNC_PAGE, &[0x90; 16]).expect("mapped");
        }
        Guest {
            engine: kind.build(&start_cpu()),
            mem,
            kind,
            sync_steps: 0,
        }
    }

    /// Assembles `f` and loads it.
    pub fn with(
        kind: EngineUnderTest,
        f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>,
    ) -> Self {
        Self::new(kind, &asm(f))
    }

    /// Runs with a large budget.
    pub fn run(&mut self) -> Stop {
        self.step(10_000_000)
    }

    /// Runs at most `budget` instructions; an engine error (a cross-check divergence, a
    /// unicorn failure) fails the test.
    pub fn step(&mut self, budget: u64) -> Stop {
        let stop = self
            .engine
            .run(&mut self.mem, budget)
            .unwrap_or_else(|e| panic!("{} engine: {e}", self.kind.name()));
        if stop != Stop::InsnLimit {
            self.sync_memory();
        }
        stop
    }

    /// Brings every store into [`Guest::mem`] for an engine that hands over memory only
    /// where a stop needs it: a run ended by its budget hands over every page, so run one
    /// `nop` on [`SYNC_PAGE`] and put registers, eip and EFLAGS back (documented in
    /// `engine/unicorn_lazy.rs`; the `nop` is left out of [`Guest::retired`]).
    fn sync_memory(&mut self) {
        if !self.kind.memory_is_partial_after_a_stop() {
            return;
        }
        let saved = self.engine.state();
        // Only the user flags go back in (a TF left set by `popfd` would trap on the nop).
        self.engine.set_eflags(saved.eflags);
        self.engine.set_eip(SYNC_PAGE);
        let stop = self.engine.run(&mut self.mem, 1).expect("one nop");
        assert_eq!(stop, Stop::InsnLimit, "the nop on the sync page");
        self.engine.restore(&saved);
        self.sync_steps += 1;
    }

    /// Runs and expects to stop at `int 0x80`.
    pub fn run_to_syscall(&mut self) -> &mut Self {
        let stop = self.run();
        assert_eq!(stop, Stop::Syscall, "{}", self.describe());
        self
    }

    /// Registers, eip and EFLAGS, for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "{} engine: regs {:08x?} eip {:08x} eflags {:08x} retired {}",
            self.kind.name(),
            self.engine.regs(),
            self.engine.eip(),
            self.engine.eflags(),
            self.retired()
        )
    }

    pub fn reg(&self, r: usize) -> u32 {
        self.engine.regs()[r]
    }

    pub fn regs(&self) -> [u32; 8] {
        self.engine.regs()
    }

    pub fn set_reg(&mut self, r: usize, v: u32) {
        let mut regs = self.engine.regs();
        regs[r] = v;
        self.engine.set_regs(regs);
    }

    pub fn eip(&self) -> u32 {
        self.engine.eip()
    }

    pub fn set_eip(&mut self, eip: u32) {
        self.engine.set_eip(eip);
    }

    pub fn eflags(&self) -> u32 {
        self.engine.eflags()
    }

    /// The arithmetic flags.
    pub fn arith_flags(&self) -> u32 {
        self.engine.eflags() & ARITH
    }

    /// Instructions retired (see [`EngineUnderTest::counts_rep_iterations`]).
    pub fn retired(&self) -> u64 {
        self.engine.insns_retired() - self.sync_steps
    }

    /// Registers, eip, EFLAGS and the retired count.
    pub fn state(&self) -> ([u32; 8], u32, u32, u64) {
        (self.regs(), self.eip(), self.eflags(), self.retired())
    }

    pub fn read32(&self, a: u32) -> u32 {
        self.mem.read_u32(a).expect("mapped")
    }

    /// `len` bytes at `a`.
    pub fn bytes(&self, a: u32, len: usize) -> Vec<u8> {
        let mut out = vec![0; len];
        self.mem.read_bytes(a, &mut out).expect("mapped");
        out
    }

    /// Forgets decoded code (the image was replaced).
    pub fn flush_code_cache(&mut self) {
        self.engine.flush_code_cache(&mut self.mem);
    }

    /// A forked child: the engine's copy and a copy of the memory.
    pub fn fork(&self) -> Guest {
        Guest {
            engine: self.engine.fork(),
            mem: self.mem.clone(),
            kind: self.kind,
            sync_steps: self.sync_steps,
        }
    }
}

/// Runs `f` (which must end in `int 0x80`) and returns the guest.
pub fn run(
    kind: EngineUnderTest,
    f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>,
) -> Guest {
    let mut g = Guest::with(kind, f);
    g.run_to_syscall();
    g
}

/// Runs `f` followed by `int 0x80`; returns EAX and the arithmetic flags.
pub fn eax_flags(
    kind: EngineUnderTest,
    f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>,
) -> (u32, u32) {
    let g = run(kind, |a| {
        f(a)?;
        a.int(0x80)
    });
    (g.reg(EAX), g.arith_flags())
}

/// Like [`eax_flags`] but keeping only the flags in `mask`.
pub fn eax_masked(
    kind: EngineUnderTest,
    mask: u32,
    f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>,
) -> (u32, u32) {
    let (v, fl) = eax_flags(kind, f);
    (v, fl & mask)
}

/// Expects `f` to fault with `kind` at the instruction at `CODE + offset`.
pub fn expect_fault(g: &mut Guest, kind: FaultKind, eip: u32) {
    match g.run() {
        Stop::Fault(f) => {
            assert_eq!(f.kind, kind, "fault kind; {}", g.describe());
            assert_eq!(f.eip, eip, "fault eip");
            assert_eq!(g.eip(), eip, "eip stays at the faulting instruction");
        }
        other => panic!("expected a {kind:?} fault, got {other:?}; {}", g.describe()),
    }
}
