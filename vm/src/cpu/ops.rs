//! The op list: every instruction the interpreter supports, declared once.
//!
//! Two tables, each a macro invocation that generates the code around it:
//!
//! 1. [`Kind`] — one row per instruction kind: the iced-x86 mnemonics it covers, the
//!    selector that picks its handler for the operand form at hand (in
//!    [`super::decode::select`]), the flags it writes and leaves undefined, the memory it
//!    stores to, and whether it ends a block. From it come `Kind` itself, the decoder's
//!    mnemonic → kind map, [`select`] (handler selection), and what [`Insn::stores`]
//!    and a translator read.
//! 2. [`Form`] — the fast forms: one row per operand form of a kind with a call-free fast
//!    path ([`super::exec::fast`]), its operand shapes and its part. From it come `Form`,
//!    [`form_of`], [`single_handler`] and the parts [`PATTERNS`] is built from; the
//!    fused sequences themselves are listed at the end.
//!
//! Adding an instruction: a row in the first table, a selector in `decode/select/` and a
//! handler in `exec/`; adding a fast path: a part in `exec/fast.rs` and a row in the
//! second table. `tests/cpu_op_list.rs` checks the declared flags against iced-x86's
//! tables and the store ranges against what the interpreter writes.
//!
//! Flags follow the Intel SDM's "Flags Affected": `writes` are the arithmetic flags and DF
//! the instruction may change, `undefined` those of them it leaves undefined (for
//! count-dependent shifts: undefined for some count).

use iced_x86::Mnemonic;

use super::decode::select;
use super::exec::arith::{self, Adc, Add, Cmp, Dec, Inc, Neg, Sbb, Sub};
use super::exec::bit::{Bt, Btc, Btr, Bts};
use super::exec::fast::{self, seq, single, AluReg, Done, JccEnd, Then};
use super::exec::logic::{self, And, Not, Or, Test};
use super::exec::shift::{Rcl, Rcr, Rol, Ror, Sar, Shl, Shr};
use super::flags::bit::{AF, ARITH, CF, DF, OF, PF, SF, ZF};
use super::insn::{Insn, Operand};
use super::op::{Handler, Op};
use super::FaultKind;

/// What memory an instruction stores to (see [`Insn::stores`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stores {
    Nothing,
    /// Operand 0, when it is memory.
    Dest,
    /// Whichever operand is memory (`xchg`).
    EitherMem,
    /// Operand 0 when it is memory, its address taken after ESP moved up (`pop m`).
    PopDest,
    /// One operand-size slot below ESP (`push`, `pushf`, `call`).
    Push,
    /// Eight operand-size slots below ESP (`pusha`).
    PushAll,
    /// `enter`: EBP and the nesting level's frame pointers below ESP.
    Enter,
    /// The bit's unit of a memory operand 0 (`bts`/`btr`/`btc`; a register bit offset
    /// reaches outside the operand).
    BitDest,
    /// Each iteration's `es:[edi]` (`movs`, `stos`).
    StringDest,
}

const NONE: u32 = 0;
const OSZAP: u32 = OF | SF | ZF | AF | PF;
const SZAP: u32 = SF | ZF | AF | PF;
const OSAP: u32 = OF | SF | AF | PF;
const OSAPC: u32 = OF | SF | AF | PF | CF;
const SZAPC: u32 = SF | ZF | AF | PF | CF;
const OFCF: u32 = OF | CF;

macro_rules! op_list {
    ($(
        $(#[$doc:meta])*
        $kind:ident [$($mn:ident)|+] => $select:expr,
            writes $w:expr, undefined $u:expr, stores $st:ident $(, $ends:ident)?;
    )*) => {
        /// What a decoded instruction does, one variant per row of the op list.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Kind {
            $($(#[$doc])* $kind,)*
        }

        impl Kind {
            /// Every kind, in list order.
            pub const ALL: &'static [Kind] = &[$(Kind::$kind,)*];

            /// The kind of an iced-x86 mnemonic, if it is in the list.
            pub(crate) fn of(m: Mnemonic) -> Option<Kind> {
                match m {
                    $($(Mnemonic::$mn)|+ => Some(Kind::$kind),)*
                    _ => None,
                }
            }

            /// Its name in the list.
            pub fn name(self) -> &'static str {
                match self {
                    $(Kind::$kind => stringify!($kind),)*
                }
            }

            /// EFLAGS bits it may write (arithmetic flags and DF).
            pub fn flags_written(self) -> u32 {
                match self {
                    $(Kind::$kind => $w,)*
                }
            }

            /// EFLAGS bits it leaves undefined (a subset of [`Kind::flags_written`]).
            pub fn flags_undefined(self) -> u32 {
                match self {
                    $(Kind::$kind => $u,)*
                }
            }

            /// What memory it stores to.
            pub fn stores(self) -> Stores {
                match self {
                    $(Kind::$kind => Stores::$st,)*
                }
            }

            /// Whether it ends a basic block.
            pub fn ends_block(self) -> bool {
                match self {
                    $(Kind::$kind => op_list!(@ends $($ends)?),)*
                }
            }
        }

        /// The interpreter's handler for `insn`, with `op`'s operand slots filled in for
        /// it; or the fault the instruction raises.
        pub(super) fn select(insn: &Insn, op: &mut Op) -> Result<Handler, FaultKind> {
            match insn.kind {
                $(Kind::$kind => ($select)(insn, op),)*
            }
        }
    };
    (@ends ends) => { true };
    (@ends) => { false };
}

op_list! {
    // Arithmetic and logic.
    Add [Add] => select::alu::<Add>, writes ARITH, undefined NONE, stores Dest;
    Adc [Adc] => select::alu::<Adc>, writes ARITH, undefined NONE, stores Dest;
    Sub [Sub] => select::alu::<Sub>, writes ARITH, undefined NONE, stores Dest;
    Sbb [Sbb] => select::alu::<Sbb>, writes ARITH, undefined NONE, stores Dest;
    Cmp [Cmp] => select::alu::<Cmp>, writes ARITH, undefined NONE, stores Nothing;
    And [And] => select::alu::<And>, writes ARITH, undefined AF, stores Dest;
    Or [Or] => select::alu::<Or>, writes ARITH, undefined AF, stores Dest;
    /// `xor r32, r32` of one register is its own handler (zeroing).
    Xor [Xor] => select::xor, writes ARITH, undefined AF, stores Dest;
    Test [Test] => select::alu::<Test>, writes ARITH, undefined AF, stores Nothing;
    Inc [Inc] => select::unary::<Inc>, writes OSZAP, undefined NONE, stores Dest;
    Dec [Dec] => select::unary::<Dec>, writes OSZAP, undefined NONE, stores Dest;
    Neg [Neg] => select::unary::<Neg>, writes ARITH, undefined NONE, stores Dest;
    Not [Not] => select::unary::<Not>, writes NONE, undefined NONE, stores Dest;
    Mul [Mul] => select::mul, writes ARITH, undefined SZAP, stores Nothing;
    /// One, two or three operands.
    Imul [Imul] => select::imul, writes ARITH, undefined SZAP, stores Nothing;
    Div [Div] => select::div, writes ARITH, undefined ARITH, stores Nothing;
    Idiv [Idiv] => select::idiv, writes ARITH, undefined ARITH, stores Nothing;
    Shl [Shl | Sal] => select::shift::<Shl>, writes ARITH, undefined OF | AF, stores Dest;
    Shr [Shr] => select::shift::<Shr>, writes ARITH, undefined OF | AF, stores Dest;
    Sar [Sar] => select::shift::<Sar>, writes ARITH, undefined OF | AF, stores Dest;
    Rol [Rol] => select::shift::<Rol>, writes OFCF, undefined OF, stores Dest;
    Ror [Ror] => select::shift::<Ror>, writes OFCF, undefined OF, stores Dest;
    Rcl [Rcl] => select::shift::<Rcl>, writes OFCF, undefined OF, stores Dest;
    Rcr [Rcr] => select::shift::<Rcr>, writes OFCF, undefined OF, stores Dest;
    Shld [Shld] => select::shxd::<true>, writes ARITH, undefined OF | AF, stores Dest;
    Shrd [Shrd] => select::shxd::<false>, writes ARITH, undefined OF | AF, stores Dest;
    Bt [Bt] => select::bit_test::<Bt>, writes OSAPC, undefined OSAP, stores Nothing;
    Bts [Bts] => select::bit_test::<Bts>, writes OSAPC, undefined OSAP, stores BitDest;
    Btr [Btr] => select::bit_test::<Btr>, writes OSAPC, undefined OSAP, stores BitDest;
    Btc [Btc] => select::bit_test::<Btc>, writes OSAPC, undefined OSAP, stores BitDest;
    Bsf [Bsf] => select::bsf::<false>, writes ARITH, undefined OSAPC, stores Nothing;
    Bsr [Bsr] => select::bsf::<true>, writes ARITH, undefined OSAPC, stores Nothing;

    // Data movement.
    Mov [Mov] => select::mov, writes NONE, undefined NONE, stores Dest;
    Movzx [Movzx] => select::extend::<true>, writes NONE, undefined NONE, stores Nothing;
    Movsx [Movsx] => select::extend::<false>, writes NONE, undefined NONE, stores Nothing;
    Lea [Lea] => select::lea, writes NONE, undefined NONE, stores Nothing;
    Xchg [Xchg] => select::xchg, writes NONE, undefined NONE, stores EitherMem;
    Cmov [Cmovo | Cmovno | Cmovb | Cmovae | Cmove | Cmovne | Cmovbe | Cmova | Cmovs
        | Cmovns | Cmovp | Cmovnp | Cmovl | Cmovge | Cmovle | Cmovg]
        => select::cmov, writes NONE, undefined NONE, stores Nothing;
    Setcc [Seto | Setno | Setb | Setae | Sete | Setne | Setbe | Seta | Sets | Setns
        | Setp | Setnp | Setl | Setge | Setle | Setg]
        => select::setcc, writes NONE, undefined NONE, stores Dest;
    Bswap [Bswap] => select::bswap, writes NONE, undefined NONE, stores Nothing;
    Xlat [Xlatb] => select::xlat, writes NONE, undefined NONE, stores Nothing;
    /// `cbw` (16-bit) / `cwde`.
    Cbw [Cbw | Cwde] => select::cbw, writes NONE, undefined NONE, stores Nothing;
    /// `cwd` (16-bit) / `cdq`.
    Cwd [Cwd | Cdq] => select::cwd, writes NONE, undefined NONE, stores Nothing;

    // Stack.
    Push [Push] => select::push, writes NONE, undefined NONE, stores Push;
    Pop [Pop] => select::pop, writes NONE, undefined NONE, stores PopDest;
    Pusha [Pusha | Pushad] => select::pusha, writes NONE, undefined NONE, stores PushAll;
    Popa [Popa | Popad] => select::popa, writes NONE, undefined NONE, stores Nothing;
    Pushf [Pushf | Pushfd] => select::pushf, writes NONE, undefined NONE, stores Push;
    Popf [Popf | Popfd] => select::popf, writes ARITH | DF, undefined NONE, stores Nothing;
    Leave [Leave] => select::leave, writes NONE, undefined NONE, stores Nothing;
    Enter [Enter] => select::enter, writes NONE, undefined NONE, stores Enter;

    // Control transfer.
    Jmp [Jmp] => select::jmp, writes NONE, undefined NONE, stores Nothing, ends;
    Jcc [Jo | Jno | Jb | Jae | Je | Jne | Jbe | Ja | Js | Jns | Jp | Jnp | Jl | Jge | Jle
        | Jg] => select::jcc, writes NONE, undefined NONE, stores Nothing, ends;
    Call [Call] => select::call, writes NONE, undefined NONE, stores Push, ends;
    Ret [Ret] => select::ret, writes NONE, undefined NONE, stores Nothing, ends;
    Loop [Loop] => select::loop_::<0>, writes NONE, undefined NONE, stores Nothing, ends;
    Loope [Loope] => select::loop_::<1>, writes NONE, undefined NONE, stores Nothing, ends;
    Loopne [Loopne] => select::loop_::<2>, writes NONE, undefined NONE, stores Nothing, ends;
    Jecxz [Jecxz] => select::jecxz, writes NONE, undefined NONE, stores Nothing, ends;
    /// `int 0x80` (any other vector faults).
    Int [Int] => select::int, writes NONE, undefined NONE, stores Nothing, ends;
    /// Always faults (SIGTRAP).
    Int3 [Int3] => select::int3, writes NONE, undefined NONE, stores Nothing;
    Into [Into] => select::into, writes NONE, undefined NONE, stores Nothing;

    // Strings (operand width from the mnemonic's b/w/d).
    Movs [Movsb | Movsw | Movsd] => select::string, writes NONE, undefined NONE, stores StringDest;
    Stos [Stosb | Stosw | Stosd] => select::string, writes NONE, undefined NONE, stores StringDest;
    Lods [Lodsb | Lodsw | Lodsd] => select::string, writes NONE, undefined NONE, stores Nothing;
    Cmps [Cmpsb | Cmpsw | Cmpsd] => select::string, writes ARITH, undefined NONE, stores Nothing;
    Scas [Scasb | Scasw | Scasd] => select::string, writes ARITH, undefined NONE, stores Nothing;

    // Flags and no-ops.
    Cld [Cld] => select::cld, writes DF, undefined NONE, stores Nothing;
    Std [Std] => select::std_, writes DF, undefined NONE, stores Nothing;
    Clc [Clc] => select::clc, writes CF, undefined NONE, stores Nothing;
    Stc [Stc] => select::stc, writes CF, undefined NONE, stores Nothing;
    Cmc [Cmc] => select::cmc, writes CF, undefined NONE, stores Nothing;
    Sahf [Sahf] => select::sahf, writes SZAPC, undefined NONE, stores Nothing;
    Lahf [Lahf] => select::lahf, writes NONE, undefined NONE, stores Nothing;
    Nop [Nop | Pause | Endbr32] => select::nop, writes NONE, undefined NONE, stores Nothing;
    /// Port I/O and interrupt-flag instructions: user mode may not run them (SIGSEGV).
    Io [Hlt | Cli | Sti | In | Out | Insb | Insw | Insd | Outsb | Outsw | Outsd]
        => select::general_protection, writes NONE, undefined NONE, stores Nothing;
}

/// The shape of one operand in a fast form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A 32-bit register.
    R32,
    /// An 8-bit register.
    R8,
    /// The register operand 0 names (`xor eax, eax`).
    SameR32,
    /// `[base+disp]` of 4 bytes.
    M32,
    /// `[base+disp]` of 1 byte.
    M8,
    /// `[base+disp]` of any size (`lea`).
    BaseDisp,
    /// An immediate.
    Imm,
    /// A near branch target.
    Rel,
}

impl Shape {
    fn fits(self, o: Operand, first: Operand) -> bool {
        match (self, o) {
            (Shape::R32, Operand::Reg(_, 4)) | (Shape::R8, Operand::Reg(_, 1)) => true,
            (Shape::SameR32, Operand::Reg(r, 4)) => first == Operand::Reg(r, 4),
            (Shape::M32, Operand::Mem(m)) => m.size == 4 && m.is_base_disp(),
            (Shape::M8, Operand::Mem(m)) => m.size == 1 && m.is_base_disp(),
            (Shape::BaseDisp, Operand::Mem(m)) => m.is_base_disp(),
            (Shape::Imm, Operand::Imm(_)) | (Shape::Rel, Operand::Rel(_)) => true,
            _ => false,
        }
    }
}

/// Whether `insn`'s operands are exactly `shapes`.
fn fits(insn: &Insn, shapes: &[Shape]) -> bool {
    insn.count as usize == shapes.len()
        && shapes
            .iter()
            .enumerate()
            .all(|(i, s)| s.fits(insn.operand(i), insn.operand(0)))
}

macro_rules! fast_forms {
    ($(
        $(#[$doc:meta])*
        $form:ident: $kind:ident($($shape:ident),*) => $role:ident $part:ty;
    )*) => {
        /// An operand form with a call-free fast path (see [`super::exec::fast`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Form {
            $($(#[$doc])* $form,)*
        }

        /// The fast form of `insn`, if it has one (first row that fits).
        pub fn form_of(insn: &Insn) -> Option<Form> {
            $(
                if insn.kind == Kind::$kind && fits(insn, &[$(Shape::$shape),*]) {
                    return Some(Form::$form);
                }
            )*
            None
        }

        /// The handler of one instruction of form `f`, where it beats the general one (a
        /// lone `setcc` or `jcc` keeps its handler specialised on the condition).
        pub fn single_handler(f: Form) -> Option<Handler> {
            match f {
                $(Form::$form => fast_forms!(@single $role $part),)*
            }
        }

        /// Each form's part, under the form's name (what [`PATTERNS`] is built from; not
        /// every form is in a sequence).
        #[allow(dead_code)]
        mod part {
            use super::*;
            $(pub type $form = $part;)*
        }
    };
    (@single alone $part:ty) => { Some(single::<$part> as Handler) };
    (@single fused $part:ty) => { None };
    (@single end $part:ty) => { None };
}

fast_forms! {
    // form: kind(operand shapes) => alone (its own handler too) / fused (only in
    // sequences) / end (only ends a sequence), and its part.
    Push: Push(R32) => alone fast::Push;
    Pop: Pop(R32) => alone fast::Pop;
    Lea: Lea(R32, BaseDisp) => alone fast::Lea;
    MovReg: Mov(R32, R32) => alone fast::MovReg;
    Load: Mov(R32, M32) => alone fast::Load;
    Store: Mov(M32, R32) => alone fast::Store;
    StoreByte: Mov(M8, R8) => alone fast::StoreByte;
    MovImm: Mov(R32, Imm) => alone fast::MovImm;
    MovzxByte: Movzx(R32, M8) => alone fast::MovzxByte;
    MovsxByte: Movsx(R32, M8) => alone fast::MovsxByte;
    MovzxReg: Movzx(R32, R8) => alone fast::MovzxReg;
    /// `xor r32, r32` of one register.
    Zero: Xor(R32, SameR32) => alone fast::Zero;
    Add: Add(R32, R32) => alone AluReg<arith::Add>;
    Sub: Sub(R32, R32) => alone AluReg<arith::Sub>;
    Cmp: Cmp(R32, R32) => alone AluReg<arith::Cmp>;
    And: And(R32, R32) => alone AluReg<logic::And>;
    Or: Or(R32, R32) => alone AluReg<logic::Or>;
    Xor: Xor(R32, R32) => alone AluReg<logic::Xor>;
    Test: Test(R32, R32) => alone AluReg<logic::Test>;
    /// Alone it keeps the handler specialised on its condition.
    Setcc: Setcc(R8) => fused fast::Setcc;
    /// A conditional jump: only ever the end of a fused run.
    Jcc: Jcc(Rel) => end JccEnd;
}

macro_rules! then {
    (; $end:ty) => { $end };
    ($a:ty $(, $rest:ty)*; $end:ty) => { Then<$a, then!($($rest),*; $end)> };
}

macro_rules! patterns {
    ($($($form:ident)-+ $(=> $end:ident)?;)*) => {
        /// The fused sequences, longest first where they share a start: the forms and
        /// the handler. Chosen from the chain's most frequent instruction sequences
        /// (execution-weighted, on the M1 and M2 steps): M2-Planet's and cc_x86's code
        /// generators emit the same few idioms everywhere.
        pub const PATTERNS: &[(&[Form], Handler)] = &[
            $((
                &[$(Form::$form,)+ $(patterns!(@end $end))?],
                seq::<then!($(part::$form),+; patterns!(@tail $($end)?))> as Handler,
            ),)*
        ];
    };
    (@end Jcc) => { Form::Jcc };
    (@tail Jcc) => { JccEnd };
    (@tail) => { Done };
}

patterns! {
    // Compare and branch: `[pop ebx;] cmp ebx,eax; setcc al; movzx eax,al; test eax,eax; je`.
    Pop-Cmp-Setcc-MovzxReg-Test => Jcc;
    Cmp-Setcc-MovzxReg-Test => Jcc;
    MovzxReg-Test => Jcc;
    Test => Jcc;
    Cmp => Jcc;
    Pop-Cmp-Setcc-MovzxReg;
    Cmp-Setcc-MovzxReg;
    // Locals and globals: `lea eax,[ebp-N]; mov eax,[eax]`, `mov eax,&G; mov eax,[eax]`.
    Push-Lea-Load;
    Lea-Load-Push;
    Lea-Load-Pop;
    Lea-Load;
    Lea-MovsxByte;
    Lea-Push;
    MovImm-Load;
    // Operands through the stack: `push eax; mov eax,N; pop ebx; add eax,ebx`...
    Push-MovImm-Pop;
    Push-MovImm;
    Push-Lea;
    Push-Zero;
    Push-Push;
    Load-Push;
    Load-Pop;
    Load-MovImm;
    MovImm-Pop;
    MovImm-Push;
    MovImm-Add;
    Zero-Push;
    Zero-Pop;
    Pop-Add;
    Pop-Sub-MovReg;
    Pop-Store;
    Pop-StoreByte;
    Pop-Pop;
    Add-Push;
    Add-Pop;
    Add-Load;
    Add-MovsxByte;
    MovReg-Pop;
}

/// The fused handler for the sequence starting at `forms[0]`, if one is listed in
/// [`PATTERNS`]: the handler and how many instructions it covers.
pub fn fused_handler(forms: &[Option<Form>]) -> Option<(Handler, usize)> {
    PATTERNS.iter().find_map(|&(pattern, handler)| {
        let matches =
            pattern.len() <= forms.len() && pattern.iter().zip(forms).all(|(p, f)| Some(*p) == *f);
        matches.then_some((handler, pattern.len()))
    })
}
