//! Path selection: globs, directories, `exclude`, `untracked`, paths outside the project.

use runner_artifacts::PathSelector;

use crate::support::{capture_logs, git, names, write};

fn selector(paths: &[&str], exclude: &[&str], untracked: bool) -> PathSelector {
    PathSelector {
        paths: paths.iter().map(|path| (*path).to_owned()).collect(),
        exclude: exclude.iter().map(|path| (*path).to_owned()).collect(),
        untracked,
    }
}

#[test]
fn directories_globs_and_excludes_select_the_expected_files() {
    let project = tempfile::tempdir().unwrap();
    let root = project.path();
    write(root, "bin/app", "app");
    write(root, "bin/app.tmp", "tmp");
    write(root, "bin/sub/tool", "tool");
    write(root, "out/a/x.o", "o");
    write(root, "out/b/c/y.o", "o");
    write(root, "out/b/c/y.c", "c");
    write(root, "top.txt", "t");
    write(root, "nested/deep.txt", "t");

    let (logs, _guard) = capture_logs();
    let selection = selector(&["bin/", "out/**/*.o", "*.txt"], &["bin/*.tmp"], false)
        .select(root)
        .unwrap();
    assert_eq!(
        names(&selection),
        [
            "bin",
            "bin/app",
            "bin/sub",
            "bin/sub/tool",
            "out/a/x.o",
            "out/b/c/y.o",
            "top.txt"
        ]
    );
    assert_eq!(selection.excluded().get("bin/*.tmp"), Some(&1));
    let text = logs.text();
    assert!(
        text.contains("bin/: found 4 matching artifact files and directories"),
        "{text}"
    );
    assert!(text.contains("bin/*.tmp: excluded 1 files"), "{text}");
}

#[test]
fn untracked_adds_untracked_and_ignored_files_minus_excludes() {
    let project = tempfile::tempdir().unwrap();
    let root = project.path();
    git(root, &["init", "-q"]);
    write(root, ".gitignore", "build/\n");
    write(root, "tracked.rs", "fn main() {}");
    git(root, &["add", ".gitignore", "tracked.rs"]);
    git(root, &["commit", "-q", "-m", "init"]);
    write(root, "new.txt", "new");
    write(root, "build/output.bin", "ignored but untracked");
    write(root, "build/skip.log", "excluded");

    let (logs, _guard) = capture_logs();
    let selection = selector(&[], &["build/*.log"], true).select(root).unwrap();
    assert_eq!(names(&selection), ["build/output.bin", "new.txt"]);
    assert!(
        logs.text().contains("untracked: found 2 files"),
        "{}",
        logs.text()
    );
}

#[test]
fn paths_outside_the_project_are_refused_with_upstreams_message() {
    let parent = tempfile::tempdir().unwrap();
    let root = parent.path().join("project");
    write(&root, "inside.txt", "in");
    write(parent.path(), "secret.txt", "outside");

    let (logs, _guard) = capture_logs();
    let selection = selector(&["../secret.txt", "inside.txt", "/etc/passwd"], &[], false)
        .select(&root)
        .unwrap();
    assert_eq!(names(&selection), ["inside.txt"]);
    assert_eq!(selection.refused(), ["../secret.txt", "/etc/passwd"]);
    let text = logs.text();
    assert!(
        text.contains(
            "processPath: artifact path is not a subpath of project directory: ../secret.txt"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "processPath: artifact path is not a subpath of project directory: /etc/passwd"
        ),
        "{text}"
    );
}

#[test]
fn symlinks_are_selected_as_links_not_followed() {
    let parent = tempfile::tempdir().unwrap();
    let root = parent.path().join("project");
    write(parent.path(), "outside/secret", "s");
    write(&root, "dir/file", "f");
    std::os::unix::fs::symlink(parent.path().join("outside"), root.join("dir/link")).unwrap();

    let selection = selector(&["dir"], &[], false).select(&root).unwrap();
    assert_eq!(names(&selection), ["dir", "dir/file", "dir/link"]);
    let link = selection
        .iter()
        .find(|selected| selected.relative.ends_with("link"))
        .unwrap();
    assert!(link.metadata.file_type().is_symlink());
}

#[test]
fn missing_and_empty_paths_warn() {
    let project = tempfile::tempdir().unwrap();
    let (logs, _guard) = capture_logs();
    let selection = selector(&["nothing/", ""], &[], false)
        .select(project.path())
        .unwrap();
    assert!(selection.is_empty());
    let text = logs.text();
    assert!(text.contains("nothing/: no matching files. Ensure that the artifact path is relative to the working directory"), "{text}");
    assert!(text.contains("No matching files. Path is empty."), "{text}");
}
