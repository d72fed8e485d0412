//! Recorded instruction traces for the page's time travel.
//!
//! A hand-written program is re-run from its entry under the real kernel in a scratch
//! sandbox (the same replay as `step`'s trace, [`crate::trace`]), and [`WINDOW`] of its
//! instructions (from the entry, or from just before its first write) are kept in a
//! compact form the page's script replays: a table of the distinct instructions executed
//! (address, bytes, text, source line, block, note), then
//! per executed instruction its table index and the registers and flags it changed, plus
//! every read, write and open with the bytes moved. The page rebuilds any instant by
//! replaying changes from the start, so nothing is stored twice.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::ControlFlow;
use std::path::Path;
use std::rc::Rc;

use seed::sourcemap::SourceMap;
use serde_json::{json, Value};
use vm::{Cpu, GuestMemory};

use crate::trace::replay::{replay, Event};
use crate::trace::{self, Image};

/// Instructions kept per program: the start of every hand-written step. Enough for the
/// seed to read the licence header and emit the first bytes of the ELF header; the rest of
/// a long run repeats the same loops and is summarised by its totals.
pub const WINDOW: u64 = 10_000;

/// Source lines kept on each side of an executed line (the listing beside the trace).
const CONTEXT: usize = 5;

/// Bytes of an input file kept beyond the last one the window reads, and at most in all
/// (catm reads whole files at once).
const INPUT_TAIL: usize = 160;
const INPUT_MAX: usize = 4096;

/// Bytes of one read or write kept in the trace (the count is kept whole).
const IO_BYTES: usize = 64;

/// The block an instruction belongs to: the nearest label line above its source line and
/// the comment lines just above or below that label.
fn block_of(src: &[&str], line: usize) -> Option<(usize, String, String)> {
    let mut k = line.checked_sub(1)?;
    loop {
        let t = src.get(k)?.trim_start();
        let label = t.trim_start_matches('#').trim_start();
        if let Some(name) = label.strip_prefix(':') {
            let name = name
                .split([' ', '\t', ';'])
                .next()
                .unwrap_or("")
                .to_string();
            // Comment-only lines right above the label describe the block.
            let mut about = Vec::new();
            let mut j = k;
            while j > 0 {
                let prev = src[j - 1].trim();
                let text = prev.trim_start_matches(['#', ';']).trim();
                if prev.starts_with(['#', ';']) && !text.is_empty() && !text.starts_with(':') {
                    about.push(text.to_string());
                    j -= 1;
                } else {
                    break;
                }
            }
            about.reverse();
            return Some((k + 1, name, about.join(" ")));
        }
        k = k.checked_sub(1)?;
    }
}

/// Hand-written stories of the seed's blocks (hex0_x86.hex0, also read by hex0), by label.
const SEED_BLOCKS: &[(&str, &str)] = &[
    ("_start", "Start-up: take the input and output names from the stack (argc, argv[0], argv[1], argv[2]), open the input read-only and the output write-only, created and truncated. The output descriptor ends up in edi, the input's on the stack, and edx = 1: every read and write moves one byte."),
    ("loop_reset_all", "A new byte begins: ebp, which collects the hex digits, is cleared."),
    ("loop_reset_comment", "After a newline (or at the start) esi = edx = 1, and the dec just below makes it 0: not inside a comment."),
    ("loop_add_comment", "A # or ; starts a comment: esi is decremented, so it is no longer zero and every byte up to the next newline is skipped."),
    ("loop", "The main loop: read one byte into the stack slot at esp. read() returns 0 at the end of the input, and then the program exits with status 0."),
    ("cont", "Classify the byte: a newline ends a comment; inside a comment (esi != 0) the byte is skipped; # and ; start one; otherwise the byte is turned into a digit value: '0'-'9' by subtracting 48, 'A'-'F' or 'a'-'f' by subtracting 55 after clearing the lower-case bit. Anything else is ignored."),
    ("write", "A digit: ebp = ebp*16 + digit. neg edi flips the sign of the output descriptor, a one-bit memory: negative means one digit is waiting for its partner, so jl goes back for the second; positive again means both digits are in ebp's low byte, which is stored and written as one byte."),
];

fn seed_story(file: &str, label: &str) -> Option<&'static str> {
    if !file.ends_with("hex0_x86.hex0") {
        return None;
    }
    SEED_BLOCKS
        .iter()
        .find(|(l, _)| *l == label)
        .map(|(_, s)| *s)
}

/// One distinct instruction of the trace.
struct Insn {
    eip: u32,
    bytes: String,
    text: String,
    /// (file index, line) of the source map.
    line: Option<(usize, usize)>,
    note: String,
}

/// How far to look for a program's first write to a file when moving the window there.
const SEEK_MAX: u64 = 200_000_000;

/// Instructions kept before the first write when the window moves to it.
const LEAD: u64 = WINDOW / 5;

/// The reads, writes and opens of the replay, as the page's io events.
#[derive(Default)]
struct Io {
    events: Vec<Value>,
    fd_paths: BTreeMap<u32, String>,
    /// Guest path → (first, end) byte offsets read during the window.
    spans: BTreeMap<String, (usize, usize)>,
    /// Each descriptor's file offset, followed through open, read, write, lseek and close.
    offsets: BTreeMap<u32, usize>,
}

impl Io {
    fn span(&mut self, fd: u32, from: usize, end: usize) {
        if let Some(p) = self.fd_paths.get(&fd) {
            let s = self.spans.entry(p.clone()).or_insert((from, end));
            *s = (s.0.min(from), s.1.max(end));
        }
    }

    /// Records, as instruction `k`'s event, the syscall `call` (eax, ebx, ecx, edx) that
    /// returned `ret`; `mem` is the memory after it.
    fn returned(&mut self, k: u64, call: [u32; 4], ret: u32, mem: &GuestMemory, cwd: &str) {
        let [nr, fd, buf, _] = call;
        let before = self.offsets.get(&fd).copied().unwrap_or(0);
        let moved = |n: i32, mem: &GuestMemory| {
            let mut d = vec![0; (n as usize).min(IO_BYTES)];
            mem.read_bytes(buf, &mut d).map(|_| d).unwrap_or_default()
        };
        match (nr, ret as i32) {
            (3, n) if n >= 0 => {
                self.span(fd, before, before + n as usize);
                self.events
                    .push(json!([k, "r", fd, before, hexs(&moved(n, mem)), n]));
                self.offsets.insert(fd, before + n as usize);
            }
            (4, n) if n > 0 => {
                self.events
                    .push(json!([k, "w", fd, before, hexs(&moved(n, mem)), n]));
                self.offsets.insert(fd, before + n as usize);
            }
            (5, new) if new >= 0 => {
                let name = mem.read_cstr(fd, 4096).unwrap_or_default();
                let p = crate::cmd::step::guest_path(cwd, &String::from_utf8_lossy(&name));
                self.fd_paths.insert(new as u32, p.clone());
                self.events.push(json!([k, "o", new, 0, p, 0]));
                self.offsets.insert(new as u32, 0);
            }
            (6, 0) => {
                self.offsets.remove(&fd);
            }
            (19, p) if p >= 0 => {
                self.events.push(json!([k, "s", fd, p, "", 0]));
                self.offsets.insert(fd, p as usize);
            }
            _ => {}
        }
    }

    /// Turns the events before the window into its starting context: every open, and the
    /// last read of each descriptor, marked as earlier (7th field) so the page does not
    /// show them as happening now.
    fn make_context(&mut self) {
        let mut last_read: BTreeMap<u64, Value> = BTreeMap::new();
        let mut context = Vec::new();
        for e in std::mem::take(&mut self.events) {
            match e[1].as_str() {
                Some("o") => context.push(e),
                Some("r") => {
                    last_read.insert(e[2].as_u64().unwrap_or(0), e);
                }
                _ => {}
            }
        }
        self.spans.clear();
        for mut e in context.into_iter().chain(last_read.into_values()) {
            if e[1] == "r" {
                let (from, n) = (e[3].as_u64().unwrap_or(0), e[5].as_u64().unwrap_or(0));
                self.span(
                    e[2].as_u64().unwrap_or(0) as u32,
                    from as usize,
                    (from + n) as usize,
                );
            }
            e[0] = json!(0);
            if let Some(a) = e.as_array_mut() {
                a.push(json!(1));
            }
            self.events.push(e);
        }
    }
}

fn hexs(d: &[u8]) -> String {
    d.iter().map(|x| format!("{x:02x}")).collect()
}

/// The instruction number of the program's first write to a file (not stdout or stderr),
/// if it comes within [`SEEK_MAX`] instructions.
fn first_write(tree: &Path, image: &Image<'_>) -> Option<u64> {
    let found = Rc::new(Cell::new(None));
    let seen = found.clone();
    let on = Box::new(move |e: Event<'_>| match e {
        Event::Returned {
            index,
            call: [4, fd, ..],
            ..
        } if fd > 2 => {
            seen.set(Some(index));
            ControlFlow::Break(())
        }
        _ => ControlFlow::Continue(()),
    });
    replay(tree, image, 0..0, SEEK_MAX, on).ok()?;
    found.get()
}

/// What the replay's observer builds.
#[derive(Default)]
struct Recorded {
    io: Io,
    /// Registers and EFLAGS at the window's first instruction, once it is reached.
    at_start: Option<([u32; 8], u32)>,
    table: Vec<Insn>,
    index_of: BTreeMap<u32, usize>,
    order: Vec<usize>,
    changes: String,
    /// Registers and EFLAGS before the instruction running now.
    before: ([u32; 8], u32),
    /// Registers and EFLAGS after it, until its changes are written.
    ran: Option<([u32; 8], u32)>,
}

impl Recorded {
    fn before(&mut self, index: u64, cpu: &Cpu, mem: &GuestMemory, ctx: &Context) {
        self.flush();
        if index == ctx.start {
            self.at_start = Some((cpu.regs, cpu.eflags()));
            self.io.make_context();
        }
        self.before = (cpu.regs, cpu.eflags());
        let eip = cpu.eip;
        let table = &mut self.table;
        let idx = *self.index_of.entry(eip).or_insert_with(|| {
            let (b, text) = vm::cpu::disassemble(mem, eip).unwrap_or_default();
            let line = eip.checked_sub(ctx.base).and_then(|off| {
                let o = ctx.map.origins.get(off as usize)?;
                Some((o.file, o.line))
            });
            table.push(Insn {
                eip,
                bytes: b.iter().map(|x| format!("{x:02x}")).collect(),
                text,
                line,
                note: ctx.notes.get(&eip).cloned().unwrap_or_default(),
            });
            table.len() - 1
        });
        self.order.push(idx);
    }

    /// The instruction ran; its changes are written at the next event, when a syscall's
    /// return value is known.
    fn after(&mut self, cpu: &Cpu) {
        self.ran = Some((cpu.regs, cpu.eflags()));
    }

    /// The syscall `index` made returned `ret`.
    fn returned(&mut self, index: u64, call: [u32; 4], ret: u32, mem: &GuestMemory, ctx: &Context) {
        if let Some((regs, _)) = &mut self.ran {
            regs[vm::cpu::reg::EAX] = ret;
        }
        self.flush();
        let k = index.saturating_sub(ctx.start);
        self.io.returned(k, call, ret, mem, &ctx.cwd);
    }

    /// Writes the changes of the instruction that ran last: "r=hex" for registers 0..7
    /// (eax ecx edx ebx esp ebp esi edi), 8 = eflags.
    fn flush(&mut self) {
        let Some((now_regs, now)) = self.ran.take() else {
            return;
        };
        let (regs, flags) = self.before;
        let mut first = true;
        for (r, (old, new)) in regs.iter().zip(now_regs).enumerate() {
            if *old != new {
                let sep = if first { "" } else { "," };
                let _ = write!(self.changes, "{sep}{r}={new:x}");
                first = false;
            }
        }
        if now != flags {
            let _ = write!(self.changes, "{}8={now:x}", if first { "" } else { "," });
        }
        self.changes.push(';');
    }
}

/// What the observer reads: the window's first instruction, the program's directory, its
/// source map, where the file is loaded, `seed explain`'s notes.
struct Context {
    start: u64,
    cwd: String,
    map: SourceMap,
    base: u32,
    notes: BTreeMap<u32, String>,
}

/// Records [`WINDOW`] instructions of a program image and returns the page's JSON for it,
/// or why there is none. The window starts at the entry, or [`LEAD`] instructions before
/// the first write to a file when that comes later (two-pass assemblers such as hex1 read
/// their whole input once before writing a byte): then the replay runs unrecorded up to
/// the window and keeps the files opened and the last byte read as its starting context.
pub fn record(tree: &Path, image: &Image<'_>) -> Result<Value, String> {
    let map = trace::source_map(tree, image.exe)?;
    let start = match first_write(tree, image) {
        Some(w) if w >= WINDOW => w - LEAD,
        _ => 0,
    };
    let bytes = std::fs::read(crate::cmd::step::host_path(tree, image.exe))
        .map_err(|e| format!("{}: {e}", image.exe))?;
    let base = trace::load_base(&bytes).ok_or("no PT_LOAD maps the start of the file")?;
    // Per-address notes from `seed explain` when the file is small enough to decode.
    let notes: BTreeMap<u32, String> = seed::explain::analyse(&bytes)
        .map(|e| {
            e.instructions
                .into_iter()
                .map(|i| (i.vaddr, i.note))
                .collect()
        })
        .unwrap_or_default();
    let ctx = Rc::new(Context {
        start,
        cwd: image.cwd.to_string(),
        map,
        base,
        notes,
    });
    let rec = Rc::new(RefCell::new(Recorded::default()));
    let (sink, c) = (rec.clone(), ctx.clone());
    let on = Box::new(move |e: Event<'_>| {
        let mut r = sink.borrow_mut();
        match e {
            Event::Before { index, cpu, mem } => r.before(index, cpu, mem, &c),
            Event::After { cpu } => r.after(cpu),
            Event::Returned {
                index,
                call,
                ret,
                mem,
            } => r.returned(index, call, ret, mem, &c),
        }
        ControlFlow::Continue(())
    });
    let note = replay(tree, image, start..start + WINDOW, start + WINDOW, on)?;
    let mut rec = rec.take();
    rec.flush();
    let Some((regs0, flags0)) = rec.at_start else {
        return Err(format!("the replay ended before instruction {start}"));
    };
    let map = &ctx.map;
    Ok(json!({
        "start": start,
        "shown": rec.order.len(),
        "note": note,
        "regs0": regs0,
        "flags0": flags0,
        "regNames": trace::REG_NAMES,
        "flagBits": trace::FLAG_NAMES.iter().map(|(b, n)| json!([b, n])).collect::<Vec<_>>(),
        "insns": insn_table(&rec.table, map),
        "order": rec.order,
        "changes": std::mem::take(&mut rec.changes),
        "io": rec.io.events,
        "fds": rec.io.fd_paths,
        "inputs": inputs(tree, &rec.io.spans),
        "source": source_context(&rec.table, map),
        "files": map.files.iter().map(|f| f.name.clone()).collect::<Vec<_>>(),
    }))
}

fn lines_of(map: &SourceMap, file: usize) -> Vec<&str> {
    std::str::from_utf8(&map.files[file].data)
        .unwrap_or("")
        .split('\n')
        .map(|l| l.trim_end_matches('\r'))
        .collect()
}

/// The instruction table: [eip, bytes, text, file, line, block start line, block label,
/// block story, explain note].
///
/// io events: [instruction, kind (r w o s), fd, file offset, first bytes as hex (or the
/// path for `o`), byte count].
fn insn_table(table: &[Insn], map: &SourceMap) -> Vec<Value> {
    let texts: Vec<Vec<&str>> = (0..map.files.len()).map(|f| lines_of(map, f)).collect();
    table
        .iter()
        .map(|i| {
            let (file, line) = i.line.unwrap_or((usize::MAX, 0));
            let block = i.line.and_then(|(f, l)| block_of(&texts[f], l));
            let (bline, label, about) = block.unwrap_or((0, String::new(), String::new()));
            let story = i
                .line
                .and_then(|(f, _)| seed_story(&map.files[f].name, &label))
                .map(str::to_string)
                .unwrap_or(about);
            json!([
                i.eip,
                i.bytes,
                i.text,
                if file == usize::MAX {
                    Value::Null
                } else {
                    json!(file)
                },
                line,
                bline,
                label,
                story,
                i.note
            ])
        })
        .collect()
}

/// The source lines around every executed line: {file index: {line: text}}.
fn source_context(table: &[Insn], map: &SourceMap) -> Value {
    let mut keep: BTreeMap<usize, BTreeMap<usize, String>> = BTreeMap::new();
    for (f, l) in table.iter().filter_map(|i| i.line) {
        let text = lines_of(map, f);
        let lines = keep.entry(f).or_default();
        for n in l.saturating_sub(CONTEXT).max(1)..=(l + CONTEXT).min(text.len()) {
            lines.entry(n).or_insert_with(|| text[n - 1].to_string());
        }
    }
    json!(keep
        .into_iter()
        .map(|(f, m)| (f.to_string(), m))
        .collect::<BTreeMap<_, _>>())
}

/// The part of every input file the window read: {path: [first offset, text]}, from the
/// first byte read to a little past the last, at most [`INPUT_MAX`] bytes, one character
/// per byte (Latin-1) so the page indexes the text by file offset.
fn inputs(tree: &Path, spans: &BTreeMap<String, (usize, usize)>) -> Value {
    let mut out = serde_json::Map::new();
    for (p, &(from, end)) in spans {
        if let Ok(d) = std::fs::read(crate::cmd::step::host_path(tree, p)) {
            let lo = from.saturating_sub(INPUT_TAIL).min(d.len());
            let hi = (end + INPUT_TAIL).min(lo + INPUT_MAX).min(d.len());
            let text: String = d[lo..hi].iter().map(|&b| b as char).collect();
            out.insert(p.clone(), json!([lo, text]));
        }
    }
    Value::Object(out)
}
