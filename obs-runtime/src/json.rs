//! JSON string literals: the one writer behind the JSON log lines, the health report and the
//! generated dashboard.

use core::fmt::Write as _;

/// Appends `value` as a JSON string literal, escaping what JSON requires.
pub(crate) fn write_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::write_string;

    #[test]
    fn json_strings_escape_what_json_requires() {
        let mut out = String::new();
        write_string(&mut out, "a\"b\\c\nd\u{1}é\t");
        assert_eq!(out, r#""a\"b\\c\nd\u0001é\t""#);
    }
}
