//! Build facts of this binary, printed by `--version` and sent as the User-Agent.

/// The version of this build, from Cargo.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git revision this binary was built from (`HEAD` outside a checkout).
pub(crate) const REVISION: &str = env!("RUNNER_BUILD_REVISION");
/// The git branch this binary was built from.
pub(crate) const BRANCH: &str = env!("RUNNER_BUILD_BRANCH");

/// The operating system name as upstream prints it (`linux`, `darwin`, ...).
pub(crate) fn os() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    }
}

/// The architecture name as upstream (Go) prints it (`amd64`, `arm64`, ...).
pub(crate) fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// The multi-line block printed by `--version`, in upstream's layout (cli.md 1.3).
///
/// The `GO version` line of upstream becomes the Rust toolchain line; scripts that
/// parse the first line (`Version:`) keep working.
pub(crate) fn long_version() -> String {
    format!(
        "Version:      {VERSION}\nGit revision: {REVISION}\nGit branch:   {BRANCH}\nRust version: {rust}\nOS/Arch:      {os}/{arch}",
        rust = env!("CARGO_PKG_RUST_VERSION"),
        os = os(),
        arch = arch(),
    )
}
