//! Regenerates `runner-bin/link/startup.order`: runs a release `gitlab-runner-rs run` under
//! callgrind against the fake coordinator, through start-up and a few idle long polls, then
//! writes the functions of the binary that ran (see runner-bin/build.rs for why).
//!
//! ```sh
//! cargo build --release -p runner-bin
//! cargo run -p runner-e2e --bin startup-order -- target/release/gitlab-runner-rs runner-bin/link/startup.order
//! ```
//!
//! Needs valgrind. Rebuild the release binary afterwards to link with the new order.

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a developer tool reports on the terminal"
)]

use std::process::ExitCode;
use std::time::Duration;

use runner_e2e::startup_order::{coverage, functions_in_profile, order_file};
use runner_e2e::{RunnerProcess, Workspace};

/// The fake answers an empty `jobs/request` after this long, so the idle time below sees
/// several complete request cycles (request, 204, `check_interval` pause).
const LONG_POLL: Duration = Duration::from_secs(2);
/// Idle time recorded after "Configuration loaded"; it also covers the config-file checks.
const IDLE: Duration = Duration::from_secs(12);

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [binary, output] = args.as_slice() else {
        eprintln!("usage: startup-order <release gitlab-runner-rs> <order file to write>");
        return ExitCode::from(2);
    };
    // The runner starts in the workspace directory: a relative path would not reach it.
    let binary = match std::fs::canonicalize(binary) {
        Ok(binary) => binary,
        Err(error) => {
            eprintln!("startup-order: {binary}: {error}");
            return ExitCode::from(2);
        }
    };
    let Some(object_name) = binary.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        eprintln!("startup-order: {} names no file", binary.display());
        return ExitCode::from(2);
    };

    let workspace = Workspace::start(LONG_POLL).await;
    // The shape of the job-loop bench, whose idle RSS the order is for.
    let config = workspace.write_config(
        "concurrent = 8\ncheck_interval = 3",
        &["  request_concurrency = 4"],
    );
    let config = config.to_string_lossy().into_owned();
    let profile = workspace.path().join("callgrind.out");
    let profile_arg = format!("--callgrind-out-file={}", profile.display());
    let mut runner = RunnerProcess::start_wrapped(
        workspace.path(),
        &[
            "valgrind",
            "--tool=callgrind",
            "--demangle=no",
            &profile_arg,
        ],
        &binary,
        &["run", "-c", &config],
        &[],
    );
    if !runner
        .wait_for_log("Configuration loaded", Duration::from_secs(120))
        .await
    {
        eprintln!(
            "startup-order: the runner did not start under valgrind:\n{}",
            runner.log()
        );
        return ExitCode::FAILURE;
    }
    tokio::time::sleep(IDLE).await;
    // SIGQUIT: a graceful stop, so valgrind writes the profile.
    runner.signal(nix::sys::signal::Signal::SIGQUIT);
    if runner.wait(Duration::from_secs(60)).await.is_none() {
        eprintln!("startup-order: the runner did not stop:\n{}", runner.log());
        return ExitCode::FAILURE;
    }
    let Ok(text) = std::fs::read_to_string(&profile) else {
        eprintln!(
            "startup-order: valgrind wrote no profile:\n{}",
            runner.log()
        );
        return ExitCode::FAILURE;
    };
    let functions = functions_in_profile(&text, &object_name);
    if functions.is_empty() {
        eprintln!("startup-order: the profile names no function of {object_name}");
        return ExitCode::FAILURE;
    }
    let order = order_file(&functions);
    if let Err(error) = std::fs::write(output, &order) {
        eprintln!("startup-order: cannot write {output}: {error}");
        return ExitCode::FAILURE;
    }
    println!("{output}: {} functions", functions.len());
    if let Some((found, listed)) = coverage(&binary, &order) {
        println!("{found} of {listed} are symbols of {}", binary.display());
    }
    ExitCode::SUCCESS
}
