//! Support for the workspace-level tests and benches: writes minimal i386 ELF executables
//! around machine code the tests assemble themselves.

pub mod adversary;
pub mod programs;

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

/// A `Write` whose bytes can be read back after the emulator's streams were boxed away.
#[derive(Clone, Default)]
pub struct Capture(pub std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl Capture {
    /// Everything written so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.0.borrow().clone()
    }
}

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A sandbox directory for one test, removed when dropped.
pub struct Sandbox {
    pub root: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Sandbox {
    /// A fresh, empty directory under the system temp dir, named after `name`.
    pub fn new(name: &str) -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix(&format!("stage0-test-{name}-"))
            .tempdir()
            .expect("create sandbox");
        Sandbox {
            root: dir.path().to_path_buf(),
            _dir: dir,
        }
    }

    /// Writes `bytes` at guest path `path` (relative to the root), creating directories.
    pub fn put(&self, path: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = self.root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().expect("has parent")).expect("mkdir");
        std::fs::write(&p, bytes).expect("write");
        p
    }

    /// Reads guest path `path`.
    pub fn get(&self, path: &str) -> Vec<u8> {
        std::fs::read(self.root.join(path.trim_start_matches('/'))).expect("read back")
    }
}

/// Runs guest `program` (with `argv`) in `sandbox` with captured output; returns the
/// kernel (for records and stats), the run's result and the captured stdout.
pub fn run_guest(
    sandbox: &Sandbox,
    program: &str,
    argv: &[&str],
    tune: impl FnOnce(&mut vm::Config),
) -> (vm::Kernel, Result<vm::ExitStatus, vm::RunError>, Vec<u8>) {
    let mut cfg = vm::Config::new(&sandbox.root);
    tune(&mut cfg);
    let out = Capture::default();
    let stdio = vm::Stdio {
        stdin: Box::new(std::io::empty()),
        stdout: Box::new(out.clone()),
        stderr: Box::new(out.clone()),
    };
    let mut k = vm::Kernel::new(cfg, stdio).expect("sandbox root");
    let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    k.spawn("/", program, &argv).expect("spawn");
    let r = k.run();
    let bytes = out.bytes();
    (k, r, bytes)
}
