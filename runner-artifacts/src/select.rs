//! Path selection shared by artifacts and caches (executors.md §5.1): `paths` globs,
//! directories walked recursively, `exclude`, `untracked`, and refusal of anything outside
//! the project directory, with upstream's messages.

use std::collections::BTreeMap;
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use globset::GlobMatcher;

use crate::error::Result;
use crate::pattern::{clean, compile_glob, project_pattern, relative_below};

/// What to select: the `paths`, `exclude` and `untracked` of an artifact or cache entry,
/// already expanded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathSelector {
    /// `paths` entries: files, directories or doublestar globs, relative to the project.
    pub paths: Vec<String>,
    /// `exclude` patterns, matched against each candidate's project-relative path.
    pub exclude: Vec<String>,
    /// Also add every untracked file (`git ls-files -o`, ignored files included).
    pub untracked: bool,
}

/// The files and directories chosen by a [`PathSelector`], sorted by name.
#[derive(Debug, Default)]
pub struct Selection {
    root: PathBuf,
    entries: BTreeMap<Vec<u8>, Selected>,
    refused: Vec<String>,
    excluded: BTreeMap<String, u64>,
}

/// One selected path.
#[derive(Debug, Clone)]
pub struct Selected {
    /// Path relative to the project directory (`/`-separated, never `..`).
    pub relative: PathBuf,
    /// `lstat` of the path at selection time (symlinks are not followed).
    pub metadata: Metadata,
}

impl PathSelector {
    /// Whether there is anything to select at all (upstream skips such entries).
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty() && self.exclude.is_empty() && !self.untracked
    }

    /// Selects files under `project_dir` (the helper's working directory), logging
    /// upstream's messages (`<path>: found <n> matching artifact files and directories`,
    /// `WARNING: <path>: no matching files...`, `processPath: artifact path is not a
    /// subpath of project directory: <p>`, `<pattern>: excluded <n> files`).
    pub fn select(&self, project_dir: &Path) -> Result<Selection> {
        let root = clean(project_dir);
        let mut selection = Selection {
            root: root.clone(),
            ..Selection::default()
        };
        let excludes = self.exclude_matchers(&root);
        for entry in &self.paths {
            selection.add_path_entry(entry, &excludes);
        }
        if self.untracked {
            selection.add_untracked(&excludes);
        }
        for (rule, count) in &selection.excluded {
            tracing::info!("{rule}: excluded {count} files");
        }
        if selection
            .entries
            .keys()
            .any(|name| name == b".git" || name.starts_with(b".git/"))
        {
            tracing::warn!("Part of .git directory is on the list of files to archive");
        }
        Ok(selection)
    }

    fn exclude_matchers(&self, root: &Path) -> Vec<(String, GlobMatcher)> {
        let mut matchers = Vec::new();
        for rule in &self.exclude {
            let compiled = project_pattern(root, rule).and_then(|pattern| {
                compile_glob(&pattern.pattern).map_err(|error| crate::render(&error))
            });
            match compiled {
                Ok(matcher) => matchers.push((rule.clone(), matcher)),
                Err(message) => tracing::warn!("isExcluded: {message}"),
            }
        }
        matchers
    }
}

impl Selection {
    /// The project directory the relative paths refer to.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Number of selected files and directories.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing was selected.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The selected paths in upstream's archive order (byte-wise sorted names).
    pub fn iter(&self) -> impl Iterator<Item = &Selected> {
        self.entries.values()
    }

    /// `paths` entries refused because they point outside the project directory.
    pub fn refused(&self) -> &[String] {
        &self.refused
    }

    /// How many candidates each `exclude` rule dropped.
    pub fn excluded(&self) -> &BTreeMap<String, u64> {
        &self.excluded
    }

    /// Whether any selected path was modified after `time` (upstream's "archive is
    /// up to date" check for caches).
    pub fn has_changed_since(&self, time: SystemTime) -> bool {
        self.entries.values().any(|selected| {
            selected
                .metadata
                .modified()
                .is_ok_and(|modified| modified > time)
        })
    }

    fn add_path_entry(&mut self, entry: &str, excludes: &[(String, GlobMatcher)]) {
        if entry.is_empty() {
            tracing::warn!("No matching files. Path is empty.");
            return;
        }
        let pattern = match project_pattern(&self.root, entry) {
            Ok(pattern) => pattern,
            Err(message) => {
                tracing::warn!("processPath: {message}");
                self.refused.push(entry.to_owned());
                return;
            }
        };
        let matches = match self.glob(&pattern) {
            Ok(matches) => matches,
            Err(error) => {
                tracing::warn!("{entry}: {error}");
                return;
            }
        };
        let mut found = 0u64;
        for matched in matches {
            found += self.walk(&matched, excludes);
        }
        if found == 0 {
            tracing::warn!(
                "{entry}: no matching files. Ensure that the artifact path is relative to the working directory ({})",
                self.root.display()
            );
        } else {
            tracing::info!("{entry}: found {found} matching artifact files and directories");
        }
    }

    /// The project-relative paths matching `pattern`, without following symlinks.
    fn glob(&self, pattern: &crate::pattern::ProjectPattern) -> Result<Vec<PathBuf>> {
        if !pattern.is_glob {
            let relative = PathBuf::from(&pattern.pattern);
            return Ok(if self.root.join(&relative).symlink_metadata().is_ok() {
                vec![relative]
            } else {
                Vec::new()
            });
        }
        let matcher = compile_glob(&pattern.pattern)?;
        let mut matches = Vec::new();
        let mut pending = vec![pattern.base.clone()];
        while let Some(directory) = pending.pop() {
            let Ok(reader) = std::fs::read_dir(self.root.join(&directory)) else {
                continue;
            };
            for dirent in reader.flatten() {
                let relative = if directory == Path::new(".") {
                    PathBuf::from(dirent.file_name())
                } else {
                    directory.join(dirent.file_name())
                };
                let is_dir = dirent.file_type().is_ok_and(|kind| kind.is_dir());
                if matcher.is_match(&relative) {
                    matches.push(relative);
                } else if is_dir {
                    pending.push(relative);
                }
            }
        }
        matches.sort();
        Ok(matches)
    }

    /// Adds `relative` and, for a directory, everything below it; returns how many were added.
    fn walk(&mut self, relative: &Path, excludes: &[(String, GlobMatcher)]) -> u64 {
        let mut added = 0;
        let mut pending = vec![relative.to_path_buf()];
        while let Some(current) = pending.pop() {
            let Ok(metadata) = self.root.join(&current).symlink_metadata() else {
                continue;
            };
            if metadata.is_dir() {
                if let Ok(reader) = std::fs::read_dir(self.root.join(&current)) {
                    for dirent in reader.flatten() {
                        pending.push(if current == Path::new(".") {
                            PathBuf::from(dirent.file_name())
                        } else {
                            current.join(dirent.file_name())
                        });
                    }
                }
            }
            if self.process(&current, metadata, excludes) {
                added += 1;
            }
        }
        added
    }

    /// Adds one candidate unless it lies outside the project or is excluded.
    fn process(
        &mut self,
        candidate: &Path,
        metadata: Metadata,
        excludes: &[(String, GlobMatcher)],
    ) -> bool {
        let absolute = clean(&self.root.join(candidate));
        let Some(relative) = relative_below(&self.root, &absolute) else {
            tracing::warn!(
                "{}: not supported: outside build directory",
                candidate.display()
            );
            return false;
        };
        if relative == Path::new(".") {
            // The project directory itself is not an entry; its contents are.
            return false;
        }
        if let Some((rule, _)) = excludes
            .iter()
            .find(|(_, matcher)| matcher.is_match(&relative))
        {
            *self.excluded.entry(rule.clone()).or_default() += 1;
            return false;
        }
        let key = relative.as_os_str().as_bytes().to_vec();
        self.entries.insert(key, Selected { relative, metadata });
        true
    }

    fn add_untracked(&mut self, excludes: &[(String, GlobMatcher)]) {
        let output = std::process::Command::new("git")
            .args(["ls-files", "-o", "-z"])
            .current_dir(&self.root)
            .stderr(std::process::Stdio::inherit())
            .output();
        let output = match output {
            Ok(output) if output.status.success() => output,
            Ok(output) => {
                tracing::warn!("untracked: {}", output.status);
                return;
            }
            Err(error) => {
                tracing::warn!("untracked: {error}");
                return;
            }
        };
        let mut found = 0u64;
        for name in output
            .stdout
            .split(|byte| *byte == 0)
            .filter(|name| !name.is_empty())
        {
            let candidate = PathBuf::from(std::ffi::OsStr::from_bytes(name));
            let Ok(metadata) = self.root.join(&candidate).symlink_metadata() else {
                continue;
            };
            if self.process(&candidate, metadata, excludes) {
                found += 1;
            }
        }
        if found == 0 {
            tracing::warn!("untracked: no files");
        } else {
            tracing::info!("untracked: found {found} files");
        }
    }
}
