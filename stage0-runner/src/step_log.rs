//! `step`'s syscall log, made readable: runs of the same call on the same descriptor
//! (hex0 reads its input one byte at a time: thousands of `read(3, …, 1)`) are folded into
//! one line with a count, and the result is shown a page at a time.

/// Lines per page of the `s` key.
pub const PAGE: usize = 40;

/// Calls in a run shown before the rest of the run is folded (and the run's last).
const KEEP: usize = 2;

/// `pid name(first-argument` of a log line: what a run of alike calls shares.
fn call_key(line: &str) -> &str {
    let line = line.trim_start();
    match line.find('(') {
        Some(open) => {
            let end = line[open..]
                .find([',', ')'])
                .map_or(line.len(), |k| open + k);
            &line[..end]
        }
        None => line,
    }
}

/// The name and first argument of a key: `read(3`.
fn call_name(key: &str) -> &str {
    key.split_whitespace().last().unwrap_or(key)
}

/// The log's lines with every run of alike calls folded: a call repeated (hex0's one-byte
/// reads) or a pair of calls repeated (a copy loop's read, write) more than `KEEP + 2`
/// times shows its first `KEEP` repetitions, a count of the rest, and its last.
pub fn compact(log: &str) -> Vec<String> {
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    let keys: Vec<&str> = lines.iter().map(|l| call_key(l)).collect();
    let mut out = Vec::new();
    let mut k = 0;
    while k < lines.len() {
        // The longest run from k that repeats with period 1 or 2, in whole cycles.
        let (mut period, mut cycles) = (1, 1);
        for p in [1usize, 2] {
            let mut end = k + p;
            while end < keys.len() && keys[end] == keys[end - p] {
                end += 1;
            }
            let c = (end.min(keys.len()) - k) / p;
            if k + p <= keys.len() && c > cycles && (p == 1 || keys[k] != keys[k + 1]) {
                (period, cycles) = (p, c);
            }
        }
        let run = &lines[k..k + period * cycles];
        if cycles > KEEP + 2 {
            out.extend(run[..KEEP * period].iter().map(|l| l.to_string()));
            let names: Vec<String> = keys[k..k + period]
                .iter()
                .map(|key| format!("{}, …)", call_name(key)))
                .collect();
            let (one, many) = if period == 1 {
                ("call", "calls")
            } else {
                ("cycle", "cycles")
            };
            let folded = cycles - KEEP - 1;
            out.push(format!(
                "    … {folded} more {} {} like these",
                names.join("/"),
                if folded == 1 { one } else { many }
            ));
            out.extend(run[run.len() - period..].iter().map(|l| l.to_string()));
        } else {
            out.extend(run.iter().map(|l| l.to_string()));
        }
        k += run.len();
    }
    out
}

/// Page `page` (from 0) of the compacted log with a line saying what is left.
pub fn page(lines: &[String], page: usize) -> String {
    let from = page * PAGE;
    if lines.is_empty() {
        return "  (no syscalls)\n".into();
    }
    if from >= lines.len() {
        return format!("  (end of the log: {} lines)\n", lines.len());
    }
    let to = (from + PAGE).min(lines.len());
    let mut s: String = lines[from..to].iter().map(|l| format!("{l}\n")).collect();
    s.push_str(&format!("  (lines {}-{to} of {}", from + 1, lines.len()));
    s.push_str(if to < lines.len() {
        "; s again for more)\n"
    } else {
        ")\n"
    });
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_one_byte_reads_fold_into_a_count_and_pages_follow() {
        let mut log = String::from("  1001 open(\"/x86/hex0_x86.hex0\", 0, 0) = 3\n");
        for _ in 0..1864 {
            log.push_str("  1001 read(3, 0xbffffee0, 1) = 1\n");
        }
        log.push_str("  1001 write(4, 0xbffffee0, 1) = 1\n  1001 exit(0)\n");
        let lines = compact(&log);
        assert_eq!(lines.len(), 1 + 2 + 1 + 1 + 2, "{lines:#?}");
        assert_eq!(lines[3], "    … 1861 more read(3, …) calls like these");
        // A copy loop: read, write, read, write...
        let mut copy = String::new();
        for _ in 0..400 {
            copy.push_str("  7 read(3, 0x8048466, 1) = 1\n  7 write(4, 0x8048466, 1) = 1\n");
        }
        copy.push_str("  7 read(3, 0x8048466, 1) = 0\n  7 exit(0)\n");
        let c = compact(&copy);
        assert_eq!(c.len(), 4 + 1 + 2 + 2, "{c:#?}");
        assert_eq!(
            c[4],
            "    … 397 more read(3, …)/write(4, …) cycles like these"
        );
        assert_eq!(lines[4], "  1001 read(3, 0xbffffee0, 1) = 1");
        let p = page(&lines, 0);
        assert!(p.ends_with("(lines 1-7 of 7)\n"), "{p}");
        let many: Vec<String> = (0..100).map(|k| format!("  1 close({k}) = 0")).collect();
        assert!(page(&many, 0).ends_with("(lines 1-40 of 100; s again for more)\n"));
        assert!(page(&many, 2).ends_with("(lines 81-100 of 100)\n"));
        assert_eq!(page(&many, 3), "  (end of the log: 100 lines)\n");
    }
}
