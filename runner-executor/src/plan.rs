//! Stages that need no shell: [`PlannedOp`]s, and carrying them out on a local filesystem.
//!
//! A trivial job (`GIT_STRATEGY=none`, no cache, no artifacts) spends most of its time
//! starting login shells that only print a notice, create a directory or remove a few files.
//! Script generation records such a stage a second time as plain operations; a backend that
//! sees the job's filesystem directly (the shell executor) may carry them out in-process, and
//! the trace reads exactly as if bash had run the script. Stages whose output or failure says
//! something about the shell itself (`prepare_script`, J8) are never planned.

use std::io;
use std::path::Path;

use crate::backend::StageExit;
use crate::trace::writer::TraceWriter;

/// One operation of a stage that needs no shell (see [`crate::StageScript::plan`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlannedOp {
    /// Print a bold green notice line, as the script's `echo` would.
    Notice(String),
    /// Create a directory and its parents unless it exists (`mkdir -p`).
    EnsureDir(String),
    /// Remove the files that exist (`rm -f`).
    RemoveFiles(Vec<String>),
}

/// Carries out `plan` on this machine's filesystem, relative paths resolved against `base`.
///
/// Failures read as coreutils words them and end the stage like a failed shell command
/// (`exit status 1`), so the job's outcome does not depend on whether a shell ran the stage.
pub async fn run_plan_locally(
    plan: &[PlannedOp],
    base: &Path,
    trace: &mut TraceWriter,
) -> StageExit {
    for op in plan {
        let failure = match op {
            PlannedOp::Notice(text) => {
                trace.info(text).await;
                None
            }
            PlannedOp::EnsureDir(dir) => {
                std::fs::create_dir_all(base.join(dir)).err().map(|error| {
                    format!(
                        "mkdir: cannot create directory '{dir}': {}",
                        os_text(&error)
                    )
                })
            }
            PlannedOp::RemoveFiles(files) => {
                files
                    .iter()
                    .find_map(|file| match std::fs::remove_file(base.join(file)) {
                        Err(error) if error.kind() != io::ErrorKind::NotFound => {
                            Some(format!("rm: cannot remove '{file}': {}", os_text(&error)))
                        }
                        _ => None,
                    })
            }
        };
        if let Some(message) = failure {
            trace.write(format!("{message}\n").as_bytes()).await;
            return StageExit::Failed {
                exit_code: 1,
                message: "exit status 1".to_owned(),
            };
        }
    }
    StageExit::Success
}

/// The operating system's text of an error without Rust's ` (os error N)` suffix, as
/// coreutils prints it.
fn os_text(error: &io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run(plan: &[PlannedOp], base: &Path) -> (StageExit, String) {
        let (sender, mut receiver) = tokio::sync::mpsc::channel(64);
        let mut trace = TraceWriter::builder(sender).build();
        let exit = run_plan_locally(plan, base, &mut trace).await;
        trace.finish().await;
        let mut text = Vec::new();
        while let Some(chunk) = receiver.recv().await {
            text.extend_from_slice(&chunk);
        }
        (exit, String::from_utf8_lossy(&text).into_owned())
    }

    #[tokio::test]
    async fn notices_dirs_and_removals_behave_like_the_script() {
        let base = tempfile::tempdir().unwrap();
        std::fs::write(base.path().join("gone"), "x").unwrap();
        let plan = [
            PlannedOp::Notice("Skipping Git repository setup".to_owned()),
            PlannedOp::EnsureDir("a/b/c".to_owned()),
            PlannedOp::EnsureDir("a/b/c".to_owned()),
            PlannedOp::RemoveFiles(vec!["gone".to_owned(), "never-there".to_owned()]),
        ];
        let (exit, text) = run(&plan, base.path()).await;
        assert_eq!(exit, StageExit::Success);
        assert_eq!(text, "\x1b[32;1mSkipping Git repository setup\x1b[0;m\n");
        assert!(base.path().join("a/b/c").is_dir());
        assert!(!base.path().join("gone").exists());
    }

    #[tokio::test]
    async fn a_failing_operation_fails_the_stage_with_coreutils_wording() {
        let base = tempfile::tempdir().unwrap();
        std::fs::write(base.path().join("file"), "x").unwrap();
        let plan = [
            PlannedOp::EnsureDir("file/sub".to_owned()),
            PlannedOp::Notice("not reached".to_owned()),
        ];
        let (exit, text) = run(&plan, base.path()).await;
        assert_eq!(
            exit,
            StageExit::Failed {
                exit_code: 1,
                message: "exit status 1".to_owned()
            }
        );
        assert_eq!(
            text,
            "mkdir: cannot create directory 'file/sub': Not a directory\n"
        );
    }
}
