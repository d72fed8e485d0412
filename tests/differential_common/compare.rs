//! Comparing two engines' outcomes on the state the SDM defines, and reporting a
//! divergence with everything needed to reproduce it.

use std::fmt::Write;

use super::engines::{Case, Outcome, Step};
use super::flags;
use super::layout::{flag, flag_names, DATA, REG_NAMES, STACK};

/// The EFLAGS bits left undefined by the instructions in `steps`, in order.
pub fn undefined_flags(case: &Case, steps: &[Step]) -> u32 {
    steps
        .iter()
        .fold(0, |undefined, step| match case.program.at(step.eip) {
            Some(insn) => flags::undefined_after(undefined, insn, Some(step.ecx)),
            None => undefined,
        })
}

/// Compares `a` (the interpreter) with `b` (unicorn), ignoring flags in `undefined`.
/// Returns a full report when they differ.
pub fn compare(case: &Case, a: &Outcome, b: &Outcome, undefined: u32) -> Result<(), String> {
    let mask = flag::COMPARED & !undefined;
    let mut diffs = Vec::new();
    if a.stop != b.stop {
        diffs.push("stop".to_string());
    }
    if a.eip != b.eip {
        diffs.push("eip".to_string());
    }
    for (i, name) in REG_NAMES.iter().enumerate() {
        if a.regs[i] != b.regs[i] {
            diffs.push(name.to_string());
        }
    }
    if (a.eflags ^ b.eflags) & mask != 0 {
        diffs.push(format!(
            "eflags ({})",
            flag_names((a.eflags ^ b.eflags) & mask)
        ));
    }
    let mem_diffs: Vec<String> = [(DATA, &a.data, &b.data), (STACK, &a.stack, &b.stack)]
        .iter()
        .flat_map(|(base, x, y)| {
            x.iter()
                .zip(y.iter())
                .enumerate()
                .filter(|(_, (p, q))| p != q)
                .map(move |(i, (p, q))| format!("{:08x}: {p:02x} vs {q:02x}", base + i as u32))
        })
        .collect();
    if !mem_diffs.is_empty() {
        diffs.push(format!("memory ({} bytes)", mem_diffs.len()));
    }
    if diffs.is_empty() {
        return Ok(());
    }
    Err(report(case, a, b, undefined, &diffs, &mem_diffs))
}

fn report(
    case: &Case,
    a: &Outcome,
    b: &Outcome,
    undefined: u32,
    diffs: &[String],
    mem_diffs: &[String],
) -> String {
    let mut r = String::new();
    let _ = writeln!(
        r,
        "\ninterpreter and unicorn differ in: {}",
        diffs.join(", ")
    );
    let _ = writeln!(r, "program:\n{}", case.program);
    let _ = writeln!(r, "initial state:\n  {}", case.init);
    let _ = writeln!(
        r,
        "final state        {:<20} {:<20}",
        "interpreter", "unicorn"
    );
    let mark = |same: bool| if same { "" } else { "   <== differs" };
    let _ = writeln!(
        r,
        "  stop             {:<20} {:<20}{}",
        format!("{:?}", a.stop),
        format!("{:?}", b.stop),
        mark(a.stop == b.stop)
    );
    let _ = writeln!(
        r,
        "  eip              {:<20} {:<20}{}",
        format!("{:08x}", a.eip),
        format!("{:08x}", b.eip),
        mark(a.eip == b.eip)
    );
    for (i, name) in REG_NAMES.iter().enumerate() {
        let _ = writeln!(
            r,
            "  {name:<16} {:<20} {:<20}{}",
            format!("{:08x}", a.regs[i]),
            format!("{:08x}", b.regs[i]),
            mark(a.regs[i] == b.regs[i])
        );
    }
    let mask = flag::COMPARED & !undefined;
    let _ = writeln!(
        r,
        "  eflags           {:<20} {:<20}{}",
        format!("{:08x}", a.eflags),
        format!("{:08x}", b.eflags),
        mark((a.eflags ^ b.eflags) & mask == 0)
    );
    let _ = writeln!(
        r,
        "    set flags      {:<20} {:<20}",
        flag_names(a.eflags & flag::COMPARED),
        flag_names(b.eflags & flag::COMPARED)
    );
    let _ = writeln!(r, "    undefined (not compared): {}", flag_names(undefined));
    if !mem_diffs.is_empty() {
        let _ = writeln!(r, "  memory (address: interpreter vs unicorn), first 64:");
        for d in mem_diffs.iter().take(64) {
            let _ = writeln!(r, "    {d}");
        }
    }
    r
}
