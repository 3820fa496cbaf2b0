//! Build facts of this binary, printed by `--version` and sent as the User-Agent.

/// The version of this build, from Cargo.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git revision this binary was built from (`HEAD` outside a checkout).
pub const REVISION: &str = env!("RUNNER_BUILD_REVISION");
/// The git branch this binary was built from.
pub const BRANCH: &str = env!("RUNNER_BUILD_BRANCH");
/// When the source was committed (`2026-11-23T09:16:11+0000`), the reproducible stand-in for
/// upstream's build time.
pub const BUILT: &str = env!("RUNNER_BUILD_TIME");
/// The compiler that built this binary (`1.95.0`).
pub const RUSTC: &str = env!("RUNNER_BUILD_RUSTC");

/// The operating system name as upstream prints it (`linux`, `darwin`, ...).
pub fn os() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    }
}

/// The architecture name as upstream (Go) prints it (`amd64`, `arm64`, ...).
pub fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// The multi-line block printed by `--version`, in upstream's layout (cli.md 1.3).
///
/// Six lines as upstream's; its `GO version` line names the Rust compiler instead, and
/// `Built` is the commit's date. Scripts that parse `Version:` keep working.
pub fn long_version() -> String {
    format!(
        "Version:      {VERSION}\nGit revision: {REVISION}\nGit branch:   {BRANCH}\nRust version: {RUSTC}\nBuilt:        {BUILT}\nOS/Arch:      {os}/{arch}",
        os = os(),
        arch = arch(),
    )
}
