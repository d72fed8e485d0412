//! ELF32 i386 executable loading and the initial process stack.
//!
//! Only static executables are accepted: one or more PT_LOAD segments, no interpreter, no
//! dynamic section. Headers are parsed field by field (goblin's header and program-header
//! parsers, not its full `Elf::parse`), because stage0's seeds overlap their program header
//! with the ELF header and carry no section headers at all.

use goblin::container::{Container, Ctx, Endian};
use goblin::elf::header::{self, Header};
use goblin::elf::program_header::{ProgramHeader, PT_DYNAMIC, PT_INTERP, PT_LOAD};

use crate::memory::{GuestMemory, PAGE_SIZE};

/// Top of the initial stack (exclusive), as on a 32-bit x86 Linux kernel with a 3/1 split.
pub const STACK_TOP: u32 = 0xC000_0000;
/// The stack may grow down to this many bytes below [`STACK_TOP`] (Linux's default 8 MiB).
pub const STACK_LIMIT: u32 = 8 << 20;
/// Bytes of stack mapped up front; the rest is mapped on demand when the guest touches it.
pub const STACK_INITIAL: u32 = 128 << 10;
/// The 16 bytes AT_RANDOM points at: fixed, so runs are reproducible.
pub const AT_RANDOM_BYTES: [u8; 16] = *b"stage0-runner-rn";

/// Why an executable was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElfError {
    #[error("file is {0} bytes, too short for an ELF header")]
    TooShort(usize),
    #[error("not an ELF file (bad magic)")]
    BadMagic,
    #[error("64-bit ELF: only ELF32 i386 executables run here")]
    Not32Bit,
    #[error("big-endian ELF: only little-endian i386 executables run here")]
    BigEndian,
    #[error("ELF machine {0} is not i386 (EM_386 = 3)")]
    WrongMachine(u16),
    #[error("ELF OS/ABI {0} is not SYSV (0) or GNU/Linux (3)")]
    WrongOsAbi(u8),
    #[error("ELF type {0} is not an executable (ET_EXEC = 2)")]
    NotExecutable(u16),
    #[error("dynamically linked (has {0}): only static executables run here")]
    Dynamic(&'static str),
    #[error("program header table (offset {offset:#x}, {count} entries of {size} bytes) runs past the end of the {file_len}-byte file")]
    TruncatedPhdrs {
        offset: u32,
        count: u16,
        size: u16,
        file_len: usize,
    },
    #[error("program header entry size {0} is not 32")]
    BadPhentsize(u16),
    #[error("no PT_LOAD segment")]
    NoLoad,
    #[error(
        "PT_LOAD #{index} at {vaddr:#x}: file size {filesz:#x} exceeds memory size {memsz:#x}"
    )]
    FileszOverMemsz {
        index: usize,
        vaddr: u32,
        filesz: u32,
        memsz: u32,
    },
    #[error("PT_LOAD #{index} at {vaddr:#x} with size {memsz:#x} does not fit below the stack at {limit:#x}")]
    SegmentOutOfRange {
        index: usize,
        vaddr: u32,
        memsz: u32,
        limit: u32,
    },
    #[error("malformed ELF header: {0}")]
    Malformed(String),
}

/// What the loader placed in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedImage {
    /// Entry point (e_entry).
    pub entry: u32,
    /// Initial program break: the end of the highest segment, rounded up to a page as Linux does.
    pub brk: u32,
    /// Guest address of the program headers, when a segment maps them (for AT_PHDR).
    pub phdr_addr: u32,
    /// Number of program headers.
    pub phnum: u16,
}

/// Checks the identification and header fields; returns the parsed header.
pub fn check_header(bytes: &[u8]) -> Result<Header, ElfError> {
    if bytes.len() < header::header32::SIZEOF_EHDR {
        if bytes.len() >= 4 && &bytes[..4] != header::ELFMAG {
            return Err(ElfError::BadMagic);
        }
        return Err(ElfError::TooShort(bytes.len()));
    }
    if &bytes[..4] != header::ELFMAG {
        return Err(ElfError::BadMagic);
    }
    if bytes[header::EI_CLASS] != header::ELFCLASS32 {
        return Err(ElfError::Not32Bit);
    }
    if bytes[header::EI_DATA] != header::ELFDATA2LSB {
        return Err(ElfError::BigEndian);
    }
    let osabi = bytes[header::EI_OSABI];
    if osabi != 0 && osabi != 3 {
        return Err(ElfError::WrongOsAbi(osabi));
    }
    let h =
        goblin::elf::Elf::parse_header(bytes).map_err(|e| ElfError::Malformed(e.to_string()))?;
    if h.e_machine != header::EM_386 {
        return Err(ElfError::WrongMachine(h.e_machine));
    }
    if h.e_type != header::ET_EXEC {
        return Err(ElfError::NotExecutable(h.e_type));
    }
    Ok(h)
}

/// Loads a static ELF32 i386 executable into `mem` (which should be empty).
/// Bytes of guest memory loading `bytes` would map (whole pages of every PT_LOAD segment,
/// at most the 3 GiB below the stack), so a memory limit can refuse an image before any of
/// it is allocated. An image [`load`] would reject may give any size.
pub fn load_size(bytes: &[u8]) -> u64 {
    let Ok(h) = check_header(bytes) else { return 0 };
    let ctx = Ctx::new(Container::Little, Endian::Little);
    let Ok(phdrs) = ProgramHeader::parse(bytes, h.e_phoff as usize, h.e_phnum as usize, ctx) else {
        return 0;
    };
    let page = PAGE_SIZE as u64;
    phdrs
        .iter()
        .filter(|p| p.p_type == PT_LOAD)
        .map(|p| {
            let start = (p.p_vaddr as u32 as u64) & !(page - 1);
            let end = (p.p_vaddr as u32 as u64 + p.p_memsz as u32 as u64).div_ceil(page) * page;
            end.saturating_sub(start).min(STACK_TOP as u64)
        })
        .sum::<u64>()
        .min(STACK_TOP as u64)
}

pub fn load(bytes: &[u8], mem: &mut GuestMemory) -> Result<LoadedImage, ElfError> {
    let h = check_header(bytes)?;
    if h.e_phentsize != 32 {
        return Err(ElfError::BadPhentsize(h.e_phentsize));
    }
    let table_end = h.e_phoff as usize + h.e_phnum as usize * 32;
    if table_end > bytes.len() {
        return Err(ElfError::TruncatedPhdrs {
            offset: h.e_phoff as u32,
            count: h.e_phnum,
            size: h.e_phentsize,
            file_len: bytes.len(),
        });
    }
    let ctx = Ctx::new(Container::Little, Endian::Little);
    let phdrs = ProgramHeader::parse(bytes, h.e_phoff as usize, h.e_phnum as usize, ctx)
        .map_err(|e| ElfError::Malformed(e.to_string()))?;
    if let Some(p) = phdrs
        .iter()
        .find(|p| p.p_type == PT_INTERP || p.p_type == PT_DYNAMIC)
    {
        return Err(ElfError::Dynamic(if p.p_type == PT_INTERP {
            "PT_INTERP"
        } else {
            "PT_DYNAMIC"
        }));
    }
    let loads: Vec<&ProgramHeader> = phdrs.iter().filter(|p| p.p_type == PT_LOAD).collect();
    if loads.is_empty() {
        return Err(ElfError::NoLoad);
    }
    let limit = STACK_TOP - STACK_LIMIT;
    let mut end = 0u32;
    let mut phdr_addr = 0u32;
    for (index, p) in loads.iter().enumerate() {
        let (vaddr, memsz, filesz, offset) = (
            p.p_vaddr as u32,
            p.p_memsz as u32,
            p.p_filesz as u32,
            p.p_offset as u32,
        );
        if filesz > memsz {
            return Err(ElfError::FileszOverMemsz {
                index,
                vaddr,
                filesz,
                memsz,
            });
        }
        let seg_end = vaddr as u64 + memsz as u64;
        if seg_end > limit as u64 {
            return Err(ElfError::SegmentOutOfRange {
                index,
                vaddr,
                memsz,
                limit,
            });
        }
        // Map whole pages from the page holding vaddr, as mmap would.
        mem.map(vaddr & !(PAGE_SIZE - 1), memsz + (vaddr & (PAGE_SIZE - 1)));
        // A segment may declare more file bytes than the file holds (hex2-0 does): the
        // missing tail reads as zeros, like the memory size's bss.
        let avail = bytes
            .len()
            .saturating_sub(offset as usize)
            .min(filesz as usize);
        if avail > 0 {
            let src = &bytes[offset as usize..offset as usize + avail];
            mem.write_bytes(vaddr, src)
                .expect("segment pages were just mapped");
        }
        if h.e_phoff >= offset as u64 && table_end as u64 <= offset as u64 + filesz as u64 {
            phdr_addr = vaddr + (h.e_phoff as u32 - offset);
        }
        end = end.max(seg_end as u32);
    }
    Ok(LoadedImage {
        entry: h.e_entry as u32,
        brk: end.div_ceil(PAGE_SIZE) * PAGE_SIZE,
        phdr_addr,
        phnum: h.e_phnum,
    })
}

// auxv keys (linux/auxvec.h).
const AT_NULL: u32 = 0;
const AT_PHDR: u32 = 3;
const AT_PHENT: u32 = 4;
const AT_PHNUM: u32 = 5;
const AT_PAGESZ: u32 = 6;
const AT_BASE: u32 = 7;
const AT_FLAGS: u32 = 8;
const AT_ENTRY: u32 = 9;
const AT_UID: u32 = 11;
const AT_EUID: u32 = 12;
const AT_GID: u32 = 13;
const AT_EGID: u32 = 14;
const AT_PLATFORM: u32 = 15;
const AT_CLKTCK: u32 = 17;
const AT_SECURE: u32 = 23;
const AT_RANDOM: u32 = 25;
const AT_EXECFN: u32 = 31;

/// Maps the stack and lays out `argc, argv[], NULL, envp[], NULL, auxv` as the i386 SysV ABI
/// and Linux's `create_elf_tables` do. Returns the initial esp (pointing at argc).
pub fn setup_stack(
    mem: &mut GuestMemory,
    image: &LoadedImage,
    execfn: &[u8],
    argv: &[Vec<u8>],
    envp: &[Vec<u8>],
) -> Result<u32, StackError> {
    let strings: usize =
        argv.iter().chain(envp).map(|s| s.len() + 1).sum::<usize>() + execfn.len() + 1;
    let pointers = (argv.len() + envp.len() + 3) * 4 + 18 * 8;
    // Linux bounds argv+envp by a quarter of the stack rlimit.
    if strings + pointers > (STACK_LIMIT / 4) as usize {
        return Err(StackError::TooBig(strings + pointers));
    }
    let total = (strings + pointers + 64) as u32;
    let mapped = STACK_INITIAL.max(total.div_ceil(PAGE_SIZE) * PAGE_SIZE);
    mem.map(STACK_TOP - mapped, mapped);

    let mut sp = STACK_TOP - 4; // Linux leaves a NULL word at the very top.
    let mut push_str = |mem: &mut GuestMemory, s: &[u8]| -> u32 {
        sp -= s.len() as u32 + 1;
        mem.write_bytes(sp, s).expect("stack mapped");
        mem.write_u8(sp + s.len() as u32, 0).expect("stack mapped");
        sp
    };
    let execfn_addr = push_str(mem, execfn);
    let env_addrs: Vec<u32> = envp.iter().rev().map(|s| push_str(mem, s)).collect();
    let arg_addrs: Vec<u32> = argv.iter().rev().map(|s| push_str(mem, s)).collect();
    let platform = push_str(mem, b"i686");
    sp &= !15;
    sp -= 16;
    mem.write_bytes(sp, &AT_RANDOM_BYTES).expect("stack mapped");
    let random = sp;

    let auxv: [(u32, u32); 18] = [
        (AT_PHDR, image.phdr_addr),
        (AT_PHENT, 32),
        (AT_PHNUM, image.phnum as u32),
        (AT_PAGESZ, PAGE_SIZE),
        (AT_BASE, 0),
        (AT_FLAGS, 0),
        (AT_ENTRY, image.entry),
        (AT_UID, 0),
        (AT_EUID, 0),
        (AT_GID, 0),
        (AT_EGID, 0),
        (AT_SECURE, 0),
        (AT_RANDOM, random),
        (AT_CLKTCK, 100),
        (AT_PLATFORM, platform),
        (AT_EXECFN, execfn_addr),
        (AT_NULL, 0),
        (AT_NULL, 0),
    ];
    let mut words: Vec<u32> = Vec::with_capacity(pointers / 4);
    words.push(argv.len() as u32);
    words.extend(arg_addrs.iter().rev());
    words.push(0);
    words.extend(env_addrs.iter().rev());
    words.push(0);
    for (k, v) in &auxv[..17] {
        words.push(*k);
        words.push(*v);
    }
    let size = words.len() as u32 * 4;
    sp = (sp - size) & !15;
    for (i, w) in words.iter().enumerate() {
        mem.write_u32(sp + 4 * i as u32, *w).expect("stack mapped");
    }
    Ok(sp)
}

/// The arguments and environment do not fit on the stack.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StackError {
    #[error("arguments and environment need {0} bytes, more than Linux allows (2 MiB)")]
    TooBig(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_elf(code: &[u8]) -> Vec<u8> {
        let mut f = vec![0x7f, b'E', b'L', b'F', 1, 1, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0];
        let filesz = 84 + code.len() as u32;
        for v in [2u16, 3] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        for v in [1u32, 0x0804_8054, 52, 0, 0] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        for v in [52u16, 32, 1, 40, 0, 0] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        for v in [
            1u32,
            0,
            0x0804_8000,
            0x0804_8000,
            filesz,
            filesz + 0x3000,
            7,
            0x1000,
        ] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f.extend_from_slice(code);
        f
    }

    #[test]
    fn loads_segment_bss_and_rounds_break() {
        let elf = tiny_elf(&[0x90, 0xcc]);
        let mut mem = GuestMemory::new();
        let img = load(&elf, &mut mem).unwrap();
        assert_eq!(img.entry, 0x0804_8054);
        assert_eq!(img.phdr_addr, 0x0804_8034);
        assert_eq!(mem.read_u8(0x0804_8055).unwrap(), 0xcc);
        assert_eq!(mem.read_u8(0x0804_8056).unwrap(), 0); // bss
        assert_eq!(img.brk, 0x0804_c000); // 0x08048056 + 0x3000, rounded up to a page
    }

    #[test]
    fn file_shorter_than_filesz_is_zero_filled() {
        let mut elf = tiny_elf(&[0x90; 8]);
        elf.truncate(elf.len() - 4);
        let mut mem = GuestMemory::new();
        load(&elf, &mut mem).unwrap();
        assert_eq!(mem.read_u32(0x0804_8058).unwrap(), 0);
        assert_eq!(mem.read_u32(0x0804_8054).unwrap(), 0x9090_9090);
    }

    #[test]
    fn rejects_bad_files() {
        let mut mem = GuestMemory::new();
        assert_eq!(load(b"\x7fELF", &mut mem), Err(ElfError::TooShort(4)));
        assert_eq!(load(&[0u8; 60], &mut mem), Err(ElfError::BadMagic));
        let mut e = tiny_elf(&[0x90]);
        e[4] = 2;
        assert_eq!(load(&e, &mut mem), Err(ElfError::Not32Bit));
        let mut e = tiny_elf(&[0x90]);
        e[18] = 62;
        assert_eq!(load(&e, &mut mem), Err(ElfError::WrongMachine(62)));
        let mut e = tiny_elf(&[0x90]);
        e[7] = 9;
        assert_eq!(load(&e, &mut mem), Err(ElfError::WrongOsAbi(9)));
        let mut e = tiny_elf(&[0x90]);
        e[52] = 3; // PT_INTERP
        assert_eq!(load(&e, &mut mem), Err(ElfError::Dynamic("PT_INTERP")));
        let e = tiny_elf(&[0x90]);
        assert!(matches!(
            load(&e[..70], &mut mem),
            Err(ElfError::TruncatedPhdrs { .. })
        ));
    }

    #[test]
    fn stack_layout_matches_the_abi() {
        let elf = tiny_elf(&[0x90]);
        let mut mem = GuestMemory::new();
        let img = load(&elf, &mut mem).unwrap();
        let argv = vec![b"prog".to_vec(), b"arg1".to_vec()];
        let envp = vec![b"A=B".to_vec()];
        let sp = setup_stack(&mut mem, &img, b"prog", &argv, &envp).unwrap();
        assert_eq!(sp % 16, 0);
        assert_eq!(mem.read_u32(sp).unwrap(), 2);
        let a1 = mem.read_u32(sp + 8).unwrap();
        assert_eq!(mem.read_cstr(a1, 64).unwrap(), b"arg1");
        assert_eq!(mem.read_u32(sp + 12).unwrap(), 0);
        // M2libc computes envp = esp + 4*(argc+2).
        let e0 = mem.read_u32(sp + 4 * (2 + 2)).unwrap();
        assert_eq!(mem.read_cstr(e0, 64).unwrap(), b"A=B");
        assert_eq!(mem.read_u32(sp + 20).unwrap(), 0);
        // auxv follows; find AT_PAGESZ and AT_RANDOM.
        let mut p = sp + 24;
        let mut seen = std::collections::HashMap::new();
        loop {
            let k = mem.read_u32(p).unwrap();
            let v = mem.read_u32(p + 4).unwrap();
            if k == AT_NULL {
                break;
            }
            seen.insert(k, v);
            p += 8;
        }
        assert_eq!(seen[&AT_PAGESZ], 4096);
        assert_eq!(seen[&AT_ENTRY], img.entry);
        let mut r = [0u8; 16];
        mem.read_bytes(seen[&AT_RANDOM], &mut r).unwrap();
        assert_eq!(r, AT_RANDOM_BYTES);
    }
}
