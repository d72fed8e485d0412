//! Where a differential case lives in guest memory, and its initial state.

use std::fmt;

use vm::cpu::reg;
use vm::GuestMemory;

/// The generated code's address (two pages).
pub const CODE: u32 = 0x0804_8000;
pub const CODE_LEN: u32 = 0x2000;
/// The data page memory operands and string instructions address; EBP points here.
pub const DATA: u32 = 0x0900_0000;
pub const DATA_LEN: u32 = 0x1000;
/// Bytes at the start of the data page that get random contents.
pub const DATA_RANDOM: usize = 256;
/// The stack (two pages); ESP starts in the middle so pushes and pops both stay inside.
pub const STACK: u32 = 0x0a00_0000;
pub const STACK_LEN: u32 = 0x2000;
pub const ESP_INIT: u32 = STACK + 0x1000;
/// Random stack bytes start this far below the initial ESP ...
pub const STACK_RANDOM_BELOW: u32 = 64;
/// ... and this many random bytes in all.
pub const STACK_RANDOM: usize = 256;

/// EFLAGS bits.
pub mod flag {
    pub const CF: u32 = 1 << 0;
    pub const PF: u32 = 1 << 2;
    pub const AF: u32 = 1 << 4;
    pub const ZF: u32 = 1 << 6;
    pub const SF: u32 = 1 << 7;
    pub const IF: u32 = 1 << 9;
    pub const DF: u32 = 1 << 10;
    pub const OF: u32 = 1 << 11;
    /// Bit 1 reads as 1 on every x86.
    pub const RESERVED1: u32 = 1 << 1;
    /// The six status flags.
    pub const STATUS: u32 = CF | PF | AF | ZF | SF | OF;
    /// Everything a user program can set and the engines are compared on.
    pub const COMPARED: u32 = STATUS | DF;
}

/// Registers, flags and memory contents a case starts from.
#[derive(Clone)]
pub struct InitialState {
    /// ESP and EBP are overwritten with [`ESP_INIT`] and [`DATA`].
    pub regs: [u32; 8],
    /// Only [`flag::COMPARED`] bits are used; IF and bit 1 are always set (as under Linux).
    pub eflags: u32,
    /// The first [`DATA_RANDOM`] bytes of the data page.
    pub data: Vec<u8>,
    /// [`STACK_RANDOM`] bytes from `ESP_INIT - STACK_RANDOM_BELOW`.
    pub stack: Vec<u8>,
}

impl InitialState {
    /// The registers with ESP and EBP pinned to the stack and data pages.
    pub fn regs(&self) -> [u32; 8] {
        let mut r = self.regs;
        r[reg::ESP] = ESP_INIT;
        r[reg::EBP] = DATA;
        r
    }

    /// EFLAGS as loaded into both engines.
    pub fn eflags(&self) -> u32 {
        (self.eflags & flag::COMPARED) | flag::IF | flag::RESERVED1
    }

    /// A fresh guest memory with code, data and stack mapped and filled.
    pub fn memory(&self, code: &[u8]) -> GuestMemory {
        let mut mem = GuestMemory::new();
        mem.map(CODE, CODE_LEN);
        mem.map(DATA, DATA_LEN);
        mem.map(STACK, STACK_LEN);
        mem.write_bytes(CODE, code).expect("code fits its pages");
        mem.write_bytes(DATA, &self.data).expect("data page mapped");
        mem.write_bytes(ESP_INIT - STACK_RANDOM_BELOW, &self.stack)
            .expect("stack mapped");
        mem
    }
}

/// Guest page numbers (address >> 12) of code, data and stack.
pub fn pages() -> Vec<u32> {
    [(CODE, CODE_LEN), (DATA, DATA_LEN), (STACK, STACK_LEN)]
        .iter()
        .flat_map(|&(a, len)| (a >> 12)..((a + len) >> 12))
        .collect()
}

pub const REG_NAMES: [&str; 8] = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];

/// `CF PF ...` letters for the set bits of `eflags` among [`flag::COMPARED`].
pub fn flag_names(eflags: u32) -> String {
    const NAMES: [(u32, &str); 7] = [
        (flag::OF, "OF"),
        (flag::DF, "DF"),
        (flag::SF, "SF"),
        (flag::ZF, "ZF"),
        (flag::AF, "AF"),
        (flag::PF, "PF"),
        (flag::CF, "CF"),
    ];
    let set: Vec<&str> = NAMES
        .iter()
        .filter(|(bit, _)| eflags & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    if set.is_empty() {
        "-".into()
    } else {
        set.join(" ")
    }
}

/// Hex dump, 32 bytes a line, each line prefixed with its guest address.
pub fn hex_dump(f: &mut fmt::Formatter<'_>, addr: u32, bytes: &[u8]) -> fmt::Result {
    for (i, line) in bytes.chunks(32).enumerate() {
        write!(f, "    {:08x}:", addr + 32 * i as u32)?;
        for b in line {
            write!(f, " {b:02x}")?;
        }
        writeln!(f)?;
    }
    Ok(())
}

impl fmt::Display for InitialState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let regs = self.regs();
        for (name, v) in REG_NAMES.iter().zip(regs) {
            write!(f, "{name}={v:08x} ")?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "  eflags={:08x} ({})",
            self.eflags(),
            flag_names(self.eflags())
        )?;
        writeln!(f, "  data:")?;
        hex_dump(f, DATA, &self.data)?;
        writeln!(f, "  stack:")?;
        hex_dump(f, ESP_INIT - STACK_RANDOM_BELOW, &self.stack)
    }
}

impl fmt::Debug for InitialState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
