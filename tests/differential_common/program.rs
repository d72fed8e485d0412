//! Turning generated choices into straight-line i386 code that stays inside the case's
//! memory: memory operands address the data page through EBP (which nothing overwrites) or
//! the stack through ESP, string instructions get pointers and a small count set up first.

use std::fmt;

use iced_x86::code_asm::CodeAssembler;
use iced_x86::{
    Code, Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter, MemoryOperand, Register,
    RepPrefixKind,
};

use super::flags;
use super::layout::{CODE, DATA};
use super::tables::{groups, R16, R32, R8, W16, W32};

/// One generated instruction as raw random choices; [`build`] makes code of it.
#[derive(Clone, Copy, Debug)]
pub struct OpSeed {
    /// Which instruction group ([`super::tables::groups`]), then which encoding in it.
    pub group: u8,
    pub pick: u16,
    /// Register choices for operands 0, 1, 2 (and the lea index).
    pub regs: [u8; 4],
    /// 0-1: register for an r/m operand, 2: data page, 3: stack; bit 2 forces a disp32.
    pub mem: u8,
    pub disp: u16,
    pub imm: u32,
    /// Variant choices (rep prefix, div set-up, bit numbers).
    pub extra: u32,
}

/// One operand of an instruction being made.
#[derive(Clone, Copy)]
enum Operand {
    Reg(Register),
    Mem(MemoryOperand),
    Imm(i32),
}

fn make(code: Code, ops: &[Operand]) -> Instruction {
    use Operand::*;
    let made = match *ops {
        [] => Ok(Instruction::with(code)),
        [Reg(a)] => Instruction::with1(code, a),
        [Mem(a)] => Instruction::with1(code, a),
        [Imm(a)] => Instruction::with1(code, a),
        [Reg(a), Reg(b)] => Instruction::with2(code, a, b),
        [Reg(a), Mem(b)] => Instruction::with2(code, a, b),
        [Reg(a), Imm(b)] => Instruction::with2(code, a, b),
        [Mem(a), Reg(b)] => Instruction::with2(code, a, b),
        [Mem(a), Imm(b)] => Instruction::with2(code, a, b),
        [Reg(a), Reg(b), Reg(c)] => Instruction::with3(code, a, b, c),
        [Reg(a), Reg(b), Imm(c)] => Instruction::with3(code, a, b, c),
        [Reg(a), Mem(b), Imm(c)] => Instruction::with3(code, a, b, c),
        [Mem(a), Reg(b), Reg(c)] => Instruction::with3(code, a, b, c),
        [Mem(a), Reg(b), Imm(c)] => Instruction::with3(code, a, b, c),
        _ => panic!("{code:?}: no operand combination like this"),
    };
    made.unwrap_or_else(|e| panic!("{code:?}: {e}"))
}

fn reg_of_width(width: u32, choice: u8, writable: bool) -> Register {
    let pick = |set: &[Register]| set[choice as usize % set.len()];
    match (width, writable) {
        (8, _) => pick(&R8),
        (16, true) => pick(&W16),
        (16, false) => pick(&R16),
        (_, true) => pick(&W32),
        (_, false) => pick(&R32),
    }
}

fn width_of(token: &str) -> u32 {
    token
        .trim_start_matches(|c: char| c.is_ascii_alphabetic())
        .parse()
        .unwrap_or(32)
}

/// The straight-line program being made, one iced Instruction at a time.
#[derive(Default)]
pub struct Builder {
    insns: Vec<Instruction>,
}

impl Builder {
    fn push(&mut self, insn: Instruction) {
        self.insns.push(insn);
    }

    fn push_code(&mut self, code: Code, ops: &[Operand]) {
        self.push(make(code, ops));
    }

    /// Appends the code for one generated instruction (with any set-up it needs).
    pub fn op(&mut self, seed: &OpSeed) {
        let all = groups();
        let group = &all[seed.group as usize % all.len()];
        let (name, code) = &group[seed.pick as usize % group.len()];
        match code {
            None => self.string_op(name, seed),
            Some(code) => self.coded_op(name, *code, seed),
        }
    }

    fn string_op(&mut self, name: &str, seed: &OpSeed) {
        use Operand::*;
        let esi = DATA + 64 + (seed.imm & 0x7f);
        let edi = DATA + 64 + ((seed.imm >> 8) & 0x7f);
        let ecx = (seed.imm >> 16) % 9;
        self.push_code(Code::Mov_r32_imm32, &[Reg(Register::ESI), Imm(esi as i32)]);
        self.push_code(Code::Mov_r32_imm32, &[Reg(Register::EDI), Imm(edi as i32)]);
        self.push_code(Code::Mov_r32_imm32, &[Reg(Register::ECX), Imm(ecx as i32)]);
        let compares = name.starts_with("Cmps") || name.starts_with("Scas");
        let rep = match seed.extra % 3 {
            1 => RepPrefixKind::Repe,
            2 if compares => RepPrefixKind::Repne,
            _ => RepPrefixKind::None,
        };
        let none = Register::None;
        let insn = match name {
            "Movsb" => Instruction::with_movsb(32, none, rep),
            "Movsw" => Instruction::with_movsw(32, none, rep),
            "Movsd" => Instruction::with_movsd(32, none, rep),
            "Stosb" => Instruction::with_stosb(32, rep),
            "Stosw" => Instruction::with_stosw(32, rep),
            "Stosd" => Instruction::with_stosd(32, rep),
            "Lodsb" => Instruction::with_lodsb(32, none, rep),
            "Lodsw" => Instruction::with_lodsw(32, none, rep),
            "Lodsd" => Instruction::with_lodsd(32, none, rep),
            "Cmpsb" => Instruction::with_cmpsb(32, none, rep),
            "Cmpsw" => Instruction::with_cmpsw(32, none, rep),
            "Cmpsd" => Instruction::with_cmpsd(32, none, rep),
            "Scasb" => Instruction::with_scasb(32, rep),
            "Scasw" => Instruction::with_scasw(32, rep),
            "Scasd" => Instruction::with_scasd(32, rep),
            _ => panic!("unknown string instruction {name}"),
        };
        self.push(insn.expect("string instruction"));
    }

    fn rm_memory(seed: &OpSeed) -> MemoryOperand {
        let size = if seed.mem & 4 != 0 { 4 } else { 1 };
        if seed.mem % 4 == 3 {
            MemoryOperand::with_base_displ_size(Register::ESP, (seed.disp % 61) as i64, size)
        } else {
            MemoryOperand::with_base_displ_size(Register::EBP, (seed.disp % 253) as i64, size)
        }
    }

    fn lea_memory(seed: &OpSeed) -> MemoryOperand {
        let base = match seed.regs[1] % 9 {
            8 => Register::None,
            i => R32[i as usize],
        };
        let index = match seed.regs[3] % 9 {
            4 | 8 => Register::None,
            i => R32[i as usize],
        };
        let scale = 1 << (seed.extra % 4);
        let disp = if seed.mem & 4 != 0 {
            seed.imm as i32
        } else {
            seed.disp as i8 as i32
        };
        let size = if base == Register::None { 4 } else { 1 };
        MemoryOperand::with_base_index_scale_displ_size(base, index, scale, disp as i64, size)
    }

    fn coded_op(&mut self, name: &str, code: Code, seed: &OpSeed) {
        use Operand::*;
        let mut tokens = name.split('_');
        let mnemonic = tokens.next().unwrap_or_default();
        let tokens: Vec<&str> = tokens.filter(|t| *t != "82").collect();
        let reads_only_op0 = matches!(mnemonic, "Push" | "Pushw" | "Pushd" | "Cmp" | "Test" | "Bt");
        // Operand 1 of these is modified by a set-up instruction or by the instruction.
        let op1_written = matches!(
            mnemonic,
            "Xchg" | "Bt" | "Bts" | "Btr" | "Btc" | "Bsf" | "Bsr"
        );
        let use_mem = seed.mem % 4 >= 2;
        let mut ops = Vec::new();
        for (i, tok) in tokens.iter().enumerate() {
            let writable = (i == 0 && !reads_only_op0) || (i == 1 && op1_written);
            let op = match *tok {
                "AL" => Reg(Register::AL),
                "AX" => Reg(Register::AX),
                "EAX" => Reg(Register::EAX),
                "CL" => Reg(Register::CL),
                "1" => Imm(1),
                "m" => Mem(Self::lea_memory(seed)),
                t if t.starts_with("moffs") => Mem(MemoryOperand::with_displ(
                    (DATA + seed.disp as u32 % 253) as u64,
                    4,
                )),
                t if t.starts_with("rm") && use_mem => Mem(Self::rm_memory(seed)),
                t if t.starts_with("rm") || t.starts_with('r') => {
                    Reg(reg_of_width(width_of(t), seed.regs[i], writable))
                }
                "imm8" => Imm(seed.imm as i8 as i32),
                "imm16" => Imm(seed.imm as i16 as i32),
                "imm32" => Imm(seed.imm as i32),
                t => panic!("{name}: unknown operand token {t}"),
            };
            ops.push(op);
        }
        self.set_up(mnemonic, &tokens, &mut ops, seed);
        self.push_code(code, &ops);
        if mnemonic == "Popad" {
            // popad reloads EBP from the stack: point it back at the data page.
            self.push_code(Code::Mov_r32_imm32, &[Reg(Register::EBP), Imm(DATA as i32)]);
        }
    }

    /// Instructions that keep `ops` inside the case's memory and defined behaviour.
    fn set_up(&mut self, mnemonic: &str, tokens: &[&str], ops: &mut [Operand], seed: &OpSeed) {
        use Operand::*;
        let width = tokens.first().map_or(32, |t| width_of(t));
        let or_code = |w: u32| match w {
            8 => Code::Or_rm8_imm8,
            16 => Code::Or_rm16_imm16,
            _ => Code::Or_rm32_imm32,
        };
        match (mnemonic, &*ops) {
            // A register bit offset reaches up to 512 MiB away from a memory operand.
            ("Bt" | "Bts" | "Btr" | "Btc", [Mem(_), Reg(r)]) => {
                self.push_code(Code::And_rm32_imm8, &[Reg(r.full_register32()), Imm(0x7f)]);
            }
            // A zero source leaves the destination undefined: give it a random set bit.
            ("Bsf" | "Bsr", [_, src]) => {
                let bit = 1i64 << (seed.extra % width);
                self.push_code(or_code(width), &[*src, Imm(bit as i32)]);
            }
            // A 16-bit shld/shrd by more than 16 is undefined.
            ("Shld" | "Shrd", [_, _, Reg(Register::CL)]) if width == 16 => {
                self.push_code(Code::And_rm8_imm8, &[Reg(Register::CL), Imm(0x0f)]);
            }
            ("Shld" | "Shrd", [_, _, Imm(count)]) if width == 16 => {
                ops[2] = Imm(count.rem_euclid(17));
            }
            // Popfd loads the flags user code may set (IF and bit 1 as Linux has them).
            ("Popfd", _) => {
                let value = (seed.imm & 0xcd5) | 0x202;
                self.push_code(Code::Pushd_imm32, &[Imm(value as i32)]);
            }
            ("Div" | "Idiv", [divisor]) => {
                let variant = seed.extra % 3;
                if variant == 2 {
                    let bit = 1i64 << ((seed.extra >> 2) % width);
                    self.push_code(or_code(width), &[*divisor, Imm(bit as i32)]);
                }
                if variant >= 1 {
                    match (mnemonic, width) {
                        ("Div", 8) => self.push_code(
                            Code::Movzx_r16_rm8,
                            &[Reg(Register::AX), Reg(Register::AL)],
                        ),
                        ("Div", 16) => self
                            .push_code(Code::Xor_rm16_r16, &[Reg(Register::DX), Reg(Register::DX)]),
                        ("Div", _) => self.push_code(
                            Code::Xor_rm32_r32,
                            &[Reg(Register::EDX), Reg(Register::EDX)],
                        ),
                        (_, 8) => self.push_code(Code::Cbw, &[]),
                        (_, 16) => self.push_code(Code::Cwd, &[]),
                        _ => self.push_code(Code::Cdq, &[]),
                    }
                }
            }
            _ => {}
        }
    }

    /// Finishes the program: defines flags before any instruction that would read an
    /// undefined one (a `cmp` of two registers), ends with `int 0x80`, and assembles it at
    /// [`CODE`].
    pub fn finish(self, seeds: &[OpSeed]) -> Program {
        let mut insns = Vec::new();
        let mut undefined = 0;
        for (i, insn) in self.insns.into_iter().enumerate() {
            if flags::read_by(&insn) & undefined != 0 {
                let s = seeds.get(i % seeds.len().max(1)).map_or(0, |s| s.regs[2]);
                let a = R32[s as usize % 8];
                let b = R32[(s as usize / 8) % 8];
                insns.push(make(
                    Code::Cmp_rm32_r32,
                    &[Operand::Reg(a), Operand::Reg(b)],
                ));
                undefined = 0;
            }
            undefined = flags::undefined_after(undefined, &insn, None);
            insns.push(insn);
        }
        insns.push(make(Code::Int_imm8, &[Operand::Imm(0x80)]));
        Program::assemble(&insns)
    }
}

/// Builds the program for a list of generated instructions.
pub fn build(seeds: &[OpSeed]) -> Program {
    let mut b = Builder::default();
    for s in seeds {
        b.op(s);
    }
    b.finish(seeds)
}

/// Assembled code plus its decoded instructions (with their addresses).
#[derive(Clone)]
pub struct Program {
    pub bytes: Vec<u8>,
    pub insns: Vec<Instruction>,
}

impl Program {
    /// Assembles `insns` with iced's CodeAssembler at [`CODE`] and decodes the result back.
    pub fn assemble(insns: &[Instruction]) -> Program {
        let mut a = CodeAssembler::new(32).expect("32-bit assembler");
        for insn in insns {
            a.add_instruction(*insn).expect("add instruction");
        }
        let bytes = a
            .assemble(CODE as u64)
            .unwrap_or_else(|e| panic!("assemble: {e}"));
        Program::from_bytes(bytes)
    }

    /// Decodes hand-made machine code placed at [`CODE`].
    pub fn from_bytes(bytes: Vec<u8>) -> Program {
        let insns = Decoder::with_ip(32, &bytes, CODE as u64, DecoderOptions::NONE)
            .into_iter()
            .collect();
        Program { bytes, insns }
    }

    /// The instruction starting at `eip`.
    pub fn at(&self, eip: u32) -> Option<&Instruction> {
        self.insns.iter().find(|i| i.ip() == eip as u64)
    }

    /// The address just past the last instruction.
    pub fn end(&self) -> u32 {
        CODE + self.bytes.len() as u32
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut formatter = IntelFormatter::new();
        let mut text = String::new();
        for insn in &self.insns {
            text.clear();
            formatter.format(insn, &mut text);
            let start = (insn.ip() as u32 - CODE) as usize;
            let bytes: String = self.bytes[start..start + insn.len()]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            writeln!(f, "    {:08x}  {bytes:<24} {text}", insn.ip())?;
        }
        Ok(())
    }
}
