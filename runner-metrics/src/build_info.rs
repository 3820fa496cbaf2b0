//! Build facts exported as `gitlab_runner_version_info`.

use prometheus_client::encoding::EncodeLabelSet;

/// Labels of `gitlab_runner_version_info` (constant 1). The binary fills them from its build.
#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct BuildInfo {
    /// Product name; `gitlab-runner` keeps upstream dashboards working.
    pub name: String,
    /// Version, e.g. `19.4.0`.
    pub version: String,
    /// Source revision, 8 characters.
    pub revision: String,
    /// Branch built from.
    pub branch: String,
    /// Toolchain that built the binary (upstream's label name is kept: it holds the Rust
    /// version here).
    pub go_version: String,
    /// Build time, e.g. `2026-08-20T10:00:00+0000`.
    pub built_at: String,
    /// Operating system in Go's naming (`linux`, `darwin`, `windows`).
    pub os: String,
    /// CPU architecture in Go's naming (`amd64`, `arm64`, ...).
    pub architecture: String,
}

impl BuildInfo {
    /// Build facts with `name = "gitlab-runner"` and the OS and architecture this crate was
    /// compiled for; the other fields are the given version and empty strings.
    ///
    /// ```
    /// let info = runner_metrics::BuildInfo::new("0.1.0");
    /// assert_eq!(info.name, "gitlab-runner");
    /// assert!(!info.architecture.is_empty());
    /// ```
    pub fn new(version: impl Into<String>) -> Self {
        Self {
            name: "gitlab-runner".to_owned(),
            version: version.into(),
            revision: String::new(),
            branch: String::new(),
            go_version: String::new(),
            built_at: String::new(),
            os: go_os(std::env::consts::OS).to_owned(),
            architecture: go_arch(std::env::consts::ARCH).to_owned(),
        }
    }
}

fn go_os(os: &str) -> &str {
    match os {
        "macos" => "darwin",
        other => other,
    }
}

fn go_arch(arch: &str) -> &str {
    match arch {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_names_become_go_names() {
        assert_eq!(go_arch("x86_64"), "amd64");
        assert_eq!(go_arch("aarch64"), "arm64");
        assert_eq!(go_arch("s390x"), "s390x");
        assert_eq!(go_os("macos"), "darwin");
        assert_eq!(go_os("linux"), "linux");
    }
}
