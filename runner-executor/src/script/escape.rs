//! Quoting (executors.md §4.10): bash's ANSI-C `$'...'` escaping like upstream's default, and
//! POSIX single quotes for `sh` scripts.

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
    if is_plain(text) {
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

/// Quotes `text` as one POSIX shell word: `[A-Za-z0-9,./@_-]+` as-is, `''` for empty, else
/// single quotes, a `'` written as `'\''`. Every other byte stays literal, which dash reads
/// back unchanged where it would take `$'...'` for a `$` and a quoted string.
///
/// ```
/// use runner_executor::script::escape_posix;
/// assert_eq!(escape_posix("abc/d.e"), "abc/d.e");
/// assert_eq!(escape_posix(""), "''");
/// assert_eq!(escape_posix("it's $HOME\n"), "'it'\\''s $HOME\n'");
/// ```
pub fn escape_posix(text: &str) -> String {
    if text.is_empty() {
        return "''".to_owned();
    }
    if is_plain(text) {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', "'\\''"))
}

fn is_plain(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b",./@_-".contains(&b))
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

    /// What `sh -c 'printf %s <word>'` prints.
    fn printed_by(shell: &str, word: &str) -> Vec<u8> {
        let output = std::process::Command::new(shell)
            .arg("-c")
            .arg(format!("printf %s {word}"))
            .output()
            .unwrap();
        output.stdout
    }

    #[test]
    fn posix_words_read_back_in_dash_and_bash() {
        for text in [
            "plain",
            "it's",
            "a b\nc\td",
            "'$(touch x)'\\",
            "\x1b[0;m é",
            "''",
        ] {
            let word = escape_posix(text);
            assert_eq!(printed_by("sh", &word), text.as_bytes(), "sh: {word}");
            assert_eq!(printed_by("bash", &word), text.as_bytes(), "bash: {word}");
        }
    }

    proptest! {
        #[test]
        fn escaped_text_is_one_safe_word(text in ".*") {
            let escaped = escape(&text);
            let plain = escaped.bytes().all(|b| b.is_ascii_alphanumeric() || b",./@_-".contains(&b));
            prop_assert!(plain || escaped == "''" || (escaped.starts_with("$'") && escaped.ends_with('\'')));
            prop_assert!(!escaped.contains('\n'));
        }

        #[test]
        fn posix_text_is_one_single_quoted_word(text in ".*") {
            let escaped = escape_posix(&text);
            let unquoted = escaped.replace("'\\''", "");
            prop_assert!(is_plain(&escaped) || escaped == "''" || (unquoted.starts_with('\'') && unquoted.ends_with('\'') && !unquoted[1..unquoted.len() - 1].contains('\'')));
        }
    }
}
