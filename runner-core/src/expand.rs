//! `$VAR` expansion, one implementation per rule the runner follows: GitLab's job-variable
//! expansion ([`expand_variables`]: `$$` is a `$`, shell specials are empty) and Go's
//! `os.Expand` ([`expand_os`]: for `config.toml`'s environment references and Vault fields).

/// GitLab's job-variable expansion (executors.md §2.5): expands `$NAME` and `${NAME}` in
/// `value` once with `lookup`: unknown names become empty,
/// `$$` becomes `$`, special names (`$1`, `$*`, `$?`...) become empty, a lone `$` stays.
///
/// ```
/// let lookup = |name: &str| (name == "B").then(|| "b".to_owned());
/// assert_eq!(runner_core::expand_variables("a-$B-${B}-$C-$$-$", lookup), "a-b-b--$-$");
/// ```
pub fn expand_variables<S: AsRef<str>>(value: &str, lookup: impl Fn(&str) -> Option<S>) -> String {
    let bytes = value.as_bytes();
    let mut out = String::with_capacity(value.len());
    let mut last = 0;
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] != b'$' || index + 1 >= bytes.len() {
            index += 1;
            continue;
        }
        out.push_str(&value[last..index]);
        let next = bytes[index + 1];
        let (replacement, consumed) = if next == b'$' {
            (Some("$".to_owned()), 2)
        } else if next == b'{' {
            match value[index + 2..].find('}') {
                Some(end) => (
                    Some(
                        lookup(&value[index + 2..index + 2 + end])
                            .map_or_else(String::new, |v| v.as_ref().to_owned()),
                    ),
                    end + 3,
                ),
                None => (None, 1),
            }
        } else if next.is_ascii_digit() || b"*#@!?-".contains(&next) {
            (Some(String::new()), 2)
        } else {
            let name_len = bytes[index + 1..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
            if name_len == 0 {
                (None, 1)
            } else {
                (
                    Some(
                        lookup(&value[index + 1..index + 1 + name_len])
                            .map_or_else(String::new, |v| v.as_ref().to_owned()),
                    ),
                    name_len + 1,
                )
            }
        };
        match replacement {
            Some(text) => out.push_str(&text),
            None => out.push('$'),
        }
        index += consumed;
        last = index;
    }
    out.push_str(&value[last..]);
    out
}

/// Go's `os.Expand` (environment references in `config.toml`, Vault secret fields): expands
/// `$name`, `${name}` and the one-character shell specials (`$1`, `$?`, ...) in
/// `text`; undefined names become empty. Malformed references follow Go: `${}` and an
/// unclosed `${` are dropped, a `$` followed by anything else is kept.
pub fn expand_os<S: AsRef<str>>(text: &str, mut lookup: impl FnMut(&str) -> Option<S>) -> String {
    let mut output = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        output.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        let (name, consumed) = shell_name(after);
        match name {
            Some(name) => {
                if let Some(value) = lookup(name) {
                    output.push_str(value.as_ref());
                }
            }
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

    #[test]
    fn job_variables_expand_once() {
        let lookup = |name: &str| (name == "B").then_some("b-$B");
        // `$-` is a shell special (empty); an unclosed `${` stays.
        assert_eq!(
            expand_variables("a-$B-${B}-$C-$$-$-${B", lookup),
            "a-b-$B-b-$B--$-${B"
        );
        assert_eq!(expand_variables("cost: 5$", lookup), "cost: 5$");
        assert_eq!(expand_variables("$1$?x", lookup), "x");
    }

    fn check(input: &str, expected: &str) {
        let mut lookup = |name: &str| match name {
            "HOST" => Some("gitlab.example.com".to_owned()),
            "TOKEN" => Some("glrt-abc".to_owned()),
            "1" => Some("one".to_owned()),
            _ => None,
        };
        assert_eq!(expand_os(input, &mut lookup), expected, "{input}");
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
