//! Bash lines made POSIX: the lines callers render for the cache and artifact stages
//! ([`crate::TransferScripts`]) use bash's `$'...'` quoting and `echo` (through
//! [`crate::script::escape`] and [`crate::script::notice_line`]); an `sh` script gets them
//! rewritten here, so callers render each line once, whatever shell runs it.

use crate::script::escape::escape_posix;

/// `line` with every unquoted `$'...'` word turned into POSIX quoting, and a leading
/// `echo <one word>` into `printf '%s\n' <word>` (dash's `echo` interprets backslashes).
/// Text inside `'...'` and `"..."` is kept as written.
pub(crate) fn to_posix(line: &str) -> String {
    let (converted, single_word_after_echo) = convert_quotes(line);
    match converted.strip_prefix("echo ") {
        Some(word) if single_word_after_echo && !word.is_empty() => {
            format!("printf '%s\\n' {word}")
        }
        _ => converted,
    }
}

/// The converted line, and whether everything after a leading `echo ` is one shell word
/// (no unquoted blank or operator).
fn convert_quotes(line: &str) -> (String, bool) {
    let bytes = line.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(line.len());
    let after_echo = line.starts_with("echo ").then_some(5);
    let mut one_word = after_echo.is_some();
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        match byte {
            b'\'' => {
                let end = find_from(bytes, index + 1, b'\'').map_or(bytes.len(), |e| e + 1);
                out.extend_from_slice(&bytes[index..end]);
                index = end;
            }
            b'"' => {
                let end = double_quoted_end(bytes, index + 1);
                out.extend_from_slice(&bytes[index..end]);
                index = end;
            }
            b'\\' => {
                let end = (index + 2).min(bytes.len());
                out.extend_from_slice(&bytes[index..end]);
                index = end;
            }
            b'$' if bytes.get(index + 1) == Some(&b'\'') => {
                let (decoded, end) = decode_ansi_c(bytes, index + 2);
                let text = String::from_utf8_lossy(&decoded);
                out.extend_from_slice(escape_posix(&text).as_bytes());
                index = end;
            }
            _ => {
                if after_echo.is_some_and(|start| index >= start) && b" \t;&|<>()".contains(&byte) {
                    one_word = false;
                }
                out.push(byte);
                index += 1;
            }
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), one_word)
}

fn find_from(bytes: &[u8], start: usize, needle: u8) -> Option<usize> {
    bytes[start.min(bytes.len())..]
        .iter()
        .position(|b| *b == needle)
        .map(|p| p + start)
}

/// The index after the `"` closing a double-quoted string whose text starts at `start`.
fn double_quoted_end(bytes: &[u8], start: usize) -> usize {
    let mut index = start;
    while index < bytes.len() {
        match bytes[index] {
            b'\\' => index += 2,
            b'"' => return index + 1,
            _ => index += 1,
        }
    }
    bytes.len()
}

/// Decodes the text of a `$'...'` word starting at `start`; returns its bytes and the index
/// after the closing quote.
fn decode_ansi_c(bytes: &[u8], start: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut index = start;
    while index < bytes.len() {
        match bytes[index] {
            b'\'' => return (out, index + 1),
            b'\\' if index + 1 < bytes.len() => {
                let escaped = bytes[index + 1];
                index += 2;
                match escaped {
                    b'a' => out.push(0x07),
                    b'b' => out.push(0x08),
                    b'e' | b'E' => out.push(0x1b),
                    b'f' => out.push(0x0c),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'v' => out.push(0x0b),
                    b'x' => {
                        let digits = bytes[index..]
                            .iter()
                            .take(2)
                            .take_while(|b| b.is_ascii_hexdigit())
                            .count();
                        let hex = std::str::from_utf8(&bytes[index..index + digits]).unwrap_or("");
                        match u8::from_str_radix(hex, 16) {
                            Ok(value) => out.push(value),
                            Err(_) => out.extend_from_slice(b"\\x"),
                        }
                        index += digits;
                    }
                    b'0'..=b'7' => {
                        let digits = bytes[index - 1..]
                            .iter()
                            .take(3)
                            .take_while(|b| (b'0'..=b'7').contains(*b))
                            .count();
                        let octal = std::str::from_utf8(&bytes[index - 1..index - 1 + digits])
                            .unwrap_or("0");
                        out.push(u8::from_str_radix(octal, 8).unwrap_or(0));
                        index += digits - 1;
                    }
                    b'\\' | b'\'' | b'"' | b'?' => out.push(escaped),
                    other => out.extend_from_slice(&[b'\\', other]),
                }
            }
            other => {
                out.push(other);
                index += 1;
            }
        }
    }
    (out, bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::{escape, notice_line, warning_line_expanding};

    fn check(line: &str, expected: &str) {
        assert_eq!(to_posix(line), expected, "{line}");
    }

    #[test]
    fn ansi_c_words_become_single_quotes_and_echo_becomes_printf() {
        check(&notice_line("Hi"), "printf '%s\\n' '\x1b[32;1mHi\x1b[0;m'");
        check(
            &warning_line_expanding("Missing $H."),
            "printf '%s\\n' '\x1b[0;33m'\"Missing $H.\"'\x1b[0;m'",
        );
        check(
            &format!(
                "\"$H\" --url {} --path {}",
                escape("https://x/a b"),
                escape("it's")
            ),
            "\"$H\" --url 'https://x/a b' --path 'it'\\''s'",
        );
        check("if true; then", "if true; then");
        check("echo a b", "echo a b");
        check("echo", "echo");
        check("echo '$'\"$'\"", "printf '%s\\n' '$'\"$'\"");
        check("a $'\\101\\x41\\e'", "a 'AA\x1b'");
    }

    #[test]
    fn converted_lines_print_the_same_in_dash_as_in_bash() {
        let lines = [
            notice_line("Checking cache for key\\with\\backslash-1..."),
            warning_line_expanding("Missing $HOME. Extracting cache is disabled."),
            format!("printf '%s|' {} {}", escape("a b\tc"), escape("it's\n$x")),
        ];
        for line in lines {
            let run = |shell: &str, text: &str| {
                std::process::Command::new(shell)
                    .arg("-c")
                    .arg(text)
                    .env("HOME", "/home/x")
                    .output()
                    .unwrap()
                    .stdout
            };
            assert_eq!(run("sh", &to_posix(&line)), run("bash", &line), "{line}");
        }
    }
}
