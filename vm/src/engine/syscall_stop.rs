//! What an engine must know about a syscall stop, asked of the OS.
//!
//! An engine that keeps its own copy of guest memory (unicorn) must hand the kernel the
//! bytes its syscall handler will read, and a cross-check must compare everything when the
//! image is copied, replaced or ends. Which syscall does what is the OS's knowledge (its
//! descriptions, the `syscalls` module's table): engines only see this interface, implemented
//! there, so they never name a syscall.

/// Guest memory the OS reads to serve a syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestInput {
    /// `len` bytes at `addr` (the buffer of `write`).
    Bytes { addr: u32, len: u32 },
    /// A NUL-terminated string at `addr`, at most `max` bytes with its NUL (a path).
    CStr { addr: u32, max: u32 },
}

/// What a syscall does to the process image as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImageChange {
    /// Nothing beyond its buffers.
    #[default]
    None,
    /// Maps or unmaps pages (the break).
    Remaps,
    /// Copies the whole image (fork): the OS reads every page.
    Copies,
    /// Replaces the image (execve): the OS reads the arguments, then drops every page.
    Replaces,
    /// Ends the process (exit).
    Ends,
}

impl ImageChange {
    /// Whether the OS reads (or drops) the whole memory, so every page must be current.
    pub fn reads_everything(self) -> bool {
        matches!(self, ImageChange::Copies | ImageChange::Replaces)
    }

    /// Whether the memory changes wholesale or ends here: the last moment to compare all of it.
    pub fn last_look(self) -> bool {
        matches!(
            self,
            ImageChange::Copies | ImageChange::Replaces | ImageChange::Ends
        )
    }
}

/// What the OS will do with guest memory at one syscall stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyscallMemory {
    /// The guest memory the handler reads (at most one range per argument).
    pub inputs: [Option<GuestInput>; 6],
    /// What it does to the image as a whole.
    pub image: ImageChange,
}

impl SyscallMemory {
    /// When nothing is known about the syscall: everything is read and must be compared.
    pub const UNKNOWN: SyscallMemory = SyscallMemory {
        inputs: [None; 6],
        image: ImageChange::Copies,
    };

    /// The ranges the handler reads.
    pub fn inputs(&self) -> impl Iterator<Item = GuestInput> + '_ {
        self.inputs.iter().flatten().copied()
    }
}

/// The OS's answer to "what happens to guest memory at this syscall stop", from the
/// registers as the engine left them (the calling convention is the OS's business).
pub trait SyscallAbi {
    /// What the syscall the registers describe reads and does to the image.
    fn memory_use(&self, regs: &[u32; 8]) -> SyscallMemory;
}
