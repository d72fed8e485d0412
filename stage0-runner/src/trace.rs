//! Instruction traces of one program image, with the source line behind each instruction.
//!
//! The trace re-runs the program from its start in a private address space, one
//! instruction at a time (`Cpu::run(mem, 1)`), so the kernel's hot loop stays untouched.
//! The hand-written stages make only a few syscalls (open, read, write, close, lseek, brk,
//! exit); those are served here from the tree, read-only: files the program writes are
//! kept in memory and dropped, so a trace never changes the tree. A syscall outside that
//! set (fork, execve...) ends the trace with a note.

use std::fmt::Write as _;
use std::path::Path;

use seed::sourcemap::{self, SourceMap};
use seed::Source;
use vm::cpu::{self, reg, Cpu, Stop};
use vm::{GuestMemory, ProcessRecord};

use crate::cmd::step::{guest_path, host_path};

/// Which instructions to show: numbers `from..to` counted from 0 at the program's entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: u64,
    pub to: u64,
}

impl Window {
    /// `N` (the first N) or `FROM..TO`.
    pub fn parse(s: &str) -> Result<Window, String> {
        let num = |t: &str| {
            t.trim()
                .parse::<u64>()
                .map_err(|_| format!("{t:?} is not a number (expected N or FROM..TO)"))
        };
        let w = match s.split_once("..") {
            Some((a, b)) => Window {
                from: num(a)?,
                to: num(b)?,
            },
            None => Window {
                from: 0,
                to: num(s)?,
            },
        };
        if w.to <= w.from {
            return Err(format!("empty range {s:?}"));
        }
        Ok(w)
    }
}

/// Hand-written programs: file name, the seed tool that builds them, and their sources
/// (relative to the tree's `x86/` directory, in the order the tool reads them).
const HAND_WRITTEN: &[(&str, &str, &[&str])] = &[
    ("hex0-seed", "hex0", &["hex0_x86.hex0"]),
    ("hex0", "hex0", &["hex0_x86.hex0"]),
    ("kaem-optional-seed", "hex0", &["kaem-minimal.hex0"]),
    ("kaem-0", "hex0", &["kaem-minimal.hex0"]),
    ("hex1", "hex0", &["hex1_x86.hex0"]),
    ("hex2-0", "hex1", &["hex2_x86.hex1"]),
    ("catm", "hex2-0", &["catm_x86.hex2"]),
    ("M0", "hex2-0", &["ELF-i386.hex2", "M0_x86.hex2"]),
    // Built by M0 from M1 assembly, then joined to the ELF header and linked by hex2-0.
    ("cc_x86", "M0", &["ELF-i386.hex2", "cc_x86.M1"]),
];

fn hand_written(
    exe: &str,
) -> Option<&'static (&'static str, &'static str, &'static [&'static str])> {
    let name = exe.rsplit('/').next().unwrap_or(exe);
    // mescc-tools-extra's catm lives in /x86/bin and is built from C.
    if exe.contains("/bin/") {
        return None;
    }
    HAND_WRITTEN.iter().find(|(n, _, _)| *n == name)
}

/// Whether `exe` is one of the hand-written programs a source map exists for.
pub fn has_source_map(exe: &str) -> bool {
    hand_written(exe).is_some()
}

/// The source map of the program at guest path `exe` in `tree`, checked against the
/// program's bytes (a map whose length differs from the file is refused).
pub fn source_map(tree: &Path, exe: &str) -> Result<SourceMap, String> {
    let (_, tool, files) = hand_written(exe).ok_or_else(|| format!("{exe} has no source map"))?;
    let mut sources = Vec::new();
    for f in files.iter() {
        let guest = format!("/x86/{f}");
        let data = std::fs::read(host_path(tree, &guest)).map_err(|e| format!("{guest}: {e}"))?;
        sources.push(Source::new(guest, data));
    }
    let map = sourcemap::for_tool(tool, sources).ok_or_else(|| format!("no map for {tool}"))?;
    let size = std::fs::metadata(host_path(tree, exe))
        .map_err(|e| format!("{exe}: {e}"))?
        .len();
    if map.len() as u64 != size {
        return Err(format!(
            "the sources give {} bytes but {exe} has {size}",
            map.len()
        ));
    }
    Ok(map)
}

/// Guest address of file offset 0 (the PT_LOAD that maps the start of the file).
pub(crate) fn load_base(elf: &[u8]) -> Option<u32> {
    let u32_at = |o: usize| Some(u32::from_le_bytes(elf.get(o..o + 4)?.try_into().ok()?));
    let u16_at = |o: usize| Some(u16::from_le_bytes(elf.get(o..o + 2)?.try_into().ok()?));
    let (phoff, phentsize, phnum) = (
        u32_at(0x1c)? as usize,
        u16_at(0x2a)? as usize,
        u16_at(0x2c)?,
    );
    (0..phnum as usize).find_map(|k| {
        let ph = phoff + k * phentsize;
        (u32_at(ph)? == 1 && u32_at(ph + 4)? == 0).then_some(u32_at(ph + 8)?)
    })
}

/// One open file of the traced program.
pub(crate) struct OpenFile {
    pub(crate) data: Vec<u8>,
    pub(crate) pos: usize,
}

/// What starting a program image takes: its guest path, arguments, environment and
/// working directory (from a kernel record or a provenance file).
pub struct Image<'a> {
    pub exe: &'a str,
    pub argv: &'a [String],
    pub env: &'a [String],
    pub cwd: &'a str,
}

impl<'a> From<&'a ProcessRecord> for Image<'a> {
    fn from(r: &'a ProcessRecord) -> Self {
        Image {
            exe: &r.exe,
            argv: &r.argv,
            env: &r.env,
            cwd: &r.cwd,
        }
    }
}

/// The traced program: CPU, memory, break and files.
pub(crate) struct Tracee {
    pub(crate) cpu: Cpu,
    pub(crate) mem: GuestMemory,
    brk: u32,
    pub(crate) files: Vec<Option<OpenFile>>,
    cwd: String,
}

/// What a syscall did to the trace.
pub(crate) enum After {
    Continue,
    End(String),
}

impl Tracee {
    /// Loads the program at guest path `p.exe` with its arguments, ready at its entry.
    pub(crate) fn start(tree: &Path, p: &Image<'_>) -> Result<(Tracee, Vec<u8>), String> {
        let bytes = std::fs::read(host_path(tree, p.exe)).map_err(|e| format!("{}: {e}", p.exe))?;
        let mut mem = GuestMemory::new();
        let image = vm::elf::load(&bytes, &mut mem).map_err(|e| format!("{}: {e}", p.exe))?;
        let argv: Vec<Vec<u8>> = p.argv.iter().map(|a| a.as_bytes().to_vec()).collect();
        let env: Vec<Vec<u8>> = p.env.iter().map(|a| a.as_bytes().to_vec()).collect();
        let esp = vm::elf::setup_stack(&mut mem, &image, p.exe.as_bytes(), &argv, &env)
            .map_err(|e| format!("{}: {e}", p.exe))?;
        let mut cpu = Cpu::new();
        cpu.eip = image.entry;
        cpu.regs[reg::ESP] = esp;
        // stdin is empty; what goes to stdout and stderr is dropped with the other writes.
        let files = (0..3)
            .map(|_| {
                Some(OpenFile {
                    data: Vec::new(),
                    pos: 0,
                })
            })
            .collect();
        let t = Tracee {
            cpu,
            mem,
            brk: image.brk,
            files,
            cwd: p.cwd.to_string(),
        };
        Ok((t, bytes))
    }

    pub(crate) fn syscall(&mut self, tree: &Path) -> After {
        let [eax, ebx, ecx, edx, ..] = [0, 3, 1, 2].map(|k| self.cpu.regs[k]);
        let ret: i64 = match eax {
            1 => return After::End(format!("the program exited with status {}", ebx & 0xff)),
            3 => self.read(ebx, ecx, edx),
            4 => self.write(ebx, ecx, edx),
            5 => self.open(tree, ebx, ecx),
            6 => match self.files.get_mut(ebx as usize) {
                Some(f @ Some(_)) => {
                    *f = None;
                    0
                }
                _ => -9,
            },
            19 => self.lseek(ebx, ecx as i32, edx),
            45 => {
                if ebx > self.brk {
                    let page = vm::PAGE_SIZE;
                    let from = self.brk.div_ceil(page) * page;
                    let to = ebx.div_ceil(page) * page;
                    if to > from {
                        self.mem.map(from, to - from);
                    }
                    self.brk = ebx;
                }
                self.brk as i64
            }
            nr => {
                return After::End(format!(
                    "the trace stops at syscall {nr}, which only the full kernel runs"
                ))
            }
        };
        self.cpu.regs[reg::EAX] = ret as u32;
        After::Continue
    }

    fn read(&mut self, fd: u32, buf: u32, n: u32) -> i64 {
        let Some(Some(f)) = self.files.get_mut(fd as usize) else {
            return -9;
        };
        let end = (f.pos + n as usize).min(f.data.len());
        let chunk = f.data.get(f.pos..end).unwrap_or(&[]).to_vec();
        if self.mem.write_bytes(buf, &chunk).is_err() {
            return -14;
        }
        f.pos += chunk.len();
        chunk.len() as i64
    }

    fn write(&mut self, fd: u32, buf: u32, n: u32) -> i64 {
        let mut data = vec![0; n as usize];
        if self.mem.read_bytes(buf, &mut data).is_err() {
            return -14;
        }
        match self.files.get_mut(fd as usize) {
            Some(Some(f)) => {
                let end = f.pos + data.len();
                if f.data.len() < end {
                    f.data.resize(end, 0);
                }
                f.data[f.pos..end].copy_from_slice(&data);
                f.pos = end;
                n as i64
            }
            _ => -9,
        }
    }

    fn open(&mut self, tree: &Path, path: u32, flags: u32) -> i64 {
        let Ok(name) = self.mem.read_cstr(path, 4096) else {
            return -14;
        };
        let guest = guest_path(&self.cwd, &String::from_utf8_lossy(&name));
        let data = if flags & 3 != 0 {
            // Written files stay in memory: O_TRUNC empties, otherwise start from the file.
            if flags & 0o1000 != 0 {
                Vec::new()
            } else {
                std::fs::read(host_path(tree, &guest)).unwrap_or_default()
            }
        } else {
            match std::fs::read(host_path(tree, &guest)) {
                Ok(d) => d,
                Err(_) => return -2,
            }
        };
        let file = Some(OpenFile { data, pos: 0 });
        match self.files.iter().position(|f| f.is_none()) {
            Some(k) => {
                self.files[k] = file;
                k as i64
            }
            None => {
                self.files.push(file);
                self.files.len() as i64 - 1
            }
        }
    }

    fn lseek(&mut self, fd: u32, off: i32, whence: u32) -> i64 {
        let Some(Some(f)) = self.files.get_mut(fd as usize) else {
            return -9;
        };
        let base = match whence {
            0 => 0,
            1 => f.pos as i64,
            2 => f.data.len() as i64,
            _ => return -22,
        };
        let pos = base + off as i64;
        if pos < 0 {
            return -22;
        }
        f.pos = pos as usize;
        pos
    }
}

pub(crate) const REG_NAMES: [&str; 8] = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];
pub(crate) const FLAG_NAMES: [(u32, &str); 7] = [
    (1 << 0, "CF"),
    (1 << 2, "PF"),
    (1 << 4, "AF"),
    (1 << 6, "ZF"),
    (1 << 7, "SF"),
    (1 << 10, "DF"),
    (1 << 11, "OF"),
];

/// One traced instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracedInsn {
    pub index: u64,
    pub eip: u32,
    pub bytes: Vec<u8>,
    pub text: String,
    /// Registers and flags that changed, as `name=value` / `+ZF` / `-CF`.
    pub changes: Vec<String>,
    /// `file:line  code  ; comment`, when the program has a source map.
    pub source: Option<String>,
}

/// Traces the instructions of `window` of the program image of record `r`; also returns
/// a note on why the trace ended early, if it did.
pub fn trace(
    tree: &Path,
    r: &ProcessRecord,
    window: Window,
) -> Result<(Vec<TracedInsn>, Option<String>), String> {
    trace_image(tree, &Image::from(r), window)
}

/// [`trace`] of a program image given by its path, arguments, environment and directory.
pub fn trace_image(
    tree: &Path,
    image: &Image<'_>,
    window: Window,
) -> Result<(Vec<TracedInsn>, Option<String>), String> {
    let (mut t, bytes) = Tracee::start(tree, image)?;
    let map = source_map(tree, image.exe).ok();
    let base = load_base(&bytes);
    let mut out = Vec::new();
    let mut index = 0u64;
    while index < window.to {
        let (regs, flags, eip) = (t.cpu.regs, t.cpu.eflags(), t.cpu.eip);
        let shown = index >= window.from;
        let insn = if shown {
            cpu::disassemble(&t.mem, eip)
        } else {
            None
        };
        let stop = t.cpu.run(&mut t.mem, 1);
        if shown {
            let (bytes, text) = insn.unwrap_or_default();
            let mut changes: Vec<String> = (0..8)
                .filter(|&k| regs[k] != t.cpu.regs[k])
                .map(|k| format!("{}={:#x}", REG_NAMES[k], t.cpu.regs[k]))
                .collect();
            let now = t.cpu.eflags();
            for (bit, name) in FLAG_NAMES {
                if (flags ^ now) & bit != 0 {
                    changes.push(format!("{}{name}", if now & bit != 0 { '+' } else { '-' }));
                }
            }
            let source = match (&map, base) {
                (Some(m), Some(b)) => eip.checked_sub(b).and_then(|off| {
                    let l = m.line_at(off as usize)?;
                    Some(match l.comment {
                        Some(c) if !c.is_empty() => {
                            format!("{}:{}  {}  ; {c}", l.file, l.line, l.code)
                        }
                        _ => format!("{}:{}  {}", l.file, l.line, l.code),
                    })
                }),
                _ => None,
            };
            out.push(TracedInsn {
                index,
                eip,
                bytes,
                text,
                changes,
                source,
            });
        }
        index += 1;
        match stop {
            Stop::InsnLimit => {}
            Stop::Syscall => {
                if let After::End(note) = t.syscall(tree) {
                    return Ok((out, Some(note)));
                }
                if let (true, Some(last)) = (shown, out.last_mut()) {
                    last.changes
                        .push(format!("syscall -> eax={:#x}", t.cpu.regs[reg::EAX]));
                }
            }
            Stop::Fault(f) => {
                return Ok((
                    out,
                    Some(format!(
                        "the program faulted at {:#010x}: {:?}",
                        f.eip, f.kind
                    )),
                ))
            }
        }
    }
    Ok((out, None))
}

/// The trace as text, or a line saying why there is none.
pub fn trace_text(tree: &Path, r: &ProcessRecord, window: Window) -> String {
    let mut s = format!(
        "  instruction trace of `{}`, instructions {}..{}:\n",
        r.argv.join(" "),
        window.from,
        window.to
    );
    if !has_source_map(&r.exe) {
        s.push_str("  (this program was built from C; no source lines)\n");
    }
    match trace(tree, r, window) {
        Ok((insns, note)) => {
            for i in &insns {
                let hex: Vec<String> = i.bytes.iter().map(|b| format!("{b:02x}")).collect();
                let _ = writeln!(
                    s,
                    "  {:>6} {:08x}  {:<20} {:<28} {}",
                    i.index,
                    i.eip,
                    hex.join(" "),
                    i.text,
                    i.changes.join(" ")
                );
                if let Some(src) = &i.source {
                    let _ = writeln!(s, "{:>40}{src}", "");
                }
            }
            if let Some(n) = note {
                let _ = writeln!(s, "  ({n})");
            }
        }
        Err(e) => {
            let _ = writeln!(s, "  no trace: {e}");
        }
    }
    s
}
