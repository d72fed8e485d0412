//! The interpreter ([`Cpu`], `crate::cpu`) as an [`Engine`].

use super::{Engine, EngineError};
use crate::cpu::{Cpu, Stop};
use crate::memory::GuestMemory;

impl Engine for Cpu {
    fn name(&self) -> &'static str {
        if self.tier().is_some() {
            "jit"
        } else {
            "interp"
        }
    }
    fn run(&mut self, mem: &mut GuestMemory, max_insns: u64) -> Result<Stop, EngineError> {
        Ok(Cpu::run(self, mem, max_insns))
    }
    fn regs(&self) -> [u32; 8] {
        self.regs
    }
    fn set_regs(&mut self, regs: [u32; 8]) {
        self.regs = regs;
    }
    fn eip(&self) -> u32 {
        self.eip
    }
    fn set_eip(&mut self, eip: u32) {
        self.eip = eip;
    }
    fn eflags(&self) -> u32 {
        Cpu::eflags(self)
    }
    fn set_eflags(&mut self, v: u32) {
        Cpu::set_eflags(self, v)
    }
    fn insns_retired(&self) -> u64 {
        Cpu::insns_retired(self)
    }
    fn flush_code_cache(&mut self, mem: &mut GuestMemory) {
        Cpu::flush_code_cache(self, mem)
    }
    fn block_len(&mut self, mem: &mut GuestMemory) -> u64 {
        self.block_len_at(mem)
    }
    fn fork(&self) -> Box<dyn Engine> {
        Box::new(self.clone())
    }
}
