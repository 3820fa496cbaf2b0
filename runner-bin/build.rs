//! Records build facts (git revision and branch, build time) for `--version`,
//! the User-Agent and `gitlab_runner_version_info`.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn main() {
    let revision = git(&["rev-parse", "--short=8", "HEAD"]).unwrap_or_else(|| "HEAD".to_owned());
    let branch =
        git(&["rev-parse", "--abbrev-ref", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=RUNNER_BUILD_REVISION={revision}");
    println!("cargo:rustc-env=RUNNER_BUILD_BRANCH={branch}");
    // Only re-run when HEAD moves, so ordinary edits do not rebuild the binary twice.
    println!("cargo:rerun-if-changed=../.git/HEAD");
    println!("cargo:rerun-if-changed=build.rs");
}
