//! The loop-level story of a small hex-reading program: what its start-up opens, where
//! its loops turn back, how it skips comments, how two hex digits become one byte, and
//! what one-bit memories (such as `neg edi`) it keeps.
//!
//! Each paragraph comes from an idiom found in the decoded instructions, and names the
//! addresses it is about; an idiom the program does not use gives no paragraph, so the
//! story of another program is shorter, never wrong about code it does not have.

use std::collections::BTreeMap;

use super::{Explanation, Insn};

/// One paragraph: a title, the instructions (file offsets) it is about, and the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paragraph {
    pub title: &'static str,
    pub offsets: Vec<usize>,
    pub text: String,
}

fn mnemonic(i: &Insn) -> &str {
    i.text.split_whitespace().next().unwrap_or("")
}

fn operands(i: &Insn) -> Vec<&str> {
    i.text
        .split_once(' ')
        .map(|(_, ops)| ops.split(',').map(str::trim).collect())
        .unwrap_or_default()
}

/// The target of a jump written as `jcc short 0804806Eh` (or `jmp 0804806Eh`).
fn target(i: &Insn) -> Option<u32> {
    if !mnemonic(i).starts_with('j') {
        return None;
    }
    let t = i.text.split_whitespace().last()?.trim_end_matches('h');
    u32::from_str_radix(t, 16).ok()
}

/// An immediate operand written as `23h`, `0Ah` or `7`.
fn imm(op: &str) -> Option<u32> {
    match op.strip_suffix('h') {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => op.parse().ok(),
    }
}

fn at(i: &Insn) -> String {
    format!("{:#x}", i.vaddr)
}

/// The story's paragraphs, in the program's order.
pub fn story(e: &Explanation) -> Vec<Paragraph> {
    let code = &e.instructions;
    let by_addr: BTreeMap<u32, usize> =
        code.iter().enumerate().map(|(k, i)| (i.vaddr, k)).collect();
    let mut out = Vec::new();
    // Loop heads: targets of backward jumps, with the jumps that go there.
    let mut heads: BTreeMap<u32, Vec<&Insn>> = BTreeMap::new();
    for i in code {
        if let Some(t) = target(i).filter(|&t| t <= i.vaddr) {
            heads.entry(t).or_default().push(i);
        }
    }
    let first_head = heads.keys().next().copied().unwrap_or(u32::MAX);
    // Start-up: the system calls before the first loop head.
    let start: Vec<&Insn> = code.iter().filter(|i| i.vaddr < first_head).collect();
    let calls: Vec<&Insn> = start
        .iter()
        .copied()
        .filter(|i| i.syscall.is_some())
        .collect();
    if !calls.is_empty() {
        let said: Vec<String> = calls
            .iter()
            .map(|i| {
                let what = i
                    .note
                    .split_once(' ')
                    .map_or(i.note.as_str(), |(_, rest)| rest);
                let what = what.split_once(' ').map_or(what, |(_, rest)| rest);
                format!("at {} {}", at(i), what.split(": ").next().unwrap_or(what))
            })
            .collect();
        out.push(Paragraph {
            title: "Start-up",
            offsets: start.iter().map(|i| i.offset).collect(),
            text: format!(
                "From the entry point to {first_head:#x} the program runs once: it takes its arguments from the stack and makes {} system call(s): {}.",
                calls.len(),
                said.join("; ")
            ),
        });
    }
    if !heads.is_empty() {
        let text: Vec<String> = heads
            .iter()
            .map(|(t, from)| {
                let from: Vec<String> = from
                    .iter()
                    .map(|j| format!("{} ({})", at(j), mnemonic(j)))
                    .collect();
                format!("{t:#x} is jumped back to from {}", from.join(", "))
            })
            .collect();
        out.push(Paragraph {
            title: "Where the loops turn back",
            offsets: heads.values().flatten().map(|i| i.offset).collect(),
            text: format!(
                "After start-up the program runs in loops; control goes back to {} place(s): {}.",
                heads.len(),
                text.join("; ")
            ),
        });
    }
    if let Some(p) = reading(code) {
        out.push(p);
    }
    if let Some(p) = comments(code, &by_addr) {
        out.push(p);
    }
    if let Some(p) = digits(code) {
        out.push(p);
    }
    if let Some(p) = toggle(code) {
        out.push(p);
    }
    out
}

/// A read of one byte, and the end-of-file test after it.
fn reading(code: &[Insn]) -> Option<Paragraph> {
    let k = code
        .iter()
        .position(|i| i.syscall == Some("read") && i.note.contains("count = edx = 0x1"))?;
    let mut offsets = vec![code[k].offset];
    let on_stack = code[k].note.contains("buf = ecx = a buffer on the stack");
    let mut text = format!(
        "At {} read() asks for one byte{}.",
        at(&code[k]),
        if on_stack {
            ", into a slot on the stack: the program never holds more than the byte in hand"
        } else {
            ""
        }
    );
    let test = code[k + 1..]
        .iter()
        .take(3)
        .find(|i| i.text == "test eax,eax");
    if let Some(t) = test {
        offsets.push(t.offset);
        let exit = code
            .iter()
            .find(|i| i.syscall == Some("exit") && i.vaddr > t.vaddr);
        if let Some(x) = exit {
            offsets.push(x.offset);
            let _ = std::fmt::Write::write_fmt(
                &mut text,
                format_args!(
                    " test eax,eax at {} checks how many bytes came back: 0 means the end of the input, and exit(0) at {} ends the program (the kernel closes and keeps the output).",
                    at(t),
                    at(x)
                ),
            );
        }
    }
    Some(Paragraph {
        title: "One byte at a time",
        offsets,
        text,
    })
}

/// `cmp al,'#'` / `cmp al,';'` jumping to a `dec R`, and the newline that resets R.
fn comments(code: &[Insn], by_addr: &BTreeMap<u32, usize>) -> Option<Paragraph> {
    let starts: Vec<usize> = (0..code.len().saturating_sub(1))
        .filter(|&k| {
            mnemonic(&code[k]) == "cmp"
                && matches!(
                    operands(&code[k]).get(1).and_then(|o| imm(o)),
                    Some(0x23 | 0x3b)
                )
                && mnemonic(&code[k + 1]) == "je"
        })
        .collect();
    let first = *starts.first()?;
    let dest = by_addr.get(&target(&code[first + 1])?)?;
    let dec = &code[*dest];
    if mnemonic(dec) != "dec" {
        return None;
    }
    let r = operands(dec).first().copied()?.to_string();
    let mut offsets: Vec<usize> = starts
        .iter()
        .flat_map(|&k| [code[k].offset, code[k + 1].offset])
        .collect();
    offsets.push(dec.offset);
    let skip = code.iter().position(|i| i.text == format!("test {r},{r}"));
    let mut text = format!(
        "Comments: '#' and ';' (compared at {}) jump to `dec {r}` at {}, so {r} stops being zero while a comment lasts.",
        starts.iter().map(|&k| at(&code[k])).collect::<Vec<_>>().join(" and "),
        at(dec)
    );
    if let Some(s) = skip {
        offsets.push(code[s].offset);
        text.push_str(&format!(
            " `test {r},{r}` at {} then sends every byte back to the loop without a look while {r} is not zero.",
            at(&code[s])
        ));
    }
    let newline = (0..code.len().saturating_sub(1)).find(|&k| {
        mnemonic(&code[k]) == "cmp"
            && operands(&code[k]).get(1).and_then(|o| imm(o)) == Some(10)
            && mnemonic(&code[k + 1]) == "je"
    });
    if let Some(n) = newline {
        if let Some(&d) = target(&code[n + 1]).and_then(|t| by_addr.get(&t)) {
            offsets.push(code[n].offset);
            text.push_str(&format!(
                " A newline (at {}) jumps to {}: `{}` then the same `dec {r}` leave {r} at zero: the comment is over.",
                at(&code[n]),
                at(&code[d]),
                code[d].text
            ));
        }
    }
    Some(Paragraph {
        title: "Comments: a counter that is zero outside them",
        offsets,
        text,
    })
}

/// `sub al,30h` … `shl R,4` … `add R,eax`: two hex digits become a byte.
fn digits(code: &[Insn]) -> Option<Paragraph> {
    let sub = code.iter().position(|i| i.text == "sub al,30h")?;
    let shl = code[sub..]
        .iter()
        .position(|i| mnemonic(i) == "shl" && operands(i).get(1) == Some(&"4"))?
        + sub;
    let acc = operands(&code[shl]).first().copied()?.to_string();
    let add = code[shl..].iter().position(|i| {
        matches!(mnemonic(i), "add" | "or") && operands(i).first() == Some(&acc.as_str())
    })? + shl;
    let offsets = (sub..=add).map(|k| code[k].offset).collect();
    let convert: Vec<String> = code[sub..shl]
        .iter()
        .map(|i| format!("`{}`", i.text))
        .collect();
    let folds = code[sub..shl].iter().any(|i| i.text == "and al,0DFh");
    Some(Paragraph {
        title: "Two hex digits become one byte",
        offsets,
        text: format!(
            "From {} to {} ({}) the byte read becomes a digit value 0-15: '0'-'9' by subtracting '0' (48), 'A'-'F'{} by further steps; any other byte jumps back to the loop and is ignored. Then `shl {acc},4` at {} moves what {acc} holds up one hex place and `{}` at {} puts the new digit in below it: after two digits the low byte of {acc} is the byte the two digits spell.",
            at(&code[sub]),
            at(&code[shl - 1]),
            convert.join(", "),
            if folds { " and 'a'-'f' (and al,0DFh clears bit 5, folding lower case onto upper)" } else { "" },
            at(&code[shl]),
            code[add].text,
            at(&code[add])
        ),
    })
}

/// `neg R` followed by a sign test: R's sign is a one-bit memory.
fn toggle(code: &[Insn]) -> Option<Paragraph> {
    let k = (0..code.len().saturating_sub(1)).find(|&k| {
        mnemonic(&code[k]) == "neg" && matches!(mnemonic(&code[k + 1]), "jl" | "js" | "jge" | "jns")
    })?;
    let r = operands(&code[k]).first().copied()?.to_string();
    // What R holds: the register an open() result was moved into.
    let holds = code
        .iter()
        .find(|i| {
            (i.text == format!("xchg {r},eax") || i.text == format!("mov {r},eax"))
                && i.note.contains("swap") | i.note.contains("copy")
        })
        .map(|i| {
            format!(
                "{r} holds the output file descriptor (moved there from open()'s result at {})",
                at(i)
            )
        })
        .unwrap_or_else(|| {
            format!("{r} holds a value whose sign the program does not otherwise need")
        });
    let write = code[k..].iter().find(|i| i.syscall == Some("write"));
    let mut text = format!(
        "`neg {r}` at {} is a one-bit memory: {holds}, and descriptors are never negative, so the sign is free to count digits. After the first digit of a pair {r} turns negative and `{}` jumps back for the second; after the second it is positive again and the program falls through",
        at(&code[k]),
        mnemonic(&code[k + 1])
    );
    let mut offsets = vec![code[k].offset, code[k + 1].offset];
    match write {
        Some(w) => {
            offsets.push(w.offset);
            text.push_str(&format!(
                " to write the byte with write({r}, buffer, 1) at {}: the descriptor is valid again exactly when there is a byte to write.",
                at(w)
            ));
        }
        None => text.push('.'),
    }
    Some(Paragraph {
        title: "neg: counting digits in a sign bit",
        offsets,
        text,
    })
}
