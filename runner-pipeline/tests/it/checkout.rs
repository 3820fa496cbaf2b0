//! `LocalContext::from_checkout` against a real git repository made in a temporary directory.

use std::path::Path;
use std::process::Command;

use runner_pipeline::{Error, LocalContext, RefType};

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

#[test]
fn describes_branch_commit_and_origin() {
    let dir = tempfile::tempdir().expect("tempdir");
    git(dir.path(), &["init", "-q", "-b", "feature/x"]);
    std::fs::write(dir.path().join(".gitlab-ci.yml"), "job: {script: x}\n").expect("write");
    git(dir.path(), &["add", "."]);
    git(
        dir.path(),
        &["commit", "-q", "-m", "First commit\n\nDetails."],
    );
    git(
        dir.path(),
        &[
            "remote",
            "add",
            "origin",
            "git@gitlab.example.com:acme/tools/widgets.git",
        ],
    );
    let ctx = LocalContext::from_checkout(dir.path()).expect("a checkout");
    assert_eq!(ctx.commit_sha.len(), 40);
    assert_eq!(
        (ctx.ref_name.as_str(), ctx.ref_type),
        ("feature/x", RefType::Branch)
    );
    assert_eq!(ctx.commit_message, "First commit\n\nDetails.");
    assert_eq!(ctx.project_path, "acme/tools/widgets");
    assert_eq!(
        (ctx.project_namespace.as_str(), ctx.project_name.as_str()),
        ("acme/tools", "widgets")
    );
    assert_eq!(ctx.server_url, "https://gitlab.example.com");
    assert!(ctx.repo_url.starts_with("file:///"), "{}", ctx.repo_url);
    // The context plans and renders a payload end to end.
    let pipeline = runner_pipeline::Pipeline::load(&ctx.project_dir).expect("loads");
    let plan = pipeline.plan(&ctx, &[]).expect("plans");
    let payload = plan.jobs()[0].to_job_payload(&ctx, 1, &Default::default());
    assert_eq!(payload["git_info"]["sha"], ctx.commit_sha);
}

#[test]
fn detached_head_on_a_tag_is_a_tag_pipeline() {
    let dir = tempfile::tempdir().expect("tempdir");
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(
        dir.path(),
        &["commit", "-q", "--allow-empty", "-m", "release"],
    );
    git(dir.path(), &["tag", "v1.0.0"]);
    git(dir.path(), &["checkout", "-q", "--detach", "v1.0.0"]);
    let ctx = LocalContext::from_checkout(dir.path()).expect("a checkout");
    assert_eq!(
        (ctx.ref_name.as_str(), ctx.ref_type),
        ("v1.0.0", RefType::Tag)
    );
    // No origin: the project is named after the directory.
    assert!(
        ctx.project_path.starts_with("local/"),
        "{}",
        ctx.project_path
    );
}

#[test]
fn a_directory_that_is_not_a_checkout_is_a_git_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let error = LocalContext::from_checkout(dir.path()).expect_err("not a repository");
    assert!(
        matches!(&error, Error::Git { command, .. } if command == "rev-parse HEAD"),
        "{error:?}"
    );
}

#[test]
fn rules_changes_compare_with_the_previous_commit_the_default_branch_or_compare_to() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |path: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
        std::fs::write(path, "x\n").expect("write");
    };
    let commit = |message: &str| {
        git(dir.path(), &["add", "."]);
        git(dir.path(), &["commit", "-q", "-m", message]);
    };
    git(dir.path(), &["init", "-q", "-b", "main"]);
    write("README.md");
    commit("first");
    write("src/lib/a.rs");
    commit("second");
    let yaml = "rust: {script: x, rules: [{changes: ['src/**/*.rs']}]}\n\
                docs: {script: x, rules: [{changes: ['docs/*']}]}\n\
                readme: {script: x, rules: [{changes: {paths: [README.md], compare_to: $BASE}}]}\n";
    let planned = || -> Vec<String> {
        let mut ctx = LocalContext::from_checkout(dir.path()).expect("checkout");
        ctx.variables.push(("BASE".into(), "main".into()));
        let pipeline = runner_pipeline::Pipeline::parse(dir.path(), yaml).expect("parses");
        let plan = pipeline.plan(&ctx, &[]).expect("plans");
        plan.jobs()
            .iter()
            .map(|job| job.name().to_owned())
            .collect()
    };
    // On the default branch: the last commit's changes.
    assert_eq!(planned(), ["rust"]);
    // Uncommitted files are part of what runs.
    write("docs/guide.md");
    assert_eq!(planned(), ["rust", "docs"]);
    commit("docs");
    // Another branch: everything since the default branch; compare_to: main sees nothing.
    git(dir.path(), &["checkout", "-q", "-b", "feature"]);
    write("src/b.rs");
    commit("feature");
    assert_eq!(planned(), ["rust"]);
}

#[test]
fn cache_key_files_commits_is_the_sha1_of_the_last_commit_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    git(dir.path(), &["init", "-q", "-b", "main"]);
    std::fs::write(dir.path().join("Gemfile.lock"), "GEM\n").expect("write");
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "lock"]);
    let ctx = LocalContext::from_checkout(dir.path()).expect("checkout");
    let yaml = "job:\n  script: x\n  cache:\n    key: {files_commits: [Gemfile.lock], prefix: gems}\n    paths: [vendor/]\n";
    let pipeline = runner_pipeline::Pipeline::parse(dir.path(), yaml).expect("parses");
    let plan = pipeline.plan(&ctx, &[]).expect("plans");
    let payload = plan.jobs()[0].to_job_payload(&ctx, 1, &std::collections::HashMap::new());
    let digest = Command::new("sh")
        .args(["-c", &format!("printf %s {} | sha1sum", ctx.commit_sha)])
        .output()
        .expect("sha1sum runs");
    let digest = String::from_utf8_lossy(&digest.stdout)[..40].to_owned();
    assert_eq!(payload["cache"][0]["key"], format!("gems-{digest}"));
}
