//! Lays out the release binary for a small idle footprint (see
//! [`link_for_small_idle_footprint`]). The build facts of `--version` are recorded by
//! `runner-agent`'s build script.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    link_for_small_idle_footprint(rustc_version().as_deref());
}

/// Release builds on x86_64 Linux/glibc: an idle `run` keeps resident every page of code it
/// touched, and the kernel maps 64 KiB around each page fault. Two link options shrink that
/// (issue #4, idle RSS 10 MB -> 5.5 MB):
///
/// - `link/startup.order` lists the functions that start-up and the idle poll loop run
///   (recorded with callgrind by `cargo run -p runner-e2e --bin startup-order`); lld places
///   them first and together, so they fill about 1 MB of contiguous code instead of touching
///   some 80 scattered 64 KiB windows. A name that no longer exists is skipped silently, so a
///   stale list costs memory, never correctness; the job-loop bench prints how much of it
///   still matches.
/// - `-z pack-relative-relocs` (DT_RELR) stores the 20,000 relative relocations of the
///   position-independent binary in a few kilobytes instead of 500 KB that the dynamic loader
///   reads at every start.
///
/// `--symbol-ordering-file` is an lld option: it is passed only where lld is the linker,
/// i.e. rustc >= 1.90 on x86_64-unknown-linux-gnu with no linker chosen by the user. DT_RELR
/// needs glibc >= 2.36 at run time. `GITLAB_RUNNER_RS_PLAIN_LINK=1` turns both off.
fn link_for_small_idle_footprint(rustc_version: Option<&str>) {
    println!("cargo:rerun-if-env-changed=GITLAB_RUNNER_RS_PLAIN_LINK");
    let target = std::env::var("TARGET").unwrap_or_default();
    let profile = std::env::var("PROFILE").unwrap_or_default();
    if target != "x86_64-unknown-linux-gnu"
        || profile != "release"
        || std::env::var_os("GITLAB_RUNNER_RS_PLAIN_LINK").is_some_and(|v| v != "0")
        || user_chose_linker()
    {
        return;
    }
    let rustc_minor = rustc_version
        .and_then(|version| version.split('.').nth(1))
        .and_then(|minor| minor.parse::<u32>().ok());
    if rustc_minor.is_some_and(|minor| minor >= 90) {
        let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_owned());
        let order = format!("{dir}/link/startup.order");
        println!("cargo:rerun-if-changed={order}");
        println!("cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={order}");
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
    if glibc_minor_version().is_some_and(|minor| minor >= 36) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether the build names its own linker or linker flavour, which may not be lld.
fn user_chose_linker() -> bool {
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER");
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    flags.contains("linker")
        || std::env::var_os("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_some()
}

/// `rustc 1.95.0 (...)` -> `1.95.0`, from the compiler cargo runs.
fn rustc_version() -> Option<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let output = Command::new(rustc).arg("--version").output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    text.split_whitespace().nth(1).map(str::to_owned)
}

/// `glibc 2.36` -> 36, from the C library the binary links against.
fn glibc_minor_version() -> Option<u32> {
    let output = Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let version = text.split_whitespace().nth(1)?;
    let mut parts = version.split('.');
    (parts.next()? == "2").then_some(())?;
    parts.next()?.parse().ok()
}
