//! get_sources against a local repository (file:// URL): clone, fetch, none, depth, hooks.

use runner_executor::test_util::git_repo;
use runner_executor::{JobSpecBuilder, Variable};

use crate::support::{job, run, workdir};

/// A job that checks out `sha` of the repository at `repo` with `strategy`.
fn git_job(
    dir: &std::path::Path,
    repo: &std::path::Path,
    sha: &str,
    strategy: &str,
) -> JobSpecBuilder {
    job(dir)
        .variable(Variable::new("GIT_STRATEGY", strategy))
        .repo(format!("file://{}", repo.display()), sha, "main")
        .refspecs(["+refs/heads/main:refs/remotes/origin/main"])
}

#[tokio::test]
async fn clone_checks_out_the_commit() {
    let dir = workdir();
    let repo = dir.path().join("origin");
    let commits = git_repo(&repo, &[("a.txt", "first\n"), ("b.txt", "second\n")]);
    let spec = git_job(dir.path(), &repo, &commits[0], "clone")
        .runner(|r| r.pre_get_sources_script = Some("echo pre-clone-hook".to_owned()))
        .script([
            "cat a.txt",
            "test ! -e b.txt",
            "git rev-parse HEAD",
            "git config --get remote.origin.url",
        ])
        .build();
    let done = run(dir.path(), spec).await;
    assert!(done.outcome.is_success(), "{}", done.text);
    assert!(done.has_line("pre-clone-hook"));
    assert!(done.has_line("Fetching changes..."));
    assert!(done.has_line("Created fresh repository."), "{}", done.text);
    let short = &commits[0][..8];
    assert!(done.has_line(&format!(
        "Checking out {short} as detached HEAD (ref is main)..."
    )));
    assert!(done.has_line("Skipping Git submodules setup"));
    assert!(done.has_line("first"));
    assert!(done.has_line(&commits[0]));
    assert!(done.has_line(&format!("file://{}", repo.display())));
}

#[tokio::test]
async fn fetch_reuses_the_repository() {
    let dir = workdir();
    let repo = dir.path().join("origin");
    let commits = git_repo(&repo, &[("a.txt", "first\n"), ("b.txt", "second\n")]);
    let first = run(
        dir.path(),
        git_job(dir.path(), &repo, &commits[0], "fetch")
            .script(["touch untracked"])
            .build(),
    )
    .await;
    assert!(first.outcome.is_success(), "{}", first.text);
    assert!(first.has_line("Created fresh repository."));
    let second = run(
        dir.path(),
        git_job(dir.path(), &repo, &commits[1], "fetch")
            .script(["cat b.txt", "test ! -e untracked"])
            .build(),
    )
    .await;
    assert!(second.outcome.is_success(), "{}", second.text);
    assert!(
        second
            .text
            .contains("Reinitialized existing Git repository"),
        "{}",
        second.text
    );
    assert!(!second.has_line("Created fresh repository."));
    assert!(second.has_line("second"));
}

#[tokio::test]
async fn strategy_none_skips_git_and_pre_hooks() {
    let dir = workdir();
    let spec = job(dir.path())
        .runner(|r| r.pre_get_sources_script = Some("echo pre-clone-hook".to_owned()))
        .script(["ls -A | wc -l"])
        .build();
    let done = run(dir.path(), spec).await;
    assert!(done.outcome.is_success(), "{}", done.text);
    assert!(done.has_line("Skipping Git repository setup"));
    assert!(done.has_line("Skipping Git checkout"));
    assert!(done.has_line("Skipping Git submodules setup"));
    assert!(!done.text.contains("pre-clone-hook"));
}

#[tokio::test]
async fn depth_one_gives_a_shallow_clone() {
    let dir = workdir();
    let repo = dir.path().join("origin");
    let commits = git_repo(
        &repo,
        &[("a.txt", "1\n"), ("b.txt", "2\n"), ("c.txt", "3\n")],
    );
    let spec = git_job(dir.path(), &repo, &commits[2], "clone")
        .depth(1)
        .script([
            "git rev-parse --is-shallow-repository",
            "git rev-list --count HEAD",
        ])
        .build();
    let done = run(dir.path(), spec).await;
    assert!(done.outcome.is_success(), "{}", done.text);
    assert!(done.has_line("Fetching changes with git depth set to 1..."));
    assert!(done.has_line("true"));
    assert!(done.has_line("1"), "{}", done.text);
}

#[tokio::test]
async fn clone_failure_fails_get_sources_and_skips_steps() {
    let dir = workdir();
    let missing = dir.path().join("does-not-exist");
    let spec = git_job(dir.path(), &missing, "0123456789abcdef", "clone")
        .script(["echo step-ran"])
        .after_script(["echo after-ran"])
        .build();
    let done = run(dir.path(), spec).await;
    assert_eq!(done.reason(), "script_failure");
    assert_eq!(done.exit_code(), Some(128), "{}", done.text);
    assert!(!done.text.contains("step-ran"));
    assert!(!done.text.contains("after-ran"));
    assert!(done.text.contains("Cleaning up project directory"));
}

#[tokio::test]
async fn token_is_not_persisted_in_git_config_nor_printed() {
    let dir = workdir();
    let spec = job(dir.path())
        .variable(Variable::new("GIT_STRATEGY", "clone"))
        .repo(
            "https://gitlab-ci-token:glcbt-jobtoken-0123456789@127.0.0.1:1/group/project.git",
            "0123abcd",
            "main",
        )
        .script(["echo step-ran"])
        .build();
    let done = run(dir.path(), spec).await;
    assert_eq!(done.reason(), "script_failure", "{}", done.text);
    assert!(!done.text.contains("jobtoken"), "{}", done.text);
    let config = std::fs::read_to_string(
        dir.path()
            .join("builds/abcdefghi/0/group/project/.git/config"),
    )
    .unwrap();
    assert!(
        config.contains("url = https://127.0.0.1:1/group/project.git"),
        "{config}"
    );
    assert!(!config.contains("jobtoken"), "{config}");
}
