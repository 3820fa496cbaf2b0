//! `$VAR` / `${VAR}` expansion with Go's `os.Expand` rules, against a caller's lookup.

/// Expands `$name`, `${name}` and the one-character shell specials (`$1`, `$?`, ...) in
/// `text`; undefined names become empty. Malformed references follow Go: `${}` and an
/// unclosed `${` are dropped, a `$` followed by anything else is kept.
pub(crate) fn expand(text: &str, lookup: &mut impl FnMut(&str) -> Option<String>) -> String {
    let mut output = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        output.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        let (name, consumed) = shell_name(after);
        match name {
            Some(name) => output.push_str(&lookup(name).unwrap_or_default()),
            // Invalid syntax: Go drops the characters it consumed.
            None if consumed > 0 => {}
            // A `$` not followed by a name stays as it is.
            None => output.push('$'),
        }
        rest = &after[consumed..];
    }
    output.push_str(rest);
    output
}

fn is_shell_special(character: u8) -> bool {
    matches!(character, b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-')
        || character.is_ascii_digit()
}

/// Go's `getShellName`: the variable name after a `$` and how many bytes it used.
fn shell_name(text: &str) -> (Option<&str>, usize) {
    let bytes = text.as_bytes();
    match bytes.first() {
        None => (None, 0),
        Some(b'{') => {
            if bytes.len() > 2 && is_shell_special(bytes[1]) && bytes[2] == b'}' {
                return (Some(&text[1..2]), 3);
            }
            match text[1..].find('}') {
                // `${}` is invalid: drop it.
                Some(0) => (None, 2),
                Some(end) => (Some(&text[1..=end]), end + 2),
                // No closing brace: drop `${`.
                None => (None, 1),
            }
        }
        Some(first) if is_shell_special(*first) => (Some(&text[..1]), 1),
        Some(_) => {
            let length = bytes
                .iter()
                .take_while(|byte| byte.is_ascii_alphanumeric() || **byte == b'_')
                .count();
            if length == 0 {
                (None, 0)
            } else {
                (Some(&text[..length]), length)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let mut lookup = |name: &str| match name {
            "HOST" => Some("gitlab.example.com".to_owned()),
            "TOKEN" => Some("glrt-abc".to_owned()),
            "1" => Some("one".to_owned()),
            _ => None,
        };
        assert_eq!(expand(input, &mut lookup), expected, "{input}");
    }

    #[test]
    fn expands_like_go_os_expand() {
        check("https://${HOST}/", "https://gitlab.example.com/");
        check("$TOKEN", "glrt-abc");
        check("$TOKEN-suffix", "glrt-abc-suffix");
        check("${UNDEFINED}x", "x");
        check("$1st", "onest");
        check("${1}", "one");
        check("cost: 5$", "cost: 5$");
        check("a$/b", "a$/b");
        check("a${}b", "ab");
        check("a${HOST", "aHOST");
        check("no dollars", "no dollars");
    }
}
