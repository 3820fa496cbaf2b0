//! Records build facts (git revision and branch, commit time, compiler) for the runner's
//! version: `--version`, the User-Agent, the runner info sent to GitLab, `CI_RUNNER_REVISION`
//! and `gitlab_runner_version_info` all read them from `runner_agent::version`.

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
    // The commit's date, not the wall clock: the same source builds the same binary.
    let built = git(&[
        "show",
        "-s",
        "--format=%cd",
        "--date=format:%Y-%m-%dT%H:%M:%S%z",
        "HEAD",
    ])
    .unwrap_or_else(|| "unknown".to_owned());
    let rustc = rustc_version();
    println!("cargo:rustc-env=RUNNER_BUILD_REVISION={revision}");
    println!("cargo:rustc-env=RUNNER_BUILD_BRANCH={branch}");
    println!("cargo:rustc-env=RUNNER_BUILD_TIME={built}");
    println!(
        "cargo:rustc-env=RUNNER_BUILD_RUSTC={}",
        rustc.as_deref().unwrap_or("unknown")
    );
    // Re-run when HEAD moves (a checkout) or the branch it names gets a commit, so ordinary
    // edits do not rebuild the binary twice.
    println!("cargo:rerun-if-changed=../.git/HEAD");
    if let Ok(head) = std::fs::read_to_string("../.git/HEAD")
        && let Some(reference) = head.trim().strip_prefix("ref: ")
        && std::path::Path::new("../.git").join(reference).exists()
    {
        println!("cargo:rerun-if-changed=../.git/{reference}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}

fn rustc_version() -> Option<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let output = Command::new(rustc).arg("--version").output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    text.split_whitespace().nth(1).map(str::to_owned)
}
