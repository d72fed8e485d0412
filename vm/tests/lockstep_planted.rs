//! The cross-check finds a planted semantic difference: an engine wrapper that flips one
//! flag bit, or corrupts one stored byte, after one chosen instruction. The report must
//! name that exact instruction.

mod cpu_common;

use cpu_common::*;
#[cfg(feature = "unicorn")]
use vm::engine::lockstep::Counts;
use vm::engine::lockstep::{Lockstep, SharedCounts};
use vm::engine::{Engine, EngineError, State};

/// The interpreter, except that after its `at`-th instruction it flips `bit` in EFLAGS
/// and, with `poke`, writes that byte at that address.
struct FlipOnce {
    inner: Cpu,
    at: u64,
    bit: u32,
    poke: Option<(u32, u8)>,
}

impl Engine for FlipOnce {
    fn name(&self) -> &'static str {
        "flip-once"
    }
    fn run(&mut self, mem: &mut GuestMemory, max: u64) -> Result<Stop, EngineError> {
        let r = self.inner.insns_retired();
        if r >= self.at || r + max < self.at {
            return Engine::run(&mut self.inner, mem, max);
        }
        let stop = Engine::run(&mut self.inner, mem, self.at - r)?;
        if self.inner.insns_retired() == self.at {
            let flipped = self.inner.eflags() ^ self.bit;
            self.inner.set_eflags(flipped);
            if let Some((addr, byte)) = self.poke {
                mem.write_bytes(addr, &[byte]).expect("mapped");
            }
        }
        Ok(stop)
    }
    fn regs(&self) -> [u32; 8] {
        self.inner.regs
    }
    fn set_regs(&mut self, regs: [u32; 8]) {
        self.inner.regs = regs;
    }
    fn eip(&self) -> u32 {
        self.inner.eip
    }
    fn set_eip(&mut self, eip: u32) {
        self.inner.eip = eip;
    }
    fn eflags(&self) -> u32 {
        self.inner.eflags()
    }
    fn set_eflags(&mut self, v: u32) {
        self.inner.set_eflags(v)
    }
    fn insns_retired(&self) -> u64 {
        self.inner.insns_retired()
    }
    fn flush_code_cache(&mut self, mem: &mut GuestMemory) {
        self.inner.flush_code_cache(mem)
    }
    fn fork(&self) -> Box<dyn Engine> {
        unreachable!("no fork in these tests")
    }
    fn state(&self) -> State {
        Engine::state(&self.inner)
    }
}

/// mov eax,5 / add eax,3 / cmp eax,8 / jne bad / mov ebx,0 / mov eax,1 / int 0x80 ...
fn program() -> Guest {
    Guest::with(EngineUnderTest::Interp, |a| {
        let mut bad = a.create_label();
        a.mov(eax, 5u32)?;
        a.add(eax, 3u32)?;
        a.cmp(eax, 8u32)?;
        a.jne(bad)?;
        a.mov(ebx, 0u32)?;
        a.mov(eax, 1u32)?;
        a.int(0x80)?;
        a.set_label(&mut bad)?;
        a.mov(ebx, 1u32)?;
        a.mov(eax, 1u32)?;
        a.int(0x80)
    })
}

fn start(g: &Guest, a: Box<dyn Engine>, b: Box<dyn Engine>) -> (Lockstep, SharedCounts) {
    let counts = SharedCounts::default();
    let mut ls = Lockstep::new(a, b, counts.clone());
    ls.set_regs(g.regs());
    ls.set_eip(g.eip());
    (ls, counts)
}

fn flip_after(at: u64, bit: u32) -> Box<dyn Engine> {
    let mut inner = Cpu::new();
    inner.eip = CODE;
    inner.regs[ESP] = INITIAL_ESP;
    Box::new(FlipOnce {
        inner,
        at,
        bit,
        poke: None,
    })
}

fn fresh() -> Cpu {
    let mut c = Cpu::new();
    c.eip = CODE;
    c.regs[ESP] = INITIAL_ESP;
    c
}

fn expect_divergence(r: Result<Stop, EngineError>) -> vm::engine::lockstep::Divergence {
    match r {
        Err(EngineError::Divergence(d)) => *d,
        other => panic!("expected a divergence, got {other:?}"),
    }
}

fn planted(b: Box<dyn Engine>) {
    let mut g = program();
    // Instruction 3 is `cmp eax,8`, which sets ZF; flip ZF after it.
    let (mut ls, counts) = start(&g, flip_after(3, ZF), b);
    let d = expect_divergence(ls.run(&mut g.mem, 100));
    let text = d.to_string();
    let len = |at: u32| vm::cpu::disassemble(&g.mem, at).expect("decodes").0.len() as u32;
    let cmp_at = CODE + len(CODE) + len(CODE + len(CODE));
    assert_eq!(d.eip, cmp_at, "the cmp's address: {text}");
    let (_, insn) = d.insn.clone().expect("disassembled");
    assert!(insn.starts_with("cmp eax,8"), "{text}");
    assert!(text.contains("ZF"), "{text}");
    assert_eq!(d.differences.len(), 1, "only the flag: {text}");
    assert_eq!(
        counts.get().instructions,
        2,
        "two instructions agreed first"
    );
}

#[test]
fn planted_flag_flip_is_reported_at_its_instruction_interp_vs_interp() {
    planted(Box::new(fresh()));
}

#[cfg(feature = "unicorn")]
#[test]
fn planted_flag_flip_is_reported_at_its_instruction_against_unicorn() {
    planted(Box::new(vm::engine::unicorn::UnicornEngine::from_cpu(
        &fresh(),
    )));
}

#[cfg(feature = "unicorn")]
#[test]
fn clean_program_agrees_with_unicorn_and_counts_what_was_compared() {
    let mut g = program();
    let b = Box::new(vm::engine::unicorn::UnicornEngine::from_cpu(&fresh()));
    let (mut ls, counts) = start(&g, Box::new(fresh()), b);
    let stop = ls.run(&mut g.mem, 100).expect("no divergence");
    assert_eq!(stop, Stop::Syscall);
    assert_eq!(ls.regs()[EBX], 0, "the add and cmp ran");
    assert_eq!(
        counts.get(),
        Counts {
            instructions: 7,
            blocks: 2,
            syscalls: 1,
            full_compares: 1
        }
    );
}

#[test]
fn a_flag_flip_after_a_flagless_instruction_is_caught() {
    let mut g = Guest::with(EngineUnderTest::Interp, |a| {
        a.mov(eax, 0x1234_5678u32)?;
        a.mov(dword_ptr(DATA), eax)?;
        a.mov(ebx, 0u32)?;
        a.mov(eax, 1u32)?;
        a.int(0x80)
    });
    let (mut ls, _) = start(&g, Box::new(fresh()), flip_after(1, CF));
    // The flip lands after `mov eax, imm`, which defines no flags: CF is still compared.
    let d = expect_divergence(ls.run(&mut g.mem, 100));
    assert_eq!(d.eip, CODE);
    assert!(d.to_string().contains("CF"), "{d}");
}

/// `rep stosb` of 16 bytes at DATA, then exit.
fn rep_store() -> Guest {
    Guest::with(EngineUnderTest::Interp, |a| {
        a.mov(edi, DATA)?;
        a.mov(ecx, 16u32)?;
        a.mov(al, 0x55u32)?;
        a.rep().stosb()?;
        a.mov(ebx, 0u32)?;
        a.mov(eax, 1u32)?;
        a.int(0x80)
    })
}

/// The interpreter that stores a wrong byte in the middle of the `rep stosb`'s range.
fn corrupt_rep_store() -> Box<dyn Engine> {
    let mut inner = fresh();
    inner.eip = CODE;
    Box::new(FlipOnce {
        inner,
        at: 4,
        bit: 0,
        poke: Some((DATA + 9, 0xaa)),
    })
}

fn expect_store_divergence(d: vm::engine::lockstep::Divergence) {
    let text = d.to_string();
    let (_, insn) = d.insn.clone().expect("disassembled");
    assert!(insn.starts_with("rep stosb"), "{text}");
    assert!(text.contains(&format!("{:#010x}", DATA + 9)), "{text}");
}

/// B's wrong byte is inside the range the op list says A's `rep stosb` stored to.
#[test]
fn a_wrong_byte_inside_a_rep_store_is_caught_interp_vs_interp() {
    let mut g = rep_store();
    let (mut ls, _) = start(&g, Box::new(fresh()), corrupt_rep_store());
    expect_store_divergence(expect_divergence(ls.run(&mut g.mem, 100)));
}

/// Against unicorn, which runs a `rep` one iteration per step: the lockstep steps it through
/// all 16 and compares what both wrote; the clean run agrees.
#[cfg(feature = "unicorn")]
#[test]
fn a_wrong_byte_inside_a_rep_store_is_caught_against_unicorn() {
    let mut g = rep_store();
    let b = Box::new(vm::engine::unicorn::UnicornEngine::from_cpu(&fresh()));
    let (mut ls, _) = start(&g, corrupt_rep_store(), b);
    expect_store_divergence(expect_divergence(ls.run(&mut g.mem, 100)));

    let mut g = rep_store();
    let b = Box::new(vm::engine::unicorn::UnicornEngine::from_cpu(&fresh()));
    let (mut ls, counts) = start(&g, Box::new(fresh()), b);
    assert_eq!(ls.run(&mut g.mem, 100).expect("agrees"), Stop::Syscall);
    assert_eq!(g.read32(DATA + 12), 0x5555_5555);
    assert_eq!(counts.get().instructions, 7, "the rep counts once");
}
