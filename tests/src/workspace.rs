//! One test's world: a temp directory with bare git repositories, a git server, the fake
//! coordinator, and a `config.toml` for the runner.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use runner_api::fake::{FakeConfig, FakeCoordinator};

use crate::git_server::GitServer;

/// The temp directory, servers and files of one end-to-end test.
#[derive(Debug)]
pub struct Workspace {
    /// The fake coordinator the runner talks to.
    pub coordinator: FakeCoordinator,
    /// The git server holding the test repositories.
    pub git: GitServer,
    dir: tempfile::TempDir,
}

impl Workspace {
    /// Starts the servers; the fake long-polls `jobs/request` for `long_poll`.
    pub async fn start(long_poll: Duration) -> Workspace {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("repos")).expect("repos dir");
        let coordinator = FakeCoordinator::start_with(FakeConfig {
            long_poll,
            update_interval: Some(1),
            ..FakeConfig::default()
        })
        .await
        .expect("fake coordinator starts");
        let git = GitServer::start(&dir.path().join("repos")).await;
        Workspace {
            coordinator,
            git,
            dir,
        }
    }

    /// The test's temp directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Creates bare repository `name` whose `main` branch has `files` in one commit per
    /// entry of `commits`; returns the sha of the last commit.
    pub fn create_repo(&self, name: &str, commits: &[&[(&str, &str)]]) -> String {
        let work = self.dir.path().join(format!("work-{name}"));
        std::fs::create_dir_all(&work).expect("work tree");
        git(&work, &["init", "-q", "-b", "main"]);
        for (index, files) in commits.iter().enumerate() {
            for (path, content) in *files {
                let file = work.join(path);
                if let Some(parent) = file.parent() {
                    std::fs::create_dir_all(parent).expect("parent dir");
                }
                std::fs::write(file, content).expect("write file");
            }
            git(&work, &["add", "-A"]);
            git(&work, &["commit", "-q", "-m", &format!("commit {index}")]);
        }
        let bare = self.dir.path().join("repos").join(format!("{name}.git"));
        git(
            self.dir.path(),
            &[
                "clone",
                "-q",
                "--bare",
                &work.to_string_lossy(),
                &bare.to_string_lossy(),
            ],
        );
        git(
            &bare,
            &["config", "uploadpack.allowReachableSHA1InWant", "true"],
        );
        git_output(&work, &["rev-parse", "HEAD"])
    }

    /// Writes `config.toml` with one shell runner per entry of `runners` (extra TOML lines
    /// inside `[[runners]]`) and `global` lines at the top; returns its path.
    pub fn write_config(&self, global: &str, runners: &[&str]) -> PathBuf {
        let mut text = format!("# written by the end-to-end test\n{global}\n");
        for (index, extra) in runners.iter().enumerate() {
            text.push_str(&format!(
                "\n[[runners]]\n  name = \"e2e-{index}\"\n  url = \"{url}\"\n  token = \"{token}\"\n  executor = \"shell\"\n  builds_dir = \"{builds}\"\n  cache_dir = \"{cache}\"\n{extra}\n",
                url = self.coordinator.url(),
                token = self.coordinator.runner_token(),
                builds = self.dir.path().join("builds").display(),
                cache = self.dir.path().join("cache").display(),
            ));
        }
        let path = self.dir.path().join("config.toml");
        std::fs::write(&path, text).expect("write config");
        path
    }
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args([
            "-c",
            "user.email=e2e@example.invalid",
            "-c",
            "user.name=e2e",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?} failed");
}

fn git_output(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?} failed");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}
