//! The runner's "short token": how logs, metric labels, build paths and `list` name a runner
//! without showing its token.

const PARTITION_PREFIXES: [&str; 3] = ["t1_", "t2_", "t3_"];
const SHORT_TOKEN_LEN: usize = 9;

/// Upstream's `ShortenToken`: three prefix rules applied one after the other (a runner
/// authentication token prefix `glrt-` with an optional `t1_`..`t3_` partition, a bare partition
/// prefix or `glrtr-`; then a job token's `glcbt-`; then an old registration token's `GR` + 7 hex
/// digits), then the first 9 characters. Rules compose: `glrt-GR1348941abc…` is `abc…`.
///
/// ```
/// assert_eq!(runner_core::short_token("glrt-t1_t9Wkyj-HGRkqQ-VWTGAr"), "t9Wkyj-HG");
/// assert_eq!(runner_core::short_token("glrt-GR1348941abcdefghijk"), "abcdefghi");
/// ```
pub fn short_token(token: &str) -> &str {
    let mut rest = token;
    // Rule 1: a runner authentication token prefix, or a bare partition prefix.
    if let Some(after) = rest.strip_prefix("glrt-") {
        rest = strip_partition(after);
    } else if let Some(after) = PARTITION_PREFIXES
        .iter()
        .find_map(|prefix| rest.strip_prefix(prefix))
    {
        rest = after;
    } else if let Some(after) = rest.strip_prefix("glrtr-") {
        rest = after;
    }
    // Rule 2: a job token prefix.
    if let Some(after) = rest.strip_prefix("glcbt-") {
        rest = after;
    }
    // Rule 3: an old registration token, `GR` and seven hex digits.
    if let Some(after) = rest.strip_prefix("GR") {
        if after.len() >= 7 && after.as_bytes()[..7].iter().all(u8::is_ascii_hexdigit) {
            rest = &after[7..];
        }
    }
    take_chars(rest, SHORT_TOKEN_LEN)
}

fn strip_partition(token: &str) -> &str {
    PARTITION_PREFIXES
        .iter()
        .find_map(|prefix| token.strip_prefix(prefix))
        .unwrap_or(token)
}

/// The first `count` bytes, backed off to a character boundary (tokens are ASCII).
fn take_chars(text: &str, count: usize) -> &str {
    let mut end = count.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_token_matches_upstream_cases() {
        let cases = [
            ("short", "short"),
            ("veryverylongtoken", "veryveryl"),
            ("t1_t9Wkyj-HGRkqQ-VWTGAr", "t9Wkyj-HG"),
            ("t3_t9Wkyj-HGRkqQ-VWTGAr", "t9Wkyj-HG"),
            ("t4_t9Wkyj-HGRkqQ-VWTGAr", "t4_t9Wkyj"),
            ("glrt-t9Wkyj-HGRkqQ-VWTGAr", "t9Wkyj-HG"),
            ("glrt-t1_t9Wkyj-HGRkqQ-VWTGAr", "t9Wkyj-HG"),
            ("glrtr-t9Wkyj-HGRkqQ-VWTGAr", "t9Wkyj-HG"),
            ("glrtr-t1_t9Wkyj-HGRkqQ-VWTGAr", "t1_t9Wkyj"),
            ("glcbt-t9Wkyj-HGRkqQ-VWTGAr", "t9Wkyj-HG"),
            ("glcbt-t2_t9Wkyj-HGRkqQ-VWTGAr", "t2_t9Wkyj"),
            ("GR1348941Z196cJVywzZpx_Ki_Cn2", "Z196cJVyw"),
            ("GR134894-196cJVywzZpx_Ki_Cn2", "GR134894-"),
            ("glrt-GR1348941abcdefghijk", "abcdefghi"),
            ("", ""),
        ];
        for (token, short) in cases {
            assert_eq!(short_token(token), short, "{token}");
        }
    }
}
