//! M2-Planet's meaning of `&&` and `||`, for a host C compiler.
//!
//! The chain's C-level tools are compiled by M2-Planet, whose grammar puts `&`, `&&`, `|`,
//! `||` and `^` on one level (left to right, below the relational operators) and compiles
//! `&&` as a bitwise AND and `||` as a bitwise OR of the whole values: no short circuit
//! and no reduction to 0/1 (`M2-Planet/cc_core.c`, `bitwise_expr_stub`). ISO C gives the
//! same text another meaning whenever an operand is neither 0 nor 1: in
//! `M2-Planet/cc_emit.c`, `(Architecture & ARCH_FAMILY_X86) && (reg == REGISTER_STACK)` is
//! `4 & 1 == 0` for the chain's M2-Planet and true for a gcc build, which then emits
//! `sub_esp,BYTE '04'` where the chain's emits `mov_ecx, %4` / `sub_esp,ecx`.
//!
//! [`to_host_c`] rewrites a source file so that a host C compiler gives it M2-Planet's
//! meaning: `&&` becomes `&` and `||` becomes `|`. C gives `&`, `^` and `|` different
//! precedences where M2-Planet has one level, so an expression mixing them without
//! parentheses is refused rather than translated with another meaning.

/// A source the translation cannot give M2-Planet's meaning.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialectError {
    #[error("line {line}: `{first}` and `{second}` in one expression without parentheses (M2-Planet evaluates them left to right at one level, C does not)")]
    MixedPrecedence {
        line: usize,
        first: &'static str,
        second: &'static str,
    },
    #[error("line {line}: unterminated {what}")]
    Unterminated { line: usize, what: &'static str },
}

/// What the translation changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Translated {
    pub text: String,
    /// How many `&&` and `||` became `&` and `|`.
    pub rewritten: usize,
}

/// The binary operators of M2-Planet's bitwise level, as C sees them after rewriting.
fn level_op(op: &str) -> Option<&'static str> {
    match op {
        "&" | "&&" => Some("&"),
        "|" | "||" => Some("|"),
        "^" => Some("^"),
        _ => None,
    }
}

/// Punctuators, longest first (enough of C's to split operators correctly).
const PUNCT: [&str; 24] = [
    "<<=", ">>=", "...", "&&", "||", "==", "!=", "<=", ">=", "<<", ">>", "->", "++", "--", "+=",
    "-=", "*=", "/=", "%=", "&=", "|=", "^=", "&", "|",
];

/// Words after which `&` is unary (address-of), not a binary operator.
const KEYWORDS: [&str; 5] = ["return", "sizeof", "case", "else", "do"];

/// Tokens that end an expression group on the current nesting level.
fn ends_group(tok: &str) -> bool {
    matches!(
        tok,
        ";" | ","
            | "?"
            | ":"
            | "{"
            | "}"
            | "="
            | "+="
            | "-="
            | "*="
            | "/="
            | "%="
            | "&="
            | "|="
            | "^="
            | "<<="
            | ">>="
    )
}

/// Rewrites `&&` to `&` and `||` to `|` outside comments, literals and preprocessor lines.
pub fn to_host_c(src: &str) -> Result<Translated, DialectError> {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut rewritten = 0;
    let mut line = 1;
    let mut i = 0;
    // Per nesting level: the first binary operator of the bitwise level seen in the
    // current group.
    let mut levels: Vec<Option<&'static str>> = vec![None];
    // Whether the previous token ends an operand (so a following `&` is binary).
    let mut after_operand = false;
    let mut at_line_start = true;
    while i < b.len() {
        let c = b[i];
        let rest = &src[i..];
        if c == b'\n' {
            line += 1;
            at_line_start = true;
            out.push('\n');
            i += 1;
            continue;
        }
        if c == b' ' || c == b'\t' || c == b'\r' || c == 0x0c {
            out.push(c as char);
            i += 1;
            continue;
        }
        if let Some(body) = rest.strip_prefix("/*") {
            let end = body
                .find("*/")
                .map(|e| e + 4)
                .ok_or(DialectError::Unterminated {
                    line,
                    what: "comment",
                })?;
            line += rest[..end].matches('\n').count();
            out.push_str(&rest[..end]);
            i += end;
            continue;
        }
        if rest.starts_with("//") {
            let end = rest.find('\n').unwrap_or(rest.len());
            out.push_str(&rest[..end]);
            i += end;
            continue;
        }
        if at_line_start && c == b'#' {
            // A directive, with its backslash continuations: the host preprocessor's.
            let mut end = 0;
            loop {
                let nl = rest[end..].find('\n').map_or(rest.len(), |n| end + n);
                if nl > 0 && rest.as_bytes()[nl - 1] == b'\\' && nl < rest.len() {
                    end = nl + 1;
                    line += 1;
                } else {
                    end = nl;
                    break;
                }
            }
            out.push_str(&rest[..end]);
            i += end;
            continue;
        }
        at_line_start = false;
        if c == b'"' || c == b'\'' {
            let mut j = 1;
            loop {
                match rest.as_bytes().get(j) {
                    None | Some(b'\n') => {
                        return Err(DialectError::Unterminated {
                            line,
                            what: if c == b'"' {
                                "string literal"
                            } else {
                                "character literal"
                            },
                        })
                    }
                    Some(b'\\') => j += 2,
                    Some(&q) if q == c => break,
                    Some(_) => j += 1,
                }
            }
            out.push_str(&rest[..=j]);
            i += j + 1;
            after_operand = true;
            continue;
        }
        if c.is_ascii_alphanumeric() || c == b'_' {
            let end = rest
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                .unwrap_or(rest.len());
            let word = &rest[..end];
            out.push_str(word);
            i += end;
            after_operand = !KEYWORDS.contains(&word);
            continue;
        }
        let tok = PUNCT
            .iter()
            .find(|p| rest.starts_with(*p))
            .copied()
            .unwrap_or(&rest[..1]);
        i += tok.len();
        match tok {
            "(" | "[" => levels.push(None),
            ")" | "]" => {
                levels.pop();
                if levels.is_empty() {
                    levels.push(None);
                }
            }
            t if ends_group(t) => *levels.last_mut().expect("never empty") = None,
            _ => {}
        }
        let binary = after_operand;
        if let (true, Some(op)) = (binary, level_op(tok)) {
            let seen = levels.last_mut().expect("never empty");
            match *seen {
                Some(first) if first != op => {
                    return Err(DialectError::MixedPrecedence {
                        line,
                        first,
                        second: op,
                    })
                }
                _ => *seen = Some(op),
            }
        }
        match tok {
            "&&" | "||" => {
                let single = &tok[..1];
                out.push_str(single);
                // `a&&&b` must not become `a&&b`.
                if src[i..].starts_with(single) {
                    out.push(' ');
                }
                rewritten += 1;
            }
            t => out.push_str(t),
        }
        after_operand = matches!(tok, ")" | "]" | "++" | "--");
    }
    Ok(Translated {
        text: out,
        rewritten,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tr(s: &str) -> String {
        to_host_c(s).unwrap().text
    }

    #[test]
    fn logical_operators_become_bitwise() {
        let t = to_host_c("if((a & 12) && (r == 5 || r == 0)) x();\n").unwrap();
        assert_eq!(t.text, "if((a & 12) & (r == 5 | r == 0)) x();\n");
        assert_eq!(t.rewritten, 2);
    }

    #[test]
    fn literals_comments_and_directives_are_left_alone() {
        let src = "/* a && b */ s = \"&& || \\\" &&\"; // x || y\nc = '|' ;\n#if A && B\n#define F(x) ((x) || \\\n  1)\n#endif\n";
        assert_eq!(tr(src), src);
    }

    #[test]
    fn address_of_is_not_a_binary_operator() {
        assert_eq!(tr("f(&x) && g(&y) && *&z;\n"), "f(&x) & g(&y) & *&z;\n");
        assert_eq!(tr("return &a && b;\n"), "return &a & b;\n");
        assert_eq!(tr("a&&&b;\n"), "a& &b;\n");
    }

    #[test]
    fn mixing_the_levels_without_parentheses_is_refused() {
        let e = to_host_c("x;\ny = a && b || c;\n").unwrap_err();
        assert_eq!(
            e,
            DialectError::MixedPrecedence {
                line: 2,
                first: "&",
                second: "|"
            }
        );
        assert!(to_host_c("y = a | b ^ c;\n").is_err());
        // Parentheses, separators and assignments start new groups.
        assert!(to_host_c("y = (a && b) || c; z = a | b, w = c & d;\n").is_ok());
        assert!(to_host_c("f(a & b, c | d); v[a & 1] = b | c;\n").is_ok());
    }

    #[test]
    fn unterminated_input_is_named() {
        assert!(matches!(
            to_host_c("s = \"abc\n"),
            Err(DialectError::Unterminated { line: 1, .. })
        ));
        assert!(matches!(
            to_host_c("/* open"),
            Err(DialectError::Unterminated { .. })
        ));
    }
}
