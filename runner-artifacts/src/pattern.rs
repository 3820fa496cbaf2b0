//! Path patterns as upstream's helper reads them: lexical cleaning, the project-relative
//! form of a `paths`/`exclude` entry, doublestar globs, and `$VAR` expansion.

use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};

use crate::error::{Error, Result};

/// Characters that make a path a glob (doublestar's meta characters).
const GLOB_META: &[char] = &['*', '?', '[', '{'];

/// Expands `$NAME` and `${NAME}` in `text` with `lookup`; unknown names expand to nothing,
/// `$$` is a literal `$`. The helper binary calls this with the process environment,
/// as upstream's helper does for `--path`, `--exclude` and `--name`.
///
/// ```
/// let expanded = runner_artifacts::expand_variables("out/${ARCH}/$NAME.bin", |name| match name {
///     "ARCH" => Some("amd64".to_owned()),
///     _ => None,
/// });
/// assert_eq!(expanded, "out/amd64/.bin");
/// ```
pub use runner_core::expand_variables;

/// Cleans a path lexically: removes `.` components and resolves `..` against earlier ones.
/// A relative path that climbs keeps its leading `..` components.
pub(crate) fn clean(path: &Path) -> PathBuf {
    let mut parts: Vec<Component<'_>> = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match parts.last() {
                Some(Component::Normal(_)) => {
                    parts.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => parts.push(component),
            },
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return PathBuf::from(".");
    }
    parts.iter().collect()
}

/// `path` relative to `base`, both absolute and clean; `None` when it is not below `base`.
pub(crate) fn relative_below(base: &Path, path: &Path) -> Option<PathBuf> {
    let relative = path.strip_prefix(base).ok()?;
    if relative.as_os_str().is_empty() {
        Some(PathBuf::from("."))
    } else {
        Some(relative.to_path_buf())
    }
}

/// A `paths`/`exclude` entry resolved against the project directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProjectPattern {
    /// The non-glob prefix, relative to the project directory (`.` for the directory itself).
    pub(crate) base: PathBuf,
    /// The whole pattern relative to the project directory, with `/` separators; equal to
    /// `base` when the entry has no glob characters.
    pub(crate) pattern: String,
    /// Whether the entry contains glob characters.
    pub(crate) is_glob: bool,
}

/// Resolves `entry` against `project_dir` (absolute, clean) the way upstream's
/// `findRelativePathInProject` does: the non-glob prefix must stay inside the project.
pub(crate) fn project_pattern(project_dir: &Path, entry: &str) -> Result<ProjectPattern, String> {
    if clean(Path::new(entry)) == project_dir {
        return Ok(ProjectPattern {
            base: PathBuf::from("."),
            pattern: ".".to_owned(),
            is_glob: false,
        });
    }
    let is_glob = entry.contains(GLOB_META);
    let (base, rest) = if is_glob {
        split_pattern(entry)
    } else {
        (entry.to_owned(), String::new())
    };
    let absolute = clean(&project_dir.join(if base.is_empty() { "." } else { base.as_str() }));
    let relative = relative_below(project_dir, &absolute)
        .ok_or_else(|| format!("artifact path is not a subpath of project directory: {entry}"))?;
    let joined = if rest.is_empty() {
        relative.clone()
    } else {
        relative.join(&rest)
    };
    let pattern = clean(&joined).to_string_lossy().into_owned();
    Ok(ProjectPattern {
        base: relative,
        pattern,
        is_glob,
    })
}

/// Splits a glob at the last `/` before its first meta character (doublestar's `SplitPattern`).
fn split_pattern(entry: &str) -> (String, String) {
    let first_meta = entry.find(GLOB_META).unwrap_or(entry.len());
    match entry[..first_meta].rfind('/') {
        Some(0) => ("/".to_owned(), entry[1..].to_owned()),
        Some(slash) => (entry[..slash].to_owned(), entry[slash + 1..].to_owned()),
        None => (".".to_owned(), entry.to_owned()),
    }
}

/// Compiles a doublestar pattern: `*`/`?` stay within one path segment, `**` spans them.
pub(crate) fn compile_glob(pattern: &str) -> Result<GlobMatcher> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .empty_alternates(true)
        .build()
        .map(|glob| glob.compile_matcher())
        .map_err(|source| Error::Glob {
            pattern: pattern.to_owned(),
            source: Box::new(source),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(entry: &str, expected: Result<(&str, &str), &str>) {
        let project = Path::new("/builds/group/project");
        let actual = project_pattern(project, entry);
        match expected {
            Ok((base, pattern)) => {
                let actual = actual.unwrap();
                assert_eq!(
                    (actual.base.to_str().unwrap(), actual.pattern.as_str()),
                    (base, pattern),
                    "{entry}"
                );
            }
            Err(message) => assert_eq!(actual.unwrap_err(), message, "{entry}"),
        }
    }

    #[test]
    fn entries_resolve_inside_the_project() {
        check("bin/", Ok(("bin", "bin")));
        check("./out/**/*.o", Ok(("out", "out/**/*.o")));
        check("*.txt", Ok((".", "*.txt")));
        check("/builds/group/project/dist", Ok(("dist", "dist")));
        check("/builds/group/project", Ok((".", ".")));
        check("a/../b/{x,y}", Ok(("b", "b/{x,y}")));
    }

    #[test]
    fn entries_outside_the_project_are_refused() {
        let message = "artifact path is not a subpath of project directory: ../other";
        check("../other", Err(message));
        check(
            "/etc/passwd",
            Err("artifact path is not a subpath of project directory: /etc/passwd"),
        );
        check(
            "../*/x",
            Err("artifact path is not a subpath of project directory: ../*/x"),
        );
    }

    #[test]
    fn doublestar_semantics() {
        let glob = compile_glob("out/**/*.o").unwrap();
        assert!(glob.is_match("out/a.o"));
        assert!(glob.is_match("out/x/y/a.o"));
        assert!(!glob.is_match("out/x/a.c"));
        let star = compile_glob("*.txt").unwrap();
        assert!(star.is_match("a.txt"));
        assert!(!star.is_match("dir/a.txt"));
    }

    #[test]
    fn variables_expand() {
        let lookup = |name: &str| (name == "A").then(|| "1".to_owned());
        assert_eq!(expand_variables("$A/${A}/$B/$$/$", lookup), "1/1//$/$");
        assert_eq!(expand_variables("${A", lookup), "${A");
    }
}
