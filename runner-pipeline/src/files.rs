//! The project's files as `include` wildcards, `rules:exists` and `cache:key:files` see
//! them: the project directory now (what jobs clone), without `.git` and exec's state.

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use regex::Regex;

use crate::context::git;
use crate::error::{Error, Result};

/// The files of one project directory, listed once on first use.
#[derive(Debug)]
pub(crate) struct ProjectFiles {
    dir: PathBuf,
    all: OnceCell<Vec<String>>,
    /// What `rules:changes` compares with; `None` when unknown (changes then match).
    refs: Option<Refs>,
    /// Changed files by `compare_to` (`None`: the default base), `None` when no base.
    changed: RefCell<HashMap<Option<String>, Option<Vec<String>>>>,
}

/// The refs of the pipeline, for `rules:changes`.
#[derive(Debug, Clone)]
pub(crate) struct Refs {
    pub(crate) before_sha: String,
    pub(crate) ref_name: String,
    pub(crate) default_branch: String,
}

impl Refs {
    /// The refs of the pipeline `ctx` describes (`main` without a default branch).
    pub(crate) fn of(ctx: &crate::context::LocalContext) -> Self {
        Self {
            before_sha: ctx.before_sha.clone(),
            ref_name: ctx.ref_name.clone(),
            default_branch: if ctx.default_branch.is_empty() {
                "main".to_owned()
            } else {
                ctx.default_branch.clone()
            },
        }
    }
}

impl ProjectFiles {
    pub(crate) fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            all: OnceCell::new(),
            refs: None,
            changed: RefCell::new(HashMap::new()),
        }
    }

    /// With the pipeline's refs, so `rules:changes` can ask git.
    pub(crate) fn with_refs(mut self, refs: Refs) -> Self {
        self.refs = Some(refs);
        self
    }

    /// `rules:changes`: whether a file changed by the pipeline matches a pattern. The
    /// changes are the commits since the base plus what is uncommitted (jobs run on it):
    /// the base is `compare_to` (merge base with it), else `before_sha`, else on the default
    /// branch the previous commit and on another branch the merge base with the default
    /// branch. Without a base, GitLab's rule for pushes without one applies: it matches.
    pub(crate) fn changes(&self, patterns: &[String], compare_to: Option<&str>) -> Result<bool> {
        let key = compare_to.map(str::to_owned);
        if !self.changed.borrow().contains_key(&key) {
            let changed = self.changed_files(compare_to)?;
            self.changed.borrow_mut().insert(key.clone(), changed);
        }
        let cache = self.changed.borrow();
        let Some(Some(changed)) = cache.get(&key) else {
            return Ok(true);
        };
        let regexes: Vec<Regex> = patterns
            .iter()
            .filter_map(|pattern| glob_regex(pattern.trim_start_matches('/')))
            .collect();
        Ok(changed
            .iter()
            .any(|file| regexes.iter().any(|regex| regex.is_match(file))))
    }

    fn changed_files(&self, compare_to: Option<&str>) -> Result<Option<Vec<String>>> {
        let Some(refs) = &self.refs else {
            return Ok(None);
        };
        let dir = self.dir.as_path();
        let base = match compare_to {
            Some(reference) => {
                Some(git(dir, &["merge-base", reference, "HEAD"]).map_err(|_| {
                    Error::invalid(
                        "rules:changes:compare_to",
                        format!("is not a valid ref: `{reference}`"),
                    )
                })?)
            }
            None if !refs.before_sha.is_empty() && refs.before_sha.bytes().any(|b| b != b'0') => {
                Some(refs.before_sha.clone())
            }
            None if refs.ref_name == refs.default_branch => git(dir, &["rev-parse", "HEAD~1"]).ok(),
            None => [
                refs.default_branch.clone(),
                format!("origin/{}", refs.default_branch),
            ]
            .iter()
            .find_map(|branch| git(dir, &["merge-base", branch, "HEAD"]).ok()),
        };
        let Some(base) = base else {
            return Ok(None);
        };
        let mut changed = Vec::new();
        for args in [
            &["diff", "--name-only", "--relative", base.as_str(), "HEAD"][..],
            &["diff", "--name-only", "--relative", "HEAD"],
            &["ls-files", "--others", "--exclude-standard"],
        ] {
            if let Ok(output) = git(dir, args) {
                // exec's builds and cache live in the project: never a change of it.
                changed.extend(
                    output
                        .lines()
                        .filter(|path| !path.starts_with(".gitlab-runner-rs/"))
                        .map(str::to_owned),
                );
            }
        }
        changed.sort();
        changed.dedup();
        Ok(Some(changed))
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every file, relative with `/`, sorted.
    pub(crate) fn all(&self) -> &[String] {
        self.all.get_or_init(|| walk(&self.dir))
    }

    /// `rules:exists`: whether any file matches any pattern (`File.fnmatch` with
    /// `FNM_PATHNAME | FNM_DOTMATCH | FNM_EXTGLOB`, as GitLab matches them).
    pub(crate) fn exists(&self, patterns: &[String]) -> bool {
        patterns.iter().any(|pattern| {
            let pattern = pattern.trim_start_matches('/');
            if !pattern.contains(['*', '?', '[', '{']) {
                return self.dir.join(pattern).exists();
            }
            glob_regex(pattern)
                .is_some_and(|regex| self.all().iter().any(|file| regex.is_match(file)))
        })
    }

    /// The files matching an `include`/`cache:key:files` wildcard (GitLab's
    /// `search_files_by_wildcard_path`: `**` matches anything, `*` anything but `/`).
    pub(crate) fn search_wildcard(&self, pattern: &str) -> Vec<String> {
        let pattern = pattern.trim_start_matches('/');
        let regex = format!(
            "^{}$",
            regex::escape(pattern)
                .replace(r"\*\*", ".*?")
                .replace(r"\*", "[^/]*?")
        );
        let Ok(regex) = Regex::new(&regex) else {
            return Vec::new();
        };
        self.all()
            .iter()
            .filter(|file| regex.is_match(file))
            .cloned()
            .collect()
    }
}

/// A regex for a Ruby `File.fnmatch` glob with `FNM_PATHNAME | FNM_DOTMATCH | FNM_EXTGLOB`:
/// `**/` any directories, `*` and `?` within one path segment, `[...]`, `{a,b}`.
pub(crate) fn glob_regex(pattern: &str) -> Option<Regex> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::from("^");
    let mut index = 0;
    let mut braces = 0;
    while index < chars.len() {
        let c = chars[index];
        match c {
            '*' if chars.get(index + 1) == Some(&'*') && chars.get(index + 2) == Some(&'/') => {
                out.push_str("(?:.*/)?");
                index += 3;
                continue;
            }
            '*' => {
                while chars.get(index + 1) == Some(&'*') {
                    index += 1;
                }
                out.push_str("[^/]*");
            }
            '?' => out.push_str("[^/]"),
            '[' => {
                let end = chars[index..].iter().position(|&c| c == ']')?;
                let class: String = chars[index + 1..index + end].iter().collect();
                let class = class
                    .strip_prefix('!')
                    .map_or(class.clone(), |rest| format!("^{rest}"));
                out.push('[');
                out.push_str(&class.replace('\\', "\\\\"));
                out.push(']');
                index += end + 1;
                continue;
            }
            '{' => {
                braces += 1;
                out.push_str("(?:");
            }
            '}' if braces > 0 => {
                braces -= 1;
                out.push(')');
            }
            ',' if braces > 0 => out.push('|'),
            other => out.push_str(&regex::escape(&other.to_string())),
        }
        index += 1;
    }
    out.push('$');
    Regex::new(&out).ok()
}

/// Every file under `dir`, relative with `/`, sorted; `.git` and `.gitlab-runner-rs` at the
/// top are not project files.
fn walk(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(dir.join(&relative)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if relative.as_os_str().is_empty() && (name == ".git" || name == ".gitlab-runner-rs") {
                continue;
            }
            let path = relative.join(&name);
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                pending.push(path);
            } else {
                found.push(path.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, path: &str, expected: bool) {
        let regex = glob_regex(pattern).expect("valid glob");
        assert_eq!(regex.is_match(path), expected, "{pattern} ~ {path}");
    }

    #[test]
    fn globs_match_like_fnmatch_with_pathname_dotmatch_extglob() {
        check("Dockerfile", "Dockerfile", true);
        check("*.rb", "app.rb", true);
        check("*.rb", "lib/app.rb", false);
        check("**/*.rb", "app.rb", true);
        check("**/*.rb", "lib/deep/app.rb", true);
        check("lib/**/*.rb", "lib/app.rb", true);
        check("*.{yml,yaml}", "ci.yaml", true);
        check("*.{yml,yaml}", "ci.json", false);
        check("?.txt", "a.txt", true);
        check("[ab].txt", "b.txt", true);
        check("[!ab].txt", "b.txt", false);
        check("*", ".hidden", true);
    }
}
