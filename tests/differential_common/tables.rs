//! What the generator draws from: instruction encodings (iced Code names, grouped) and
//! register sets.

use std::collections::HashMap;
use std::sync::OnceLock;

use iced_x86::{Code, Register};

#[rustfmt::skip]
const CC: [&str; 16] = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"];
#[rustfmt::skip]
const ALU_FORMS: [&str; 15] = [
    "rm8_r8", "rm16_r16", "rm32_r32", "r8_rm8", "r16_rm16", "r32_rm32", "AL_imm8", "AX_imm16", "EAX_imm32",
    "rm8_imm8", "rm16_imm16", "rm32_imm32", "rm16_imm8", "rm32_imm8", "rm8_imm8_82",
];
#[rustfmt::skip]
const SHIFT_FORMS: [&str; 9] = [
    "rm8_1", "rm16_1", "rm32_1", "rm8_CL", "rm16_CL", "rm32_CL", "rm8_imm8", "rm16_imm8", "rm32_imm8",
];

/// `{mnemonic}_{form}` for every pair.
fn cross(mnemonics: &[&str], forms: &[&str]) -> Vec<String> {
    mnemonics
        .iter()
        .flat_map(|m| forms.iter().map(move |f| format!("{m}_{f}")))
        .collect()
}

fn list(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// `{prefix}{cc}_{form}` for every condition code and form.
fn cc(prefix: &str, forms: &[&str]) -> Vec<String> {
    let mnemonics: Vec<String> = CC.iter().map(|c| format!("{prefix}{c}")).collect();
    cross(
        &mnemonics.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        forms,
    )
}

/// iced Code names, grouped so each group is drawn about equally often. String
/// instructions are named without operands (`Movsb`): they are made by iced's `with_*`.
#[rustfmt::skip]
fn group_names() -> Vec<Vec<String>> {
    vec![
        cross(&["Add", "Or", "Adc", "Sbb", "And", "Sub", "Xor", "Cmp"], &ALU_FORMS),
        list(&[
            "Mov_rm8_r8", "Mov_rm16_r16", "Mov_rm32_r32", "Mov_r8_rm8", "Mov_r16_rm16", "Mov_r32_rm32",
            "Mov_r8_imm8", "Mov_r16_imm16", "Mov_r32_imm32", "Mov_rm8_imm8", "Mov_rm16_imm16", "Mov_rm32_imm32",
            "Mov_AL_moffs8", "Mov_AX_moffs16", "Mov_EAX_moffs32", "Mov_moffs8_AL", "Mov_moffs16_AX", "Mov_moffs32_EAX",
        ]),
        list(&[
            "Movzx_r16_rm8", "Movzx_r32_rm8", "Movzx_r32_rm16", "Movsx_r16_rm8", "Movsx_r32_rm8", "Movsx_r32_rm16",
            "Lea_r16_m", "Lea_r32_m", "Lea_r32_m", "Bswap_r32",
        ]),
        list(&["Xchg_rm8_r8", "Xchg_rm16_r16", "Xchg_rm32_r32", "Xchg_r16_AX", "Xchg_r32_EAX"]),
        list(&[
            "Push_r16", "Push_r32", "Push_rm16", "Push_rm32", "Pushw_imm8", "Pushd_imm8", "Push_imm16", "Pushd_imm32",
            "Pop_r16", "Pop_r32", "Pop_rm16", "Pop_rm32", "Pushad", "Popad", "Pushfd", "Popfd",
        ]),
        [cc("Cmov", &["r16_rm16", "r32_rm32"]), cc("Set", &["rm8"])].concat(),
        [cross(&["Inc", "Dec", "Neg", "Not"], &["rm8", "rm16", "rm32"]), list(&["Inc_r16", "Inc_r32", "Dec_r16", "Dec_r32"])].concat(),
        [
            cross(&["Mul", "Imul"], &["rm8", "rm16", "rm32"]),
            list(&["Imul_r16_rm16", "Imul_r32_rm32", "Imul_r16_rm16_imm16", "Imul_r32_rm32_imm32", "Imul_r16_rm16_imm8", "Imul_r32_rm32_imm8"]),
        ].concat(),
        cross(&["Div", "Idiv"], &["rm8", "rm16", "rm32"]),
        list(&[
            "Cbw", "Cwde", "Cwd", "Cdq", "Cld", "Std", "Clc", "Stc", "Cmc", "Lahf", "Sahf",
            "Test_rm8_r8", "Test_rm16_r16", "Test_rm32_r32", "Test_AL_imm8", "Test_AX_imm16", "Test_EAX_imm32",
            "Test_rm8_imm8", "Test_rm16_imm16", "Test_rm32_imm32",
        ]),
        cross(&["Rol", "Ror", "Rcl", "Rcr"], &SHIFT_FORMS),
        cross(&["Shl", "Sal", "Shr", "Sar"], &SHIFT_FORMS),
        cross(&["Shld", "Shrd"], &["rm16_r16_imm8", "rm32_r32_imm8", "rm16_r16_CL", "rm32_r32_CL"]),
        [
            cross(&["Bt", "Bts", "Btr", "Btc"], &["rm16_r16", "rm32_r32", "rm16_imm8", "rm32_imm8"]),
            cross(&["Bsf", "Bsr"], &["r16_rm16", "r32_rm32"]),
        ].concat(),
        list(&[
            "Movsb", "Movsw", "Movsd", "Stosb", "Stosw", "Stosd", "Lodsb", "Lodsw", "Lodsd",
            "Cmpsb", "Cmpsw", "Cmpsd", "Scasb", "Scasw", "Scasd",
        ]),
    ]
}

/// One group: iced Code names with their Codes (None for string instructions).
pub type Group = Vec<(String, Option<Code>)>;

/// Every group, its names looked up among iced's Codes (a missing name panics: a table typo).
pub fn groups() -> &'static [Group] {
    static GROUPS: OnceLock<Vec<Group>> = OnceLock::new();
    GROUPS.get_or_init(|| {
        let by_name: HashMap<String, Code> =
            Code::values().map(|c| (format!("{c:?}"), c)).collect();
        let lookup = |name: String| {
            let code = (!is_string_op(&name)).then(|| {
                *by_name
                    .get(&name)
                    .unwrap_or_else(|| panic!("iced has no Code::{name}"))
            });
            (name, code)
        };
        group_names()
            .into_iter()
            .map(|g| g.into_iter().map(lookup).collect())
            .collect()
    })
}

/// String instructions are named by mnemonic alone (`Movsb`).
pub fn is_string_op(name: &str) -> bool {
    !name.contains('_')
        && ["Movs", "Stos", "Lods", "Cmps", "Scas"]
            .iter()
            .any(|p| name.starts_with(p))
}

#[rustfmt::skip]
pub const R8: [Register; 8] = [
    Register::AL, Register::CL, Register::DL, Register::BL, Register::AH, Register::CH, Register::DH, Register::BH,
];
#[rustfmt::skip]
pub const R16: [Register; 8] = [
    Register::AX, Register::CX, Register::DX, Register::BX, Register::SP, Register::BP, Register::SI, Register::DI,
];
#[rustfmt::skip]
pub const R32: [Register; 8] = [
    Register::EAX, Register::ECX, Register::EDX, Register::EBX, Register::ESP, Register::EBP, Register::ESI, Register::EDI,
];
/// Registers an instruction may write: never ESP/EBP (they anchor stack and data).
#[rustfmt::skip]
pub const W16: [Register; 6] = [Register::AX, Register::CX, Register::DX, Register::BX, Register::SI, Register::DI];
#[rustfmt::skip]
pub const W32: [Register; 6] = [Register::EAX, Register::ECX, Register::EDX, Register::EBX, Register::ESI, Register::EDI];
