//! The repository jobs clone: what is in the project directory *now*, as a git commit.
//!
//! Jobs get their sources as on GitLab, by cloning a git repository in the executor's
//! `get_sources` stage. When the project directory is the root of its checkout and the
//! working tree matches `HEAD`, they clone the checkout itself (`file://`) at `HEAD`.
//! Otherwise (uncommitted or untracked files, or a project that is a subdirectory of a
//! bigger repository, like `examples/pipeline`) a snapshot commit of the directory (tracked
//! and untracked files, `.gitignore` honoured, parent `HEAD`) is written into a scratch
//! bare repository that borrows the checkout's objects (`objects/info/alternates`), and
//! jobs clone that; `CI_COMMIT_SHA` is then the snapshot's id. Nothing is written to the
//! user's repository.
//!
//! We rejected `GIT_STRATEGY: none` plus a copy of the directory: the copy would bypass the
//! executor's `get_sources` stage (so it could not work for container executors) and
//! override a job's own `GIT_STRATEGY`. Cloning the repository root and `cd`-ing into the
//! subdirectory would make `CI_PROJECT_DIR` and artifact paths disagree with the file.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use runner_pipeline::{LocalContext, RefType};

/// Points `ctx` (`repo_url`, `commit_sha`) at the sources jobs clone; `scratch` holds the
/// snapshot repository, `excludes` are left out of it (the builds directory).
///
/// Returns the host directories a clone reads (the checkout, its git directory, `scratch`):
/// a container executor mounts them, read-only, at the same paths.
pub(crate) fn prepare_sources(
    ctx: &mut LocalContext,
    scratch: &Path,
    excludes: &[&Path],
) -> anyhow::Result<Vec<PathBuf>> {
    let project = ctx.project_dir.clone();
    let mut mounts = Vec::new();
    for what in ["--show-toplevel", "--git-common-dir"] {
        let path = git(
            &project,
            &["rev-parse", "--path-format=absolute", what],
            &[],
        )?;
        let path = PathBuf::from(path);
        if !mounts.iter().any(|mount: &PathBuf| path.starts_with(mount)) {
            mounts.push(path);
        }
    }
    mounts.push(scratch.to_owned());
    let prefix = git(&project, &["rev-parse", "--show-prefix"], &[])?;
    let objects = git(
        &project,
        &[
            "rev-parse",
            "--path-format=absolute",
            "--git-path",
            "objects",
        ],
        &[],
    )?;
    let bare = scratch.join("source.git");
    git(
        scratch,
        &["init", "--quiet", "--bare", &bare.to_string_lossy()],
        &[],
    )?;
    std::fs::write(bare.join("objects/info/alternates"), format!("{objects}\n"))
        .context("could not link the snapshot repository to the checkout")?;
    let index = scratch.join("snapshot-index");
    let snapshot_env = [
        ("GIT_INDEX_FILE", index.to_string_lossy().into_owned()),
        (
            "GIT_OBJECT_DIRECTORY",
            bare.join("objects").to_string_lossy().into_owned(),
        ),
        ("GIT_ALTERNATE_OBJECT_DIRECTORIES", objects.clone()),
    ];
    let mut add: Vec<String> = ["add", "--all", "--", "."].map(str::to_owned).to_vec();
    for exclude in excludes {
        // An ignored path is left out anyway, and git refuses to be told so again.
        let Ok(relative) = exclude.strip_prefix(&project) else {
            continue;
        };
        let relative = relative.to_string_lossy();
        if git(&project, &["check-ignore", "--quiet", &relative], &[]).is_err() {
            add.push(format!(":(exclude){relative}"));
        }
    }
    let add: Vec<&str> = add.iter().map(String::as_str).collect();
    git(&project, &add, &snapshot_env)?;
    let prefix_argument = format!("--prefix={prefix}");
    let mut write_tree = vec!["write-tree"];
    if !prefix.is_empty() {
        write_tree.push(&prefix_argument);
    }
    let tree = git(&project, &write_tree, &snapshot_env)?;
    let head_tree = git(&project, &["rev-parse", &format!("HEAD:{prefix}")], &[]).ok();
    if prefix.is_empty() && head_tree.as_deref() == Some(tree.as_str()) {
        // The working tree is `HEAD`: clone the checkout itself, as GitLab would.
        return Ok(mounts);
    }
    let identity = [
        ("GIT_AUTHOR_NAME", "gitlab-runner-rs exec".to_owned()),
        ("GIT_AUTHOR_EMAIL", "exec@localhost".to_owned()),
        ("GIT_COMMITTER_NAME", "gitlab-runner-rs exec".to_owned()),
        ("GIT_COMMITTER_EMAIL", "exec@localhost".to_owned()),
    ];
    let message = format!(
        "Snapshot of {} for gitlab-runner-rs exec",
        project.display()
    );
    let commit = git(
        &bare,
        &["commit-tree", &tree, "-p", &ctx.commit_sha, "-m", &message],
        &identity,
    )?;
    let reference = match ctx.ref_type {
        RefType::Branch => format!("refs/heads/{}", ctx.ref_name),
        RefType::Tag => format!("refs/tags/{}", ctx.ref_name),
    };
    git(&bare, &["update-ref", &reference, &commit], &[])?;
    ctx.repo_url = format!("file://{}", bare.display());
    ctx.commit_sha = commit;
    Ok(mounts)
}

/// Runs `git -C dir args` with `env` added; its trimmed stdout.
fn git(dir: &Path, args: &[&str], env: &[(&str, String)]) -> anyhow::Result<String> {
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .envs(env.iter().map(|(key, value)| (*key, value.as_str())))
        .output()
        .with_context(|| format!("could not run `git {}`", args.join(" ")))?;
    if !output.status.success() {
        bail!(
            "`git {}` failed in {}: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
