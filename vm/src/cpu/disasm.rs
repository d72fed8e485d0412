//! One-instruction disassembly for fault reports.

use iced_x86::{Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter};

use crate::memory::GuestMemory;

/// The bytes and Intel-syntax text of the instruction at `eip`, or `None` when no valid
/// instruction can be read there (unmapped, or invalid bytes).
pub fn disassemble(mem: &GuestMemory, eip: u32) -> Option<(Vec<u8>, String)> {
    let mut bytes = Vec::with_capacity(15);
    for i in 0..15u32 {
        match mem.read_u8(eip.wrapping_add(i)) {
            Ok(b) => bytes.push(b),
            Err(_) => break,
        }
    }
    let mut decoder = Decoder::with_ip(32, &bytes, eip as u64, DecoderOptions::NONE);
    let mut instr = Instruction::default();
    decoder.decode_out(&mut instr);
    if instr.is_invalid() {
        return None;
    }
    bytes.truncate(instr.len());
    let mut text = String::new();
    IntelFormatter::new().format(&instr, &mut text);
    Some((bytes, text))
}
