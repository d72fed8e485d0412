//! Tables behind the explanations: ELF field names, i386 Linux syscalls,
//! open(2) flags, conditional jumps and a few idioms. No logic lives here.

use iced_x86::Mnemonic;

/// One field of a fixed-layout header: offset within the header, size, name, what it is.
pub type FieldSpec = (usize, usize, &'static str, &'static str);

/// The ELF32 file header.
pub const ELF_HEADER: [FieldSpec; 18] = [
    (0, 4, "e_ident[EI_MAG0..3]", "magic number 7F 'E' 'L' 'F'"),
    (4, 1, "e_ident[EI_CLASS]", "1 = 32-bit objects"),
    (5, 1, "e_ident[EI_DATA]", "1 = little-endian"),
    (6, 1, "e_ident[EI_VERSION]", "1 = original ELF version"),
    (
        7,
        1,
        "e_ident[EI_OSABI]",
        "target ABI (0 System V, 3 Linux)",
    ),
    (
        8,
        1,
        "e_ident[EI_ABIVERSION]",
        "ABI version (ignored by Linux)",
    ),
    (9, 7, "e_ident[EI_PAD]", "padding"),
    (16, 2, "e_type", "2 = executable file"),
    (18, 2, "e_machine", "3 = Intel 80386"),
    (20, 4, "e_version", "1 = original ELF version"),
    (24, 4, "e_entry", "virtual address where execution starts"),
    (28, 4, "e_phoff", "file offset of the program header table"),
    (
        32,
        4,
        "e_shoff",
        "file offset of section headers (0 = none)",
    ),
    (36, 4, "e_flags", "processor flags (none on i386)"),
    (40, 2, "e_ehsize", "size of this header"),
    (42, 2, "e_phentsize", "size of one program header"),
    (44, 2, "e_phnum", "number of program headers"),
    (46, 2, "e_shentsize", "size of one section header"),
];

/// The last two ELF header fields (kept apart so the array above stays readable).
pub const ELF_HEADER_TAIL: [FieldSpec; 2] = [
    (48, 2, "e_shnum", "number of section headers"),
    (50, 2, "e_shstrndx", "index of the section-name section"),
];

/// One ELF32 program header.
pub const PROGRAM_HEADER: [FieldSpec; 8] = [
    (
        0,
        4,
        "p_type",
        "segment type (1 = PT_LOAD: map into memory)",
    ),
    (4, 4, "p_offset", "file offset of the segment's first byte"),
    (8, 4, "p_vaddr", "virtual address of that byte"),
    (12, 4, "p_paddr", "physical address (ignored)"),
    (16, 4, "p_filesz", "bytes taken from the file"),
    (20, 4, "p_memsz", "bytes in memory (beyond filesz: zeroed)"),
    (24, 4, "p_flags", "permissions: 1 = X, 2 = W, 4 = R"),
    (28, 4, "p_align", "alignment"),
];

/// An i386 Linux system call: number, name, argument names (ebx, ecx, edx, ...), purpose.
pub type SyscallSpec = (u32, &'static str, &'static [&'static str], &'static str);

/// The system calls the stage0 programs use (and a few neighbours).
pub const SYSCALLS: [SyscallSpec; 16] = [
    (1, "exit", &["status"], "end the process"),
    (2, "fork", &[], "start a child process"),
    (
        3,
        "read",
        &["fd", "buf", "count"],
        "read bytes from a file into memory",
    ),
    (
        4,
        "write",
        &["fd", "buf", "count"],
        "write bytes from memory to a file",
    ),
    (
        5,
        "open",
        &["path", "flags", "mode"],
        "open a file; the new file descriptor comes back in eax",
    ),
    (6, "close", &["fd"], "close a file descriptor"),
    (
        7,
        "waitpid",
        &["pid", "status", "options"],
        "wait for a child process",
    ),
    (10, "unlink", &["path"], "delete a file"),
    (
        11,
        "execve",
        &["path", "argv", "envp"],
        "replace this program with another",
    ),
    (12, "chdir", &["path"], "change the working directory"),
    (15, "chmod", &["path", "mode"], "change file permissions"),
    (
        19,
        "lseek",
        &["fd", "offset", "whence"],
        "move the file position (0 = from the start)",
    ),
    (
        33,
        "access",
        &["path", "mode"],
        "check whether a file can be accessed",
    ),
    (
        45,
        "brk",
        &["addr"],
        "move the end of the heap (0 = ask where it is)",
    ),
    (90, "mmap", &["args"], "map memory"),
    (91, "munmap", &["addr", "len"], "unmap memory"),
];

/// Registers that carry syscall arguments, in order.
pub const SYSCALL_ARG_REGISTERS: [&str; 5] = ["ebx", "ecx", "edx", "esi", "edi"];

/// open(2) flag bits (O_RDONLY is the absence of both access bits).
pub const OPEN_FLAGS: [(u32, &str); 5] = [
    (0x1, "O_WRONLY"),
    (0x2, "O_RDWR"),
    (0x40, "O_CREAT"),
    (0x200, "O_TRUNC"),
    (0x400, "O_APPEND"),
];

/// Conditional jumps: what they test, in words.
pub const CONDITIONS: [(Mnemonic, &str); 14] = [
    (Mnemonic::Je, "equal / zero"),
    (Mnemonic::Jne, "not equal / non-zero"),
    (Mnemonic::Jb, "below (unsigned <)"),
    (Mnemonic::Jae, "above or equal (unsigned >=)"),
    (Mnemonic::Jbe, "below or equal (unsigned <=)"),
    (Mnemonic::Ja, "above (unsigned >)"),
    (Mnemonic::Jl, "less (signed <)"),
    (Mnemonic::Jge, "greater or equal (signed >=)"),
    (Mnemonic::Jle, "less or equal (signed <=)"),
    (Mnemonic::Jg, "greater (signed >)"),
    (Mnemonic::Js, "negative"),
    (Mnemonic::Jns, "not negative"),
    (Mnemonic::Jo, "overflow"),
    (Mnemonic::Jno, "no overflow"),
];

/// What common instructions do, in words (the operands are shown beside it).
pub const MNEMONICS: [(Mnemonic, &str); 24] = [
    (Mnemonic::Mov, "copy"),
    (Mnemonic::Movzx, "copy with zero extension"),
    (Mnemonic::Lea, "compute an address"),
    (Mnemonic::Xchg, "swap"),
    (Mnemonic::Push, "push onto the stack"),
    (Mnemonic::Pop, "pop from the stack"),
    (Mnemonic::Add, "add"),
    (Mnemonic::Sub, "subtract"),
    (Mnemonic::Inc, "add one"),
    (Mnemonic::Dec, "subtract one"),
    (Mnemonic::Neg, "negate (flip the sign)"),
    (Mnemonic::Not, "invert every bit"),
    (Mnemonic::And, "bitwise and"),
    (Mnemonic::Or, "bitwise or"),
    (Mnemonic::Xor, "bitwise exclusive or"),
    (Mnemonic::Shl, "shift left"),
    (Mnemonic::Shr, "shift right"),
    (Mnemonic::Cmp, "compare (subtract, keep only the flags)"),
    (Mnemonic::Test, "test bits (and, keep only the flags)"),
    (Mnemonic::Cdq, "sign-extend eax into edx"),
    (Mnemonic::Call, "call a subroutine"),
    (Mnemonic::Ret, "return from a subroutine"),
    (Mnemonic::Jmp, "jump"),
    (
        Mnemonic::Int,
        "software interrupt (int 0x80 = Linux system call)",
    ),
];

/// Instruction + immediate pairs with a well-known purpose in hex-reading code.
pub const IDIOMS: [(Mnemonic, u32, &str); 5] = [
    (
        Mnemonic::Shl,
        4,
        "multiply by 16: make room for the next hex digit",
    ),
    (
        Mnemonic::And,
        0xDF,
        "clear bit 5: folds lower-case letters onto upper case",
    ),
    (
        Mnemonic::Sub,
        0x30,
        "subtract '0': ASCII digit to its value",
    ),
    (
        Mnemonic::Sub,
        7,
        "close the gap between '9' and 'A' in ASCII",
    ),
    (Mnemonic::Add, 10, "hex letters A-F count from 10"),
];

/// Names for control characters that appear as immediates.
pub const CHAR_NAMES: [(u32, &str); 4] = [(9, "'\\t'"), (10, "'\\n'"), (13, "'\\r'"), (32, "' '")];
