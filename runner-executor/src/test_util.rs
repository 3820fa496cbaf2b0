//! Helpers for tests and examples (feature `test-util`): a trace collector and a git fixture.

use std::path::Path;
use std::process::Command;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::job::JobSpec;
use crate::trace::writer::TraceWriter;

/// Collects everything written to a [`TraceWriter`] in a background task.
#[derive(Debug)]
pub struct TraceCapture {
    task: JoinHandle<Vec<u8>>,
}

impl TraceCapture {
    /// A writer configured for `job` (masking, output limit) and its capture.
    pub fn for_job(job: &JobSpec) -> (TraceWriter, Self) {
        let (sender, receiver) = mpsc::channel(64);
        (
            TraceWriter::builder(sender).job(job).build(),
            Self::collect(receiver),
        )
    }

    /// Collects from `receiver` until every sender is gone.
    pub fn collect(mut receiver: mpsc::Receiver<Bytes>) -> Self {
        let task = tokio::spawn(async move {
            let mut log = Vec::new();
            while let Some(chunk) = receiver.recv().await {
                log.extend_from_slice(&chunk);
            }
            log
        });
        Self { task }
    }

    /// The raw bytes, once the writer was dropped or finished.
    pub async fn bytes(self) -> Vec<u8> {
        self.task.await.unwrap_or_default()
    }

    /// The log as text with ANSI colour codes and section markers removed.
    pub async fn text(self) -> String {
        strip_ansi(&String::from_utf8_lossy(&self.bytes().await))
    }
}

/// Removes `ESC[...m` / `ESC[0K` sequences and `section_start:...\r` / `section_end:...\r` markers.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            for next in chars.by_ref() {
                if next.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out.lines()
        .map(|line| match line.rfind('\r') {
            Some(index) if line.starts_with("section_") => &line[index + 1..],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Creates a git repository in `dir` with one commit per entry of `files` (name, content) and
/// returns the commit ids, oldest first. Uses the `git` CLI; panics when git fails (tests only).
pub fn git_repo(dir: &Path, files: &[(&str, &str)]) -> Vec<String> {
    let git = |args: &[&str]| {
        let output = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .expect("git runs");
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    std::fs::create_dir_all(dir).expect("create repo dir");
    git(&["init", "-q", "-b", "main"]);
    let mut commits = Vec::new();
    for (name, content) in files {
        std::fs::write(dir.join(name), content).expect("write file");
        git(&["add", name]);
        git(&["commit", "-q", "-m", name]);
        commits.push(git(&["rev-parse", "HEAD"]));
    }
    commits
}
