//! Object names and label values: `runner-<short>-project-<pid>-concurrent-<cpid>-<8 random>`
//! (executors.md §8.3), DNS-1123 checks and label sanitising.

use rand::Rng;

/// Longest DNS-1123 label (pod, secret and container names).
const MAX_LABEL: usize = 63;

/// The name shared by the pod and its secret: the prefix, cut so that `-` plus 8 random
/// `[a-z0-9]` fit in 63 characters.
pub(crate) fn object_name(prefix: &str, rng: &mut impl Rng) -> String {
    let mut base = sanitize_label(prefix);
    base.truncate(MAX_LABEL - 9);
    let base = base.trim_end_matches('-');
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let suffix: String = (0..8)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    format!("{base}-{suffix}")
}

/// `runner-<short>-project-<pid>-concurrent-<cpid>`.
pub(crate) fn pod_prefix(short_token: &str, project_id: i64, concurrent_project_id: u32) -> String {
    format!("runner-{short_token}-project-{project_id}-concurrent-{concurrent_project_id}")
}

/// Lower-cases and replaces everything outside `[a-z0-9-]` by `-`, trims `-` at both ends and
/// cuts to 63 characters: a valid DNS-1123 label (or empty).
pub(crate) fn sanitize_label(value: &str) -> String {
    let mapped: String = value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let mut trimmed = mapped.trim_matches('-').to_owned();
    trimmed.truncate(MAX_LABEL);
    trimmed.trim_end_matches('-').to_owned()
}

/// A label *value*: up to 63 characters of `[A-Za-z0-9._-]`, starting and ending alphanumeric.
pub(crate) fn sanitize_label_value(value: &str) -> String {
    let mapped: String = value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trim = |s: &str| {
        s.trim_matches(|c: char| !c.is_ascii_alphanumeric())
            .to_owned()
    };
    let mut value = trim(&mapped);
    value.truncate(MAX_LABEL);
    trim(&value)
}

/// Whether `value` is a DNS-1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub(crate) fn is_dns_label(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_LABEL
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-')
}

/// Whether `value` is a DNS-1123 subdomain: dot-separated labels, at most 253 characters.
pub(crate) fn is_dns_subdomain(value: &str) -> bool {
    value.len() <= 253 && value.split('.').all(is_dns_label)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn object_names_fit_in_a_label() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let name = object_name(&pod_prefix("abcdefgh", 1234, 0), &mut rng);
        assert!(
            name.starts_with("runner-abcdefgh-project-1234-concurrent-0-"),
            "{name}"
        );
        assert!(is_dns_label(&name), "{name}");
        let long = object_name(&"x".repeat(100), &mut rng);
        assert_eq!(long.len(), 63);
        assert!(is_dns_label(&long));
    }

    #[test]
    fn sanitising() {
        assert_eq!(sanitize_label("My_Group/Project"), "my-group-project");
        assert_eq!(
            sanitize_label_value("group/sub project!"),
            "group_sub_project"
        );
        assert!(is_dns_subdomain("postgres.local"));
        assert!(!is_dns_subdomain("Postgres"));
        assert!(!is_dns_label("svc_0"));
    }
}
