//! Cache keys (executors.md §5.4): upstream's sanitising, the `-protected` guard on
//! `CACHE_FALLBACK_KEY`, `policy` and `when`.

use std::str::FromStr;

/// A key that could not be sanitised: it is empty after cleaning.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cache key {raw:?} could not be sanitized")]
pub struct UnsanitizableKey {
    /// The key as given.
    pub raw: String,
}

/// Sanitises a cache key as upstream does: `%2f`/`%2F` become `/`, `%2e`/`%2E` become `.`,
/// `\` becomes `/`, `.` and `..` are resolved against a virtual root (so the key cannot
/// escape), and trailing whitespace is dropped from the last segments.
///
/// Returns the clean key (log `cache key "<raw>" sanitized to "<clean>"` when it differs),
/// or an error whose message is upstream's warning; callers then print
/// `Skipping cache extraction due to empty cache key`.
///
/// ```
/// use runner_artifacts::sanitize_cache_key;
/// assert_eq!(sanitize_cache_key("..%2F..%2Fetc/passwd").unwrap(), "etc/passwd");
/// assert_eq!(sanitize_cache_key("main \\ build ").unwrap(), "main / build");
/// assert!(sanitize_cache_key("../ ").is_err());
/// ```
pub fn sanitize_cache_key(raw: &str) -> Result<String, UnsanitizableKey> {
    if raw.is_empty() {
        return Ok(String::new());
    }
    let replaced = normalise(raw);
    let mut segments: Vec<&str> = Vec::new();
    for segment in replaced.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut owned: Vec<String> = segments
        .iter()
        .map(|segment| (*segment).to_owned())
        .collect();
    while let Some(last) = owned.last_mut() {
        let trimmed = last.trim_end().to_owned();
        if trimmed.is_empty() {
            owned.pop();
        } else {
            *last = trimmed;
            break;
        }
    }
    let key = owned.join("/");
    if key.is_empty() {
        return Err(UnsanitizableKey {
            raw: raw.to_owned(),
        });
    }
    Ok(key)
}

/// One left-to-right pass like Go's `strings.Replacer`.
fn normalise(raw: &str) -> String {
    let mut output = String::with_capacity(raw.len());
    let mut rest = raw;
    while !rest.is_empty() {
        if let Some(tail) = ["%2f", "%2F"]
            .iter()
            .find_map(|prefix| rest.strip_prefix(prefix))
        {
            output.push('/');
            rest = tail;
        } else if let Some(tail) = ["%2e", "%2E"]
            .iter()
            .find_map(|prefix| rest.strip_prefix(prefix))
        {
            output.push('.');
            rest = tail;
        } else if let Some(tail) = rest.strip_prefix('\\') {
            output.push('/');
            rest = tail;
        } else {
            let mut chars = rest.chars();
            if let Some(next) = chars.next() {
                output.push(next);
            }
            rest = chars.as_str();
        }
    }
    output
}

/// Whether `CACHE_FALLBACK_KEY` may be used: it must not end in `-protected` (ignoring
/// trailing dots and spaces). When refused, log
/// `CACHE_FALLBACK_KEY "<key>" not allowed to end in "-protected"`.
pub fn is_allowed_fallback_key(key: &str) -> bool {
    !key.trim_end_matches(['.', ' ']).ends_with("-protected")
}

/// The cache `policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CachePolicy {
    /// Restore and save (also the empty value).
    #[default]
    PullPush,
    /// Restore only.
    Pull,
    /// Save only.
    Push,
}

/// An unknown cache policy: `unknown cache policy <p>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown cache policy {0}")]
pub struct UnknownPolicy(pub String);

impl FromStr for CachePolicy {
    type Err = UnknownPolicy;
    fn from_str(text: &str) -> Result<Self, UnknownPolicy> {
        match text {
            "" | "pull-push" => Ok(Self::PullPush),
            "pull" => Ok(Self::Pull),
            "push" => Ok(Self::Push),
            other => Err(UnknownPolicy(other.to_owned())),
        }
    }
}

impl CachePolicy {
    /// Whether the restore stage downloads (else `Not downloading cache <key> due to policy`).
    pub fn allows_pull(self) -> bool {
        matches!(self, Self::PullPush | Self::Pull)
    }

    /// Whether the archive stage uploads (else `Not uploading cache <key> due to policy`).
    pub fn allows_push(self) -> bool {
        matches!(self, Self::PullPush | Self::Push)
    }
}

/// `when` of an artifact or cache entry: the runner's one definition.
pub use runner_core::When;

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str, expected: Option<&str>) {
        assert_eq!(sanitize_cache_key(raw).ok().as_deref(), expected, "{raw:?}");
    }

    #[test]
    fn keys_sanitise_as_upstream() {
        check("default-protected", Some("default-protected"));
        check("a/b/../c", Some("a/c"));
        check("%2e%2e%2fsecret", Some("secret"));
        check("key with trailing space  ", Some("key with trailing space"));
        check("a/  /  ", Some("a"));
        check("..", None);
        check(" ", None);
        check("", Some(""));
        check("a\\b", Some("a/b"));
    }

    #[test]
    fn protected_fallback_keys_are_refused() {
        assert!(!is_allowed_fallback_key("main-protected"));
        assert!(!is_allowed_fallback_key("main-protected. ."));
        assert!(is_allowed_fallback_key("main-non_protected"));
    }

    #[test]
    fn policies_and_whens_parse() {
        assert_eq!("".parse::<CachePolicy>(), Ok(CachePolicy::PullPush));
        assert!(!CachePolicy::Pull.allows_push());
        assert!(!CachePolicy::Push.allows_pull());
        assert_eq!(
            "bogus".parse::<CachePolicy>().unwrap_err().to_string(),
            "unknown cache policy bogus"
        );
        assert!(When::parse("").unwrap().applies(true));
        assert!(!When::OnFailure.applies(true));
        assert!(When::Always.applies(false));
    }
}
