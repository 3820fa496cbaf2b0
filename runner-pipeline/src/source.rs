//! Where a keyword is written: the configuration files as loaded, searched by key path so a
//! validation problem can name `file:line`.
//!
//! `serde_yaml_ng::Value` keeps no positions, and after `include`, `extends` and `default` a
//! job's keyword may come from several places. Rather than a span-carrying YAML model, the
//! texts are kept and searched on demand, which costs nothing unless a problem is reported:
//! the top-level key is looked up in the files in reverse merge order (the last definition
//! wins, as in the merge), then each nested key below it by indentation.

use std::path::{Path, PathBuf};

/// The loaded configuration files, in merge order (an including file after its includes).
#[derive(Debug, Clone, Default)]
pub(crate) struct SourceMap {
    files: Vec<(PathBuf, String)>,
}

impl SourceMap {
    pub(crate) fn push(&mut self, path: &Path, text: &str) {
        self.files.push((path.to_owned(), text.to_owned()));
    }

    /// The file and 1-based line of `key_path` (a top-level key, then nested keys), then of
    /// the first line below it containing `needle`; as deep as it can be found. `None` when
    /// not even the top-level key is written in any file.
    pub(crate) fn locate(
        &self,
        key_path: &[String],
        needle: Option<&str>,
    ) -> Option<(&Path, usize)> {
        let (top, nested) = key_path.split_first()?;
        self.files.iter().rev().find_map(|(path, text)| {
            let lines: Vec<&str> = text.lines().collect();
            let start = lines
                .iter()
                .position(|line| top_level_key(line) == Some(top))?;
            let end = lines[start + 1..]
                .iter()
                .position(|line| top_level_key(line).is_some())
                .map_or(lines.len(), |offset| start + 1 + offset);
            let mut found = start;
            let mut indent = 0;
            for key in nested {
                let next = (found + 1..end).find(|&index| {
                    let line = lines[index];
                    let trimmed = line.trim_start();
                    let this_indent = line.len() - trimmed.len();
                    let trimmed = trimmed.trim_start_matches("- ");
                    this_indent > indent && key_of(trimmed) == Some(key.as_str())
                });
                match next {
                    Some(index) => {
                        found = index;
                        indent = lines[index].len() - lines[index].trim_start().len();
                    }
                    None => break,
                }
            }
            if let Some(needle) = needle {
                if let Some(index) = (found..end).find(|&index| lines[index].contains(needle)) {
                    found = index;
                }
            }
            Some((path.as_path(), found + 1))
        })
    }
}

/// The key of a line that starts a top-level entry (`name:` at column 0).
fn top_level_key(line: &str) -> Option<&str> {
    if line.starts_with([' ', '\t', '#', '-']) {
        return None;
    }
    key_of(line)
}

/// `key` of `key: ...`, `"key": ...` or `'key': ...`.
fn key_of(text: &str) -> Option<&str> {
    for quote in ['"', '\''] {
        if let Some(rest) = text.strip_prefix(quote) {
            let end = rest.find(quote)?;
            return rest[end + 1..]
                .trim_start()
                .starts_with(':')
                .then(|| &rest[..end]);
        }
    }
    let (key, _) = text.split_once(':')?;
    let key = key.trim_end();
    (!key.is_empty() && !key.starts_with(['{', '['])).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(keys: &[&str]) -> Vec<String> {
        keys.iter().map(|key| (*key).to_owned()).collect()
    }

    #[test]
    fn nested_keys_and_needles_are_found_in_the_last_defining_file() {
        let mut sources = SourceMap::default();
        sources.push(
            Path::new("ci/jobs.yml"),
            "test:\n  script: x\n  needs: [a]\n",
        );
        sources.push(
            Path::new(".gitlab-ci.yml"),
            "stages: [build, test]\n\n\"test\":\n  stage: test\n  needs:\n    - build\n    - lint\nother:\n  needs: [x]\n",
        );
        let at = |keys: &[&str], needle| {
            sources
                .locate(&path(keys), needle)
                .map(|(file, line)| (file.display().to_string(), line))
        };
        assert_eq!(at(&["test"], None), Some((".gitlab-ci.yml".into(), 3)));
        assert_eq!(
            at(&["test", "needs"], None),
            Some((".gitlab-ci.yml".into(), 5))
        );
        assert_eq!(
            at(&["test", "needs"], Some("lint")),
            Some((".gitlab-ci.yml".into(), 7))
        );
        assert_eq!(
            at(&["test", "cache", "paths"], None),
            Some((".gitlab-ci.yml".into(), 3))
        );
        assert_eq!(at(&["stages"], None), Some((".gitlab-ci.yml".into(), 1)));
        assert_eq!(at(&["missing"], None), None);
    }
}
