//! The system user that `run --user` tests run jobs as, created when missing.

use std::sync::OnceLock;

/// The test user's name.
pub const TEST_USER: &str = "gitlab-runner-rs-test";

/// The test user (created with `useradd` when missing), or `None` when these tests cannot
/// run because the process is not root (`su` and `useradd` need it).
pub fn test_user() -> Option<nix::unistd::User> {
    static USER: OnceLock<Option<nix::unistd::User>> = OnceLock::new();
    USER.get_or_init(|| {
        if !nix::unistd::getuid().is_root() {
            eprintln!("skipped: running jobs as another user (run --user) needs root");
            return None;
        }
        if !matches!(nix::unistd::User::from_name(TEST_USER), Ok(Some(_))) {
            // Another test binary may be creating it now: whoever loses sees "exists".
            let _ = std::process::Command::new("useradd")
                .args([
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/bin/bash",
                    TEST_USER,
                ])
                .status();
        }
        let user = nix::unistd::User::from_name(TEST_USER)
            .ok()
            .flatten()
            .expect("useradd created the test user");
        Some(user)
    })
    .clone()
}
