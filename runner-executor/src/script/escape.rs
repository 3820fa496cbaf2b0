//! Bash quoting (executors.md §4.10): ANSI-C `$'...'` escaping like upstream's default.

/// Quotes `text` as one bash word: `[A-Za-z0-9,./@_-]+` as-is, `''` for empty, else `$'...'`.
///
/// ```
/// use runner_executor::script::escape;
/// assert_eq!(escape("abc/d.e"), "abc/d.e");
/// assert_eq!(escape(""), "''");
/// assert_eq!(escape("it's $HOME\n"), "$'it\\'s $HOME\\n'");
/// ```
pub fn escape(text: &str) -> String {
    if text.is_empty() {
        return "''".to_owned();
    }
    if text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b",./@_-".contains(&b))
    {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 3);
    out.push_str("$'");
    for byte in text.bytes() {
        match byte {
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            0x0b => out.push_str("\\v"),
            0x0c => out.push_str("\\f"),
            b'\r' => out.push_str("\\r"),
            b'\'' => out.push_str("\\'"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(byte)),
            other => out.push_str(&format!("\\x{other:02x}")),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_controls_and_non_ascii() {
        assert_eq!(escape("\x1b[32;1m"), "$'\\x1b[32;1m'");
        assert_eq!(escape("é"), "$'\\xc3\\xa9'");
    }

    proptest! {
        #[test]
        fn escaped_text_is_one_safe_word(text in ".*") {
            let escaped = escape(&text);
            let plain = escaped.bytes().all(|b| b.is_ascii_alphanumeric() || b",./@_-".contains(&b));
            prop_assert!(plain || escaped == "''" || (escaped.starts_with("$'") && escaped.ends_with('\'')));
            prop_assert!(!escaped.contains('\n'));
        }
    }
}
