//! `with_user` (`run --user`): stages run through `su` as another user, own what they create,
//! and still stop on cancel. These need root (to `su` and `useradd`); as another user they skip.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::OnceLock;

use runner_executor::{Cancellation, CancellationToken, Variable};
use runner_executor_shell::{JobUser, ShellExecutor};

use crate::support::{job, run_with, workdir};

const TEST_USER: &str = "gitlab-runner-rs-test";

/// The test user, created when missing; `None` (the test skips) when not root.
fn test_user() -> Option<JobUser> {
    static USER: OnceLock<Option<JobUser>> = OnceLock::new();
    USER.get_or_init(|| {
        if !nix::unistd::getuid().is_root() {
            eprintln!("skipped: running jobs as another user needs root");
            return None;
        }
        if JobUser::lookup(TEST_USER).is_err() {
            // Another test binary may create it at the same time: look it up again after.
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
        Some(JobUser::lookup(TEST_USER).expect("the test user exists"))
    })
    .clone()
}

/// A working directory the test user can reach (temp directories are 0700).
fn reachable_workdir() -> tempfile::TempDir {
    let dir = workdir();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod the working directory");
    dir
}

fn owner(path: &Path) -> u32 {
    std::fs::metadata(path).expect("metadata").uid()
}

#[tokio::test]
async fn stages_run_as_the_user_and_own_what_they_create() {
    let Some(user) = test_user() else { return };
    for shell in ["bash", "sh"] {
        let dir = reachable_workdir();
        let spec = job(dir.path())
            .runner(|runner| runner.shell = shell.to_owned())
            .variable(Variable::masked("SECRET_VALUE", "s3cr3t-value-xyz"))
            .script([
                "echo \"whoami=$(id -un)\"",
                "echo created > \"$CI_PROJECT_DIR/created.txt\"",
                "echo \"secret=$SECRET_VALUE\"",
            ])
            .build();
        let executor = ShellExecutor::new(dir.path()).with_user(user.clone());
        let done = run_with(executor, spec, Cancellation::default()).await;
        assert_eq!(done.reason(), "success", "{shell}: {}", done.text);
        assert!(
            done.has_line(&format!("whoami={TEST_USER}")),
            "{}",
            done.text
        );
        assert!(done.has_line("secret=[MASKED]"), "{}", done.text);
        assert!(!done.text.contains("s3cr3t-value-xyz"));
        let builds = dir.path().join("builds");
        assert_eq!(owner(&builds), user.uid(), "builds root");
        assert_eq!(owner(&dir.path().join("cache")), user.uid(), "cache root");
        let created = find(&builds, "created.txt").expect("the job's file");
        assert_eq!(owner(&created), user.uid(), "{}", created.display());
    }
}

#[tokio::test]
async fn get_sources_without_git_runs_as_the_user_too() {
    let Some(user) = test_user() else { return };
    let dir = reachable_workdir();
    // `GIT_STRATEGY=none` makes `get_sources` a plain `mkdir -p`, which the executor would
    // otherwise run in-process as root.
    let spec = job(dir.path()).script(["touch inside"]).build();
    let executor = ShellExecutor::new(dir.path()).with_user(user.clone());
    let done = run_with(executor, spec, Cancellation::default()).await;
    assert_eq!(done.reason(), "success", "{}", done.text);
    let inside = find(&dir.path().join("builds"), "inside").expect("the job's file");
    assert_eq!(owner(inside.parent().unwrap()), user.uid());
}

#[tokio::test]
async fn abort_kills_the_processes_running_under_su() {
    let Some(user) = test_user() else { return };
    let dir = reachable_workdir();
    let pids = dir.path().join("pids");
    std::fs::create_dir(&pids).unwrap();
    std::os::unix::fs::chown(&pids, Some(user.uid()), Some(user.gid())).unwrap();
    let pid_file = pids.join("child.pid");
    let spec = job(dir.path())
        .script([format!(
            "sleep 1000 & echo $! > {}.new; mv {0}.new {0}; wait",
            pid_file.display()
        )])
        .after_script(["echo after-script-ran"])
        .build();
    let abort = CancellationToken::new();
    let executor = ShellExecutor::new(dir.path()).with_user(user);
    let running = tokio::spawn(run_with(
        executor,
        spec,
        Cancellation::abort_only(abort.clone()),
    ));
    let pid: i32 = loop {
        if let Ok(pid) = std::fs::read_to_string(&pid_file)
            .unwrap_or_default()
            .trim()
            .parse()
        {
            break pid;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    abort.cancel();
    let done = running.await.unwrap();
    assert_eq!(done.reason(), "job_canceled", "{}", done.text);
    assert!(!done.text.contains("Session terminated"), "{}", done.text);
    assert!(
        crate::jobs::dies_soon(pid).await,
        "sleep {pid} under su survived"
    );
}

#[tokio::test]
async fn background_leftovers_under_su_are_killed_when_the_stage_ends() {
    let Some(user) = test_user() else { return };
    let dir = reachable_workdir();
    let pids = dir.path().join("pids");
    std::fs::create_dir(&pids).unwrap();
    std::os::unix::fs::chown(&pids, Some(user.uid()), Some(user.gid())).unwrap();
    let pid_file = pids.join("leftover.pid");
    let spec = job(dir.path())
        .script([format!(
            "sleep 1000 > /dev/null 2>&1 & echo $! > {}",
            pid_file.display()
        )])
        .build();
    let executor = ShellExecutor::new(dir.path()).with_user(user);
    let done = run_with(executor, spec, Cancellation::default()).await;
    assert_eq!(done.reason(), "success", "{}", done.text);
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(crate::jobs::dies_soon(pid).await, "leftover {pid} survived");
}

/// The first file named `name` under `root`.
fn find(root: &Path, name: &str) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(root).ok()?.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
        if path.is_dir()
            && let Some(found) = find(&path, name)
        {
            return Some(found);
        }
    }
    None
}
