//! Locating the `gitlab-runner-rs` binary under test.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The binary under test: `$GITLAB_RUNNER_RS_BIN` when set (scripts/test.sh builds it once
/// before the suite), otherwise built here with cargo, once per test process.
pub fn runner_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            if let Some(path) = std::env::var_os("GITLAB_RUNNER_RS_BIN") {
                return PathBuf::from(path);
            }
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let output = Command::new(cargo)
                .args([
                    "build",
                    "-p",
                    "runner-bin",
                    "--bin",
                    "gitlab-runner-rs",
                    "--message-format=json",
                ])
                .output()
                .expect("cargo can be run");
            assert!(
                output.status.success(),
                "building gitlab-runner-rs failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
                .filter_map(|message| message["executable"].as_str().map(PathBuf::from))
                .find(|path| path.ends_with("gitlab-runner-rs"))
                .expect("cargo reports the gitlab-runner-rs executable")
        })
        .clone()
}

/// A statically linked `gitlab-runner-rs`, the binary that runs in any helper image:
/// `$GITLAB_RUNNER_RS_STATIC_BIN` when set, otherwise built once per test process with
/// `scripts/build-static.sh` (a debug build, stripped).
pub fn static_runner_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            if let Some(path) = std::env::var_os("GITLAB_RUNNER_RS_STATIC_BIN") {
                return PathBuf::from(path);
            }
            let script =
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/build-static.sh");
            let output = Command::new(script)
                .output()
                .expect("scripts/build-static.sh can be run");
            assert!(
                output.status.success(),
                "building the static gitlab-runner-rs failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let stdout = String::from_utf8_lossy(&output.stdout);
            PathBuf::from(
                stdout
                    .lines()
                    .last()
                    .expect("the script prints the binary's path"),
            )
        })
        .clone()
}
