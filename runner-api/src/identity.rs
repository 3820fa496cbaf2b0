//! Runner identity helpers: the `system_id` of this machine and the User-Agent.

use rand::Rng;

/// Generates a new runner-manager `system_id`: `s_` followed by 12 lowercase hex digits.
///
/// The randomness comes from `rng` so tests can pass a seeded generator.
/// The binary stores the value next to `config.toml` and reuses it.
pub fn generate_system_id(rng: &mut impl Rng) -> String {
    let mut id = String::with_capacity(14);
    id.push_str("s_");
    for _ in 0..12 {
        let digit: u32 = rng.random_range(0..16);
        if let Some(character) = char::from_digit(digit, 16) {
            id.push(character);
        }
    }
    id
}

/// Whether `value` is a valid stored `system_id` (`^[sr]_[0-9a-zA-Z]{12}$`).
pub fn is_valid_system_id(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() == 14
        && (bytes[0] == b's' || bytes[0] == b'r')
        && bytes[1] == b'_'
        && bytes[2..].iter().all(u8::is_ascii_alphanumeric)
}

/// The User-Agent sent to the coordinator and reused for git (`http.userAgent`):
/// `gitlab-runner-rs <version> <os>/<arch>` with Go's platform names.
pub fn user_agent() -> String {
    format!(
        "gitlab-runner-rs {} {}/{}",
        env!("CARGO_PKG_VERSION"),
        go_os(),
        go_arch()
    )
}

/// The operating system in Go's naming (`linux`, `darwin`, `windows`, `freebsd`).
pub fn go_os() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    }
}

/// The CPU architecture in Go's naming (`amd64`, `arm64`, `386`, `arm`, ...).
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn system_id_has_the_stored_format() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..100 {
            let id = generate_system_id(&mut rng);
            assert!(is_valid_system_id(&id), "{id}");
            assert!(
                id[2..]
                    .bytes()
                    .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
            );
        }
    }

    #[test]
    fn system_id_validation_rejects_bad_values() {
        assert!(is_valid_system_id("r_AbC123xyz789"));
        assert!(!is_valid_system_id("x_0123456789ab"));
        assert!(!is_valid_system_id("s_0123456789a"));
        assert!(!is_valid_system_id("s_0123456789a-"));
    }

    #[test]
    fn user_agent_names_runner_version_and_platform() {
        let agent = user_agent();
        assert!(agent.starts_with("gitlab-runner-rs 0."), "{agent}");
        assert!(
            agent.ends_with(&format!("{}/{}", go_os(), go_arch())),
            "{agent}"
        );
    }
}
