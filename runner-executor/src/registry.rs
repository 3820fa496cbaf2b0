//! Registry names as credentials spell them: `DOCKER_AUTH_CONFIG` keys are often URLs
//! (`https://registry.example.com:5000/v1/`), the job payload gives hosts, and Docker Hub
//! has several names. Both container executors match credentials to images with these.

/// The registry host (and port) a credentials key names, lower-cased:
/// `https://Registry.example.com:5000/v1/` → `registry.example.com:5000`.
pub fn registry_host(key: &str) -> String {
    let without_scheme = key.split_once("://").map_or(key, |(_, rest)| rest);
    without_scheme
        .split('/')
        .next()
        .unwrap_or(without_scheme)
        .to_ascii_lowercase()
}

/// Whether two registry hosts (see [`registry_host`]) are the same registry; Docker Hub's
/// names are one registry.
pub fn same_registry(a: &str, b: &str) -> bool {
    let docker_hub = |host: &str| {
        matches!(
            host,
            "docker.io" | "index.docker.io" | "registry-1.docker.io"
        )
    };
    a == b || (docker_hub(a) && docker_hub(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_reduce_to_their_host() {
        assert_eq!(
            registry_host("https://Registry.Example.com:5000/v1/"),
            "registry.example.com:5000"
        );
        assert_eq!(
            registry_host("registry.example.com"),
            "registry.example.com"
        );
        assert_eq!(registry_host("localhost:5000/path"), "localhost:5000");
    }

    #[test]
    fn docker_hub_names_are_one_registry() {
        assert!(same_registry("index.docker.io", "docker.io"));
        assert!(same_registry("r.example", "r.example"));
        assert!(!same_registry("r.example", "docker.io"));
        assert!(!same_registry("r.example:5000", "r.example"));
    }
}
