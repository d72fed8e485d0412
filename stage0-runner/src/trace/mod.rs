//! Instruction traces of one program image, with the source line behind each instruction.
//!
//! The trace re-runs the program from its start under the real kernel in a scratch
//! sandbox on its tree ([`replay`]): the instructions shown run one at a time on a
//! wrapped interpreter, the rest at full speed, and what the program writes stays in
//! memory, so a trace never changes the tree.

pub(crate) mod replay;

use std::cell::RefCell;
use std::fmt::Write as _;
use std::ops::ControlFlow;
use std::path::Path;
use std::rc::Rc;

use seed::sourcemap::{self, SourceMap};
use seed::Source;
use vm::cpu::{self, Cpu};
use vm::ProcessRecord;

use crate::cmd::step::host_path;
use replay::Event;

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
    let bytes =
        std::fs::read(host_path(tree, image.exe)).map_err(|e| format!("{}: {e}", image.exe))?;
    let map = source_map(tree, image.exe).ok();
    let base = load_base(&bytes);
    let out = Rc::new(RefCell::new(Vec::<TracedInsn>::new()));
    let sink = out.clone();
    let mut before = ([0u32; 8], 0u32);
    let on = Box::new(move |e: Event<'_>| {
        let mut out = sink.borrow_mut();
        match e {
            Event::Before { index, cpu, mem } => {
                before = (cpu.regs, cpu.eflags());
                let (bytes, text) = cpu::disassemble(mem, cpu.eip).unwrap_or_default();
                out.push(TracedInsn {
                    index,
                    eip: cpu.eip,
                    bytes,
                    text,
                    changes: Vec::new(),
                    source: source_line(map.as_ref(), base, cpu.eip),
                });
            }
            Event::After { cpu } => {
                if let Some(last) = out.last_mut() {
                    last.changes = changes(before, cpu);
                }
            }
            Event::Returned { index, ret, .. } => {
                if let Some(last) = out.last_mut().filter(|l| l.index == index) {
                    last.changes.push(format!("syscall -> eax={ret:#x}"));
                }
            }
        }
        ControlFlow::Continue(())
    });
    let note = replay::replay(tree, image, window.from..window.to, window.to, on)?;
    let insns = out.take();
    Ok((insns, note))
}

/// The registers and flags an instruction changed, as `name=value` / `+ZF` / `-CF`.
fn changes((regs, flags): ([u32; 8], u32), cpu: &Cpu) -> Vec<String> {
    let mut changes: Vec<String> = (0..8)
        .filter(|&k| regs[k] != cpu.regs[k])
        .map(|k| format!("{}={:#x}", REG_NAMES[k], cpu.regs[k]))
        .collect();
    let now = cpu.eflags();
    for (bit, name) in FLAG_NAMES {
        if (flags ^ now) & bit != 0 {
            changes.push(format!("{}{name}", if now & bit != 0 { '+' } else { '-' }));
        }
    }
    changes
}

/// `file:line  code  ; comment` of the source line behind the instruction at `eip`.
fn source_line(map: Option<&SourceMap>, base: Option<u32>, eip: u32) -> Option<String> {
    let l = map?.line_at(eip.checked_sub(base?)? as usize)?;
    Some(match l.comment {
        Some(c) if !c.is_empty() => format!("{}:{}  {}  ; {c}", l.file, l.line, l.code),
        _ => format!("{}:{}  {}", l.file, l.line, l.code),
    })
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
