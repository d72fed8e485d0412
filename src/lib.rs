//! Support for the workspace-level tests and benches: writes minimal i386 ELF executables
//! around machine code the tests assemble themselves.

/// Guest address where [`minimal_elf`] loads its single segment.
pub const BASE: u32 = 0x0804_8000;
const HEADERS: u32 = 52 + 32;

/// Address of the first code byte in an executable made by [`minimal_elf`].
pub const ENTRY: u32 = BASE + HEADERS;

/// Wraps `code` (assembled to run at [`ENTRY`]) in a static ELF32 i386 executable with one
/// RWX PT_LOAD segment of `code.len() + bss` bytes in memory, the way stage0's binaries look.
pub fn minimal_elf(code: &[u8], bss: u32) -> Vec<u8> {
    let filesz = HEADERS + code.len() as u32;
    let mut f = Vec::with_capacity(filesz as usize);
    f.extend_from_slice(&[0x7f, b'E', b'L', b'F', 1, 1, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0]);
    f.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    f.extend_from_slice(&3u16.to_le_bytes()); // EM_386
    f.extend_from_slice(&1u32.to_le_bytes()); // EV_CURRENT
    f.extend_from_slice(&ENTRY.to_le_bytes());
    f.extend_from_slice(&52u32.to_le_bytes()); // e_phoff
    f.extend_from_slice(&0u32.to_le_bytes()); // e_shoff
    f.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    for v in [52u16, 32, 1, 40, 0, 0] {
        f.extend_from_slice(&v.to_le_bytes()); // ehsize phentsize phnum shentsize shnum shstrndx
    }
    for v in [1u32, 0, BASE, BASE, filesz, filesz + bss, 7, 0x1000] {
        f.extend_from_slice(&v.to_le_bytes()); // PT_LOAD offset vaddr paddr filesz memsz RWX align
    }
    f.extend_from_slice(code);
    f
}
