//! Recursive-descent disassembly with a little symbolic register tracking, so
//! each `int 0x80` can be named and its arguments described.

use std::collections::BTreeMap;

use iced_x86::{
    Decoder, DecoderOptions, FlowControl, Formatter, Instruction, InstructionInfoFactory,
    IntelFormatter, Mnemonic, OpAccess, OpKind, Register,
};

use super::elf::Headers;
use super::notes::{
    CHAR_NAMES, CONDITIONS, IDIOMS, MNEMONICS, OPEN_FLAGS, SYSCALLS, SYSCALL_ARG_REGISTERS,
};
use super::Insn;

/// What the tracker knows about a 32-bit value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sym {
    Unknown,
    Const(u32),
    /// Only the low `bits` bits are known (e.g. after `mov al, 4`).
    Low(u32, u32),
    Argc,
    Argv(u32),
    StackPointer,
    /// What syscall `name` at `at` returned.
    Returned(&'static str, u32),
}

impl Sym {
    fn describe(self) -> String {
        match self {
            Sym::Unknown => "?".into(),
            Sym::Const(v) => describe_const(v),
            Sym::Low(v, bits) => format!("{v:#x} in the low {bits} bits"),
            Sym::Argc => "argc (number of arguments)".into(),
            Sym::Argv(0) => "argv[0] (program name)".into(),
            Sym::Argv(n) => format!("argv[{n}] (command-line argument {n})"),
            Sym::StackPointer => "a buffer on the stack".into(),
            Sym::Returned(name, at) => format!("the value {name} returned at {at:#010x}"),
        }
    }
}

fn describe_const(v: u32) -> String {
    if let Some((_, name)) = CHAR_NAMES.iter().find(|(c, _)| *c == v) {
        return format!("{v} ({name})");
    }
    if (0x21..0x7F).contains(&v) {
        return format!("{v:#x} ('{}')", v as u8 as char);
    }
    if (v as i32) < 0 && (v as i32) > -0x1000 {
        return format!("{}", v as i32);
    }
    format!("{v:#x}")
}

const REGS: [Register; 8] = [
    Register::EAX,
    Register::ECX,
    Register::EDX,
    Register::EBX,
    Register::ESP,
    Register::EBP,
    Register::ESI,
    Register::EDI,
];

fn slot(reg: Register) -> Option<usize> {
    REGS.iter().position(|r| *r == reg.full_register32())
}

/// Register values and the stack along one path.
#[derive(Debug, Clone)]
struct State {
    regs: [Sym; 8],
    /// Stack contents, top last; `None` once something moved esp untracked.
    stack: Option<Vec<Sym>>,
    /// A register the last flag-setting instruction compared with zero.
    zero_if_equal: Option<usize>,
}

impl State {
    fn at_entry() -> Self {
        // Linux starts a process with argc on top of the stack, then argv[0], argv[1], ...
        let mut stack: Vec<Sym> = (0..8).rev().map(Sym::Argv).collect();
        stack.push(Sym::Argc);
        State {
            regs: [Sym::Unknown; 8],
            stack: Some(stack),
            zero_if_equal: None,
        }
    }

    fn get(&self, reg: Register) -> Sym {
        slot(reg).map_or(Sym::Unknown, |i| self.regs[i])
    }

    fn set(&mut self, reg: Register, value: Sym) {
        if let Some(i) = slot(reg) {
            self.regs[i] = value;
        }
    }

    fn push(&mut self, v: Sym) {
        if let Some(s) = &mut self.stack {
            s.push(v);
        }
    }

    fn pop(&mut self) -> Sym {
        self.stack
            .as_mut()
            .and_then(|s| s.pop())
            .unwrap_or(Sym::Unknown)
    }
}

/// Writes `imm` into the low `bits` of what `old` was.
fn merge_low(old: Sym, imm: u32, bits: u32) -> Sym {
    let mask = if bits == 32 {
        u32::MAX
    } else {
        (1 << bits) - 1
    };
    match old {
        Sym::Const(v) => Sym::Const((v & !mask) | (imm & mask)),
        _ if bits == 32 => Sym::Const(imm),
        _ => Sym::Low(imm & mask, bits),
    }
}

fn reg_bits(reg: Register) -> u32 {
    reg.size() as u32 * 8
}

fn syscall_spec(
    number: u32,
) -> Option<&'static (u32, &'static str, &'static [&'static str], &'static str)> {
    SYSCALLS.iter().find(|(n, ..)| *n == number)
}

fn open_flags(v: u32) -> String {
    let mut names: Vec<&str> = OPEN_FLAGS
        .iter()
        .filter(|(bit, _)| v & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    if v & 3 == 0 {
        names.insert(0, "O_RDONLY");
    }
    format!("{v:#x} = {}", names.join("|"))
}

/// Describes one syscall argument.
fn describe_arg(call: &str, arg: &str, value: Sym) -> String {
    match (call, arg, value) {
        ("open", "flags", Sym::Const(v)) => open_flags(v),
        ("open" | "chmod", "mode", Sym::Const(v)) => format!("0o{v:o}"),
        _ => value.describe(),
    }
}

/// The note for `int 0x80` given the registers, and the syscall's name.
fn syscall_note(state: &State) -> (String, Option<&'static str>) {
    let (number, assumed) = match state.get(Register::EAX) {
        Sym::Const(v) => (v, ""),
        Sym::Low(v, bits) => (
            v,
            if bits < 32 {
                " (upper bytes of eax assumed zero)"
            } else {
                ""
            },
        ),
        _ => return ("Linux system call; number in eax not tracked".into(), None),
    };
    let Some(&(_, name, args, purpose)) = syscall_spec(number) else {
        return (format!("Linux system call {number}"), None);
    };
    let described: Vec<String> = args
        .iter()
        .zip(SYSCALL_ARG_REGISTERS)
        .map(|(arg, reg)| {
            let value = state.get(reg_by_name(reg));
            format!("{arg} = {reg} = {}", describe_arg(name, arg, value))
        })
        .collect();
    (
        format!(
            "syscall {number} {name}({}){assumed}: {purpose}",
            described.join(", ")
        ),
        Some(name),
    )
}

fn reg_by_name(name: &str) -> Register {
    match name {
        "ebx" => Register::EBX,
        "ecx" => Register::ECX,
        "edx" => Register::EDX,
        "esi" => Register::ESI,
        _ => Register::EDI,
    }
}

/// The plain-language note for a non-syscall instruction, from the state before it.
fn note_for(insn: &Instruction, state: &State) -> String {
    let m = insn.mnemonic();
    if let Some((_, cond)) = CONDITIONS.iter().find(|(c, _)| *c == m) {
        return format!("if {cond}, jump to {:#010x}", insn.near_branch32());
    }
    let mut note = MNEMONICS
        .iter()
        .find(|(k, _)| *k == m)
        .map_or_else(|| format!("{m:?}").to_lowercase(), |(_, t)| t.to_string());
    let imm = (0..insn.op_count())
        .find(|&i| is_immediate(insn.op_kind(i)))
        .map(|i| insn.immediate(i) as u32);
    if let Some(v) = imm {
        if let Some((_, _, idiom)) = IDIOMS.iter().find(|(k, i, _)| *k == m && *i == v) {
            return format!("{note}: {idiom}");
        }
        if matches!(
            m,
            Mnemonic::Cmp | Mnemonic::Sub | Mnemonic::Add | Mnemonic::Push | Mnemonic::Mov
        ) {
            note.push_str(&format!(" {}", describe_const(v)));
        }
    }
    match m {
        Mnemonic::Xor | Mnemonic::Sub
            if insn.op_count() == 2
                && insn.op0_kind() == OpKind::Register
                && insn.op1_kind() == OpKind::Register
                && insn.op0_register() == insn.op1_register() =>
        {
            note = format!(
                "set {} to 0",
                format!("{:?}", insn.op0_register()).to_lowercase()
            );
        }
        Mnemonic::Pop => {
            let top = state
                .stack
                .as_ref()
                .and_then(|s| s.last().copied())
                .unwrap_or(Sym::Unknown);
            if top != Sym::Unknown {
                let reg = format!("{:?}", insn.op0_register()).to_lowercase();
                note.push_str(&format!(": {reg} = {}", top.describe()));
            }
        }
        Mnemonic::Push if insn.op0_kind() == OpKind::Register => {
            let v = state.get(insn.op0_register());
            if v != Sym::Unknown {
                note.push_str(&format!(" ({})", v.describe()));
            }
        }
        Mnemonic::Call | Mnemonic::Jmp if insn.flow_control() != FlowControl::IndirectBranch => {
            note.push_str(&format!(" to {:#010x}", insn.near_branch32()));
        }
        _ => {}
    }
    note
}

fn is_immediate(kind: OpKind) -> bool {
    matches!(
        kind,
        OpKind::Immediate8
            | OpKind::Immediate16
            | OpKind::Immediate32
            | OpKind::Immediate8to16
            | OpKind::Immediate8to32
    )
}

/// Updates `state` for the effect of `insn` (syscalls are handled by the caller).
fn step(insn: &Instruction, state: &mut State, info: &mut InstructionInfoFactory) {
    let m = insn.mnemonic();
    let op0_reg =
        (insn.op_count() > 0 && insn.op0_kind() == OpKind::Register).then(|| insn.op0_register());
    let op1_reg =
        (insn.op_count() > 1 && insn.op1_kind() == OpKind::Register).then(|| insn.op1_register());
    let op1_imm =
        (insn.op_count() > 1 && is_immediate(insn.op1_kind())).then(|| insn.immediate(1) as u32);
    let before = state.clone();

    // Registers the instruction writes lose their value unless a rule below knows it.
    for used in info.info(insn).used_registers() {
        if matches!(
            used.access(),
            OpAccess::Write | OpAccess::ReadWrite | OpAccess::CondWrite | OpAccess::ReadCondWrite
        ) {
            let r = used.register();
            if r.full_register32() == Register::ESP
                && matches!(
                    m,
                    Mnemonic::Push | Mnemonic::Pop | Mnemonic::Call | Mnemonic::Ret
                )
            {
                continue;
            }
            if r.full_register32() == Register::ESP {
                state.stack = None;
            }
            state.set(r, Sym::Unknown);
        }
    }
    if insn.rflags_modified() != 0 {
        state.zero_if_equal = None;
    }

    match (m, op0_reg, op1_reg, op1_imm) {
        (Mnemonic::Mov, Some(d), None, Some(v)) => {
            state.set(d, merge_low(before.get(d), v, reg_bits(d)))
        }
        (Mnemonic::Mov, Some(d), Some(s), None) if reg_bits(d) == 32 => {
            let v = if s == Register::ESP {
                Sym::StackPointer
            } else {
                before.get(s)
            };
            state.set(d, v)
        }
        (Mnemonic::Xor | Mnemonic::Sub, Some(d), Some(s), None) if d == s => {
            state.set(d, merge_low(before.get(d), 0, reg_bits(d)))
        }
        (Mnemonic::Add | Mnemonic::Sub, Some(d), None, Some(v)) if reg_bits(d) == 32 => {
            if let Sym::Const(x) = before.get(d) {
                let r = if m == Mnemonic::Add {
                    x.wrapping_add(v)
                } else {
                    x.wrapping_sub(v)
                };
                state.set(d, Sym::Const(r));
            }
        }
        (Mnemonic::Inc | Mnemonic::Dec, Some(d), None, None) if reg_bits(d) == 32 => {
            if let Sym::Const(x) = before.get(d) {
                let r = if m == Mnemonic::Inc {
                    x.wrapping_add(1)
                } else {
                    x.wrapping_sub(1)
                };
                state.set(d, Sym::Const(r));
            }
        }
        (Mnemonic::Xchg, Some(a), Some(b), None) => {
            state.set(a, before.get(b));
            state.set(b, before.get(a));
        }
        (Mnemonic::Cdq, ..) => match before.get(Register::EAX) {
            Sym::Const(x) => state.set(
                Register::EDX,
                Sym::Const(if (x as i32) < 0 { u32::MAX } else { 0 }),
            ),
            // A file descriptor from a successful open is never negative.
            Sym::Returned("open", _) => state.set(Register::EDX, Sym::Const(0)),
            _ => {}
        },
        (Mnemonic::Push, ..) => {
            let v = match insn.op0_kind() {
                OpKind::Register => before.get(insn.op0_register()),
                k if is_immediate(k) => Sym::Const(insn.immediate(0) as u32),
                _ => Sym::Unknown,
            };
            state.push(v);
        }
        (Mnemonic::Pop, Some(d), ..) => {
            let v = state.pop();
            state.set(d, v);
        }
        (Mnemonic::Test, Some(a), Some(b), None) if a == b => state.zero_if_equal = slot(a),
        (Mnemonic::Cmp, Some(a), None, Some(0)) => state.zero_if_equal = slot(a),
        _ => {}
    }
}

/// Disassembles from the entry point, following every branch; returns the
/// instructions by file offset.
pub fn descend(bytes: &[u8], headers: &Headers) -> BTreeMap<usize, Insn> {
    let mut found: BTreeMap<usize, Insn> = BTreeMap::new();
    let mut info = InstructionInfoFactory::new();
    let mut formatter = IntelFormatter::new();
    let mut work = vec![(headers.entry, State::at_entry())];
    while let Some((vaddr, mut state)) = work.pop() {
        let Some(offset) = headers.file_offset(vaddr) else {
            continue;
        };
        if found.contains_key(&offset) {
            continue;
        }
        let seg = headers
            .segment_at(vaddr)
            .expect("file_offset found a segment");
        let seg_end = (seg.offset + seg.filesz) as usize;
        let end = seg_end.min(bytes.len());
        let mut decoder =
            Decoder::with_ip(32, &bytes[offset..end], vaddr as u64, DecoderOptions::NONE);
        let insn = decoder.decode();
        if insn.is_invalid() {
            continue;
        }
        let mut text = String::new();
        formatter.format(&insn, &mut text);
        let next = vaddr.wrapping_add(insn.len() as u32);
        let is_syscall = insn.mnemonic() == Mnemonic::Int && insn.immediate(0) == 0x80;
        let (note, syscall) = if is_syscall {
            syscall_note(&state)
        } else {
            (note_for(&insn, &state), None)
        };
        found.insert(
            offset,
            Insn {
                offset,
                vaddr,
                bytes: bytes[offset..offset + insn.len()].to_vec(),
                text,
                note,
                syscall,
            },
        );
        if is_syscall {
            if syscall == Some("exit") {
                continue;
            }
            state.set(
                Register::EAX,
                Sym::Returned(syscall.unwrap_or("syscall"), vaddr),
            );
            work.push((next, state));
            continue;
        }
        let zero_reg = state.zero_if_equal;
        step(&insn, &mut state, &mut info);
        match insn.flow_control() {
            FlowControl::Next | FlowControl::Interrupt => work.push((next, state)),
            FlowControl::UnconditionalBranch => work.push((insn.near_branch32(), state)),
            FlowControl::ConditionalBranch => {
                // After `test r, r` / `cmp r, 0`, r is zero where "equal" holds.
                let mut taken = state.clone();
                let mut fall = state;
                if let Some(i) = zero_reg {
                    match insn.mnemonic() {
                        Mnemonic::Je => taken.regs[i] = Sym::Const(0),
                        Mnemonic::Jne => fall.regs[i] = Sym::Const(0),
                        _ => {}
                    }
                }
                work.push((insn.near_branch32(), taken));
                work.push((next, fall));
            }
            FlowControl::Call => {
                let mut callee = state.clone();
                callee.push(Sym::Unknown);
                work.push((insn.near_branch32(), callee));
                state.set(Register::EAX, Sym::Unknown);
                work.push((next, state));
            }
            FlowControl::IndirectCall => {
                state.set(Register::EAX, Sym::Unknown);
                work.push((next, state));
            }
            _ => {}
        }
    }
    found
}
