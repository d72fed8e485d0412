//! Turning generated choices into straight-line i386 code that stays inside the case's
//! memory: memory operands address the data page through EBP (which nothing overwrites) or
//! the stack through ESP, string instructions get pointers and a small count set up first.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use iced_x86::code_asm::CodeAssembler;
use iced_x86::{
    Code, Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter, MemoryOperand, Register,
    RepPrefixKind,
};

use super::flags;
use super::layout::{CODE, DATA};

/// One generated instruction as raw random choices; [`build`] makes code of it.
#[derive(Clone, Copy, Debug)]
pub struct OpSeed {
    /// Which instruction group ([`groups`]), then which encoding in it.
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

const CC: [&str; 16] = [
    "o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g",
];
const ALU_FORMS: [&str; 15] = [
    "rm8_r8",
    "rm16_r16",
    "rm32_r32",
    "r8_rm8",
    "r16_rm16",
    "r32_rm32",
    "AL_imm8",
    "AX_imm16",
    "EAX_imm32",
    "rm8_imm8",
    "rm16_imm16",
    "rm32_imm32",
    "rm16_imm8",
    "rm32_imm8",
    "rm8_imm8_82",
];
const SHIFT_FORMS: [&str; 9] = [
    "rm8_1",
    "rm16_1",
    "rm32_1",
    "rm8_CL",
    "rm16_CL",
    "rm32_CL",
    "rm8_imm8",
    "rm16_imm8",
    "rm32_imm8",
];

fn cross(mnemonics: &[&str], forms: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for m in mnemonics {
        for f in forms {
            out.push(if f.is_empty() {
                m.to_string()
            } else {
                format!("{m}_{f}")
            });
        }
    }
    out
}

/// iced Code names, grouped so each group is drawn about equally often.
fn group_names() -> Vec<Vec<String>> {
    let list = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cc = |prefix: &str, forms: &[&str]| {
        cross(
            &CC.map(|c| format!("{prefix}{c}"))
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>(),
            forms,
        )
    };
    vec![
        cross(
            &["Add", "Or", "Adc", "Sbb", "And", "Sub", "Xor", "Cmp"],
            &ALU_FORMS,
        ),
        list(&[
            "Mov_rm8_r8",
            "Mov_rm16_r16",
            "Mov_rm32_r32",
            "Mov_r8_rm8",
            "Mov_r16_rm16",
            "Mov_r32_rm32",
            "Mov_r8_imm8",
            "Mov_r16_imm16",
            "Mov_r32_imm32",
            "Mov_rm8_imm8",
            "Mov_rm16_imm16",
            "Mov_rm32_imm32",
            "Mov_AL_moffs8",
            "Mov_AX_moffs16",
            "Mov_EAX_moffs32",
            "Mov_moffs8_AL",
            "Mov_moffs16_AX",
            "Mov_moffs32_EAX",
        ]),
        list(&[
            "Movzx_r16_rm8",
            "Movzx_r32_rm8",
            "Movzx_r32_rm16",
            "Movsx_r16_rm8",
            "Movsx_r32_rm8",
            "Movsx_r32_rm16",
            "Lea_r16_m",
            "Lea_r32_m",
            "Lea_r32_m",
            "Bswap_r32",
        ]),
        list(&[
            "Xchg_rm8_r8",
            "Xchg_rm16_r16",
            "Xchg_rm32_r32",
            "Xchg_r16_AX",
            "Xchg_r32_EAX",
        ]),
        list(&[
            "Push_r16",
            "Push_r32",
            "Push_rm16",
            "Push_rm32",
            "Pushw_imm8",
            "Pushd_imm8",
            "Push_imm16",
            "Pushd_imm32",
            "Pop_r16",
            "Pop_r32",
            "Pop_rm16",
            "Pop_rm32",
            "Pushad",
            "Popad",
            "Pushfd",
            "Popfd",
        ]),
        [cc("Cmov", &["r16_rm16", "r32_rm32"]), cc("Set", &["rm8"])].concat(),
        [
            cross(&["Inc", "Dec", "Neg", "Not"], &["rm8", "rm16", "rm32"]),
            list(&["Inc_r16", "Inc_r32", "Dec_r16", "Dec_r32"]),
        ]
        .concat(),
        [
            cross(&["Mul", "Imul"], &["rm8", "rm16", "rm32"]),
            list(&[
                "Imul_r16_rm16",
                "Imul_r32_rm32",
                "Imul_r16_rm16_imm16",
                "Imul_r32_rm32_imm32",
                "Imul_r16_rm16_imm8",
                "Imul_r32_rm32_imm8",
            ]),
        ]
        .concat(),
        cross(&["Div", "Idiv"], &["rm8", "rm16", "rm32"]),
        list(&[
            "Cbw",
            "Cwde",
            "Cwd",
            "Cdq",
            "Cld",
            "Std",
            "Clc",
            "Stc",
            "Cmc",
            "Lahf",
            "Sahf",
            "Test_rm8_r8",
            "Test_rm16_r16",
            "Test_rm32_r32",
            "Test_AL_imm8",
            "Test_AX_imm16",
            "Test_EAX_imm32",
            "Test_rm8_imm8",
            "Test_rm16_imm16",
            "Test_rm32_imm32",
        ]),
        cross(&["Rol", "Ror", "Rcl", "Rcr"], &SHIFT_FORMS),
        cross(&["Shl", "Sal", "Shr", "Sar"], &SHIFT_FORMS),
        cross(
            &["Shld", "Shrd"],
            &[
                "rm16_r16_imm8",
                "rm32_r32_imm8",
                "rm16_r16_CL",
                "rm32_r32_CL",
            ],
        ),
        [
            cross(
                &["Bt", "Bts", "Btr", "Btc"],
                &["rm16_r16", "rm32_r32", "rm16_imm8", "rm32_imm8"],
            ),
            cross(&["Bsf", "Bsr"], &["r16_rm16", "r32_rm32"]),
        ]
        .concat(),
        cross(&["Movs", "Stos", "Lods", "Cmps", "Scas"], &["b", "w", "d"])
            .into_iter()
            .map(|s| s.replace('_', ""))
            .collect(),
    ]
}

/// One group: iced Code names with their Codes.
pub type Group = Vec<(String, Option<Code>)>;

/// Every group's names with their Codes (string instructions have no Code name here: they
/// are made by iced's `with_*` constructors).
pub fn groups() -> &'static [Group] {
    static GROUPS: OnceLock<Vec<Group>> = OnceLock::new();
    GROUPS.get_or_init(|| {
        let by_name: HashMap<String, Code> =
            Code::values().map(|c| (format!("{c:?}"), c)).collect();
        group_names()
            .into_iter()
            .map(|g| {
                g.into_iter()
                    .map(|name| {
                        let code = if is_string_op(&name) {
                            None
                        } else {
                            Some(
                                *by_name
                                    .get(&name)
                                    .unwrap_or_else(|| panic!("iced has no Code::{name}")),
                            )
                        };
                        (name, code)
                    })
                    .collect()
            })
            .collect()
    })
}

fn is_string_op(name: &str) -> bool {
    ["Movs", "Stos", "Lods", "Cmps", "Scas"]
        .iter()
        .any(|p| name.starts_with(p))
        && !name.contains('_')
}

const R8: [Register; 8] = [
    Register::AL,
    Register::CL,
    Register::DL,
    Register::BL,
    Register::AH,
    Register::CH,
    Register::DH,
    Register::BH,
];
const R16: [Register; 8] = [
    Register::AX,
    Register::CX,
    Register::DX,
    Register::BX,
    Register::SP,
    Register::BP,
    Register::SI,
    Register::DI,
];
const R32: [Register; 8] = [
    Register::EAX,
    Register::ECX,
    Register::EDX,
    Register::EBX,
    Register::ESP,
    Register::EBP,
    Register::ESI,
    Register::EDI,
];
/// Registers an instruction may write: never ESP/EBP (they anchor stack and data).
const W16: [Register; 6] = [
    Register::AX,
    Register::CX,
    Register::DX,
    Register::BX,
    Register::SI,
    Register::DI,
];
const W32: [Register; 6] = [
    Register::EAX,
    Register::ECX,
    Register::EDX,
    Register::EBX,
    Register::ESI,
    Register::EDI,
];

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
