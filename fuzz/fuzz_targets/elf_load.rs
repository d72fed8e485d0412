//! The ELF loader on arbitrary bytes: a clear error or a loaded image with a stack, never a
//! panic, and never more memory than the load size said. Like the kernel, which refuses an
//! image whose load size passes the memory limit before loading it, images over 64 MiB are
//! only sized.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vm::{elf, GuestMemory, PAGE_SIZE};

fuzz_target!(|data: &[u8]| {
    let size = elf::load_size(data);
    if size > 64 << 20 {
        return;
    }
    let mut mem = GuestMemory::new();
    if let Ok(image) = elf::load(data, &mut mem) {
        assert!(
            mem.mapped_pages() as u64 * PAGE_SIZE as u64 <= size.max(PAGE_SIZE as u64),
            "loaded {} pages, load_size said {size} bytes",
            mem.mapped_pages()
        );
        let _ = elf::setup_stack(&mut mem, &image, b"/p", &[b"/p".to_vec()], &[b"K=V".to_vec()]);
    }
});
