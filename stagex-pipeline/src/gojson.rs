//! JSON text exactly as Go's `encoding/json` writes it (`Marshal` and `MarshalIndent`),
//! because image digests are hashes of those bytes. Objects keep the order they are
//! built in: callers list fields in Go struct order, or sorted for Go maps.

/// A JSON value with ordered objects.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
    /// An array.
    Array(Vec<Value>),
    /// An object, fields in output order.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// A string value.
    pub fn str(s: impl Into<String>) -> Self {
        Value::Str(s.into())
    }

    /// An object from `(key, value)` pairs in output order.
    pub fn object<K: Into<String>>(fields: impl IntoIterator<Item = (K, Value)>) -> Self {
        Value::Object(fields.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// An object with keys sorted, as Go marshals a `map[string]T`.
    pub fn sorted_map<K: Into<String>>(fields: impl IntoIterator<Item = (K, Value)>) -> Self {
        let mut v: Vec<(String, Value)> = fields.into_iter().map(|(k, v)| (k.into(), v)).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        Value::Object(v)
    }
}

/// `json.Marshal` output.
pub fn marshal(v: &Value) -> Vec<u8> {
    let mut out = String::new();
    write(v, None, 0, &mut out);
    out.into_bytes()
}

/// `json.MarshalIndent(v, "", indent)` output.
pub fn marshal_indent(v: &Value, indent: &str) -> Vec<u8> {
    let mut out = String::new();
    write(v, Some(indent), 0, &mut out);
    out.into_bytes()
}

fn newline(indent: Option<&str>, depth: usize, out: &mut String) {
    if let Some(ind) = indent {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(ind);
        }
    }
}

fn write(v: &Value, indent: Option<&str>, depth: usize, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Str(s) => write_string(s, out),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(indent, depth + 1, out);
                write(item, indent, depth + 1, out);
            }
            newline(indent, depth, out);
            out.push(']');
        }
        Value::Object(fields) if fields.is_empty() => out.push_str("{}"),
        Value::Object(fields) => {
            out.push('{');
            for (i, (k, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(indent, depth + 1, out);
                write_string(k, out);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write(item, indent, depth + 1, out);
            }
            newline(indent, depth, out);
            out.push('}');
        }
    }
}

/// Go's string escaping with HTML escaping on (the `Marshal` default).
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_indent_match_go() {
        let v = Value::object([
            ("a", Value::Int(2)),
            ("b", Value::Array(vec![Value::str("x<y"), Value::Null])),
            ("c", Value::Array(vec![])),
        ]);
        assert_eq!(
            String::from_utf8(marshal(&v)).unwrap(),
            r#"{"a":2,"b":["x\u003cy",null],"c":[]}"#
        );
        let want = "{\n  \"a\": 2,\n  \"b\": [\n    \"x\\u003cy\",\n    null\n  ],\n  \"c\": []\n}";
        assert_eq!(String::from_utf8(marshal_indent(&v, "  ")).unwrap(), want);
    }

    #[test]
    fn sorted_map_sorts_keys() {
        let v = Value::sorted_map([("z", Value::Bool(true)), ("a", Value::str("\u{1}"))]);
        assert_eq!(
            String::from_utf8(marshal(&v)).unwrap(),
            r#"{"a":"\u0001","z":true}"#
        );
    }
}
