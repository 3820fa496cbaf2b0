//! Sources: `get_sources` runs git in the helper container, the script sees the checkout.

use runner_executor::test_util::git_repo;
use runner_executor::{JobSpec, Variable};
use runner_executor_docker::{DockerExecutor, DockerSettings};

use crate::support::{leftovers, run, settings, short_token};

#[tokio::test]
#[ignore = "needs docker"]
async fn clone_runs_in_the_helper_and_the_build_sees_the_checkout() {
    let token = short_token();
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("origin");
    let commits = git_repo(&repo, &[("a.txt", "first\n"), ("b.txt", "second\n")]);
    let repo_path = repo.display().to_string();
    let settings = DockerSettings {
        volumes: vec![format!("{repo_path}:{repo_path}:ro")],
        ..settings()
    };
    let executor = DockerExecutor::new(settings);
    let runner_token = token.clone();
    let spec = JobSpec::builder(7, "glcbt-test-token")
        .variable(Variable::new("GIT_STRATEGY", "clone"))
        .repo(format!("file://{repo_path}"), commits[0].clone(), "main")
        .refspecs(["+refs/heads/main:refs/remotes/origin/main"])
        .script(["pwd", "cat a.txt", "test ! -e b.txt", "git rev-parse HEAD"])
        .runner(move |runner| runner.short_token = runner_token)
        .build();
    let (outcome, trace) = run(&executor, spec, None).await;
    assert!(outcome.is_success(), "{trace}");
    assert!(trace.contains("Created fresh repository."), "{trace}");
    assert!(trace.contains("\nfirst\n"), "{trace}");
    assert!(trace.contains(&commits[0]), "{trace}");
    assert!(trace.contains("/builds/"), "{trace}");
    assert_eq!(leftovers(&token).await, (0, 0, 0));
}
