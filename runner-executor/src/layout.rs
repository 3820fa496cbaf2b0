//! Build directory layout (executors.md §3), the short token (§2.4) and URL helpers.

use crate::backend::BackendDefaults;
use crate::job::JobSpec;
use crate::outcome::{FailureReason, JobFailure};

/// Where a job lives on disk (or in its container).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// `CI_BUILDS_DIR`.
    pub builds_dir: String,
    /// `CI_PROJECT_DIR`.
    pub project_dir: String,
    /// `RUNNER_TEMP_PROJECT_DIR`: project dir + `.tmp`.
    pub tmp_dir: String,
    /// The cache root.
    pub cache_dir: String,
    /// The build hostname a backend reported while preparing (custom `config_exec`), printed
    /// by `prepare_script`; `None` for most backends.
    pub hostname: Option<String>,
}

impl Layout {
    /// Computes the layout, or the configuration error upstream reports.
    pub(crate) fn new(
        job: &JobSpec,
        defaults: &BackendDefaults,
        git_clone_path: Option<&str>,
        empty_strategy: bool,
    ) -> Result<Self, JobFailure> {
        let builds_dir = job
            .runner
            .builds_dir
            .clone()
            .unwrap_or_else(|| defaults.builds_dir.clone());
        if builds_dir.is_empty() {
            return Err(config_error("the builds_dir is not configured"));
        }
        let cache_dir = job
            .runner
            .cache_dir
            .clone()
            .unwrap_or_else(|| defaults.cache_dir.clone());
        if cache_dir.is_empty() {
            return Err(config_error("the cache_dir is not configured"));
        }
        let builds_dir = trim_trailing_slash(&builds_dir);
        let project_dir = if let Some(clone_path) = git_clone_path {
            if !defaults.custom_build_dir {
                return Err(config_error(
                    "setting GIT_CLONE_PATH is not allowed, enable `custom_build_dir` feature",
                ));
            }
            let cleaned = clean_path(clone_path);
            if !(cleaned == builds_dir || cleaned.starts_with(&format!("{builds_dir}/"))) {
                return Err(config_error(format!(
                    "the GIT_CLONE_PATH=\"{clone_path}\" has to be within \"{builds_dir}\""
                )));
            }
            cleaned
        } else {
            let slug = project_slug(&job.git.repo_url, job.project_id);
            let base = if defaults.shared_builds_dir {
                format!(
                    "{builds_dir}/{}/{}/{slug}",
                    job.runner.short_token, job.runner.concurrent_project_id
                )
            } else {
                format!("{builds_dir}/{slug}")
            };
            if empty_strategy {
                format!("{base}-empty")
            } else {
                base
            }
        };
        let tmp_dir = format!("{project_dir}.tmp");
        Ok(Self {
            builds_dir,
            project_dir,
            tmp_dir,
            cache_dir,
            hostname: None,
        })
    }
}

fn config_error(message: impl Into<String>) -> JobFailure {
    JobFailure::new(FailureReason::RunnerConfigurationError, message)
}

/// The short token (§2.4), one definition for every crate.
pub use runner_core::short_token;

/// The URL without `user:password@`.
pub(crate) fn strip_userinfo(url: &str) -> String {
    match split_url(url) {
        Some(parts) => format!("{}://{}{}", parts.scheme, parts.host, parts.path),
        None => url.to_owned(),
    }
}

/// Pieces of `scheme://[userinfo@]host/path`.
pub(crate) struct UrlParts<'a> {
    pub(crate) scheme: &'a str,
    pub(crate) host: &'a str,
    pub(crate) path: &'a str,
}

pub(crate) fn split_url(url: &str) -> Option<UrlParts<'_>> {
    let (scheme, rest) = url.split_once("://")?;
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    Some(UrlParts { scheme, host, path })
}

/// `group/sub/project` from the repository URL, or `project-<id>` (§3).
pub(crate) fn project_slug(repo_url: &str, project_id: i64) -> String {
    let fallback = format!("project-{project_id}");
    let Some(parts) = split_url(repo_url) else {
        return fallback;
    };
    if parts.host.is_empty() {
        return fallback;
    }
    let path = parts.path.split(['?', '#']).next().unwrap_or("");
    let path = path.strip_suffix(".git").unwrap_or(path);
    if path.split('/').any(|segment| segment == "..") {
        return fallback;
    }
    let cleaned = clean_path(path);
    let slug = cleaned.trim_start_matches('/');
    if slug.is_empty() || slug == "." {
        fallback
    } else {
        slug.to_owned()
    }
}

/// Removes empty and `.` segments and resolves `..` lexically.
pub(crate) fn clean_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let joined = segments.join("/");
    if path.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

fn trim_trailing_slash(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".to_owned()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(
            project_slug("https://gitlab-ci-token:x@h.example/group/sub/p.git", 3),
            "group/sub/p"
        );
        assert_eq!(project_slug("file:///tmp/repo.git", 3), "project-3");
        assert_eq!(project_slug("https://h/a/../b.git", 3), "project-3");
    }

    #[test]
    fn userinfo_is_stripped() {
        assert_eq!(
            strip_userinfo("https://gitlab-ci-token:tok@h/g/p.git"),
            "https://h/g/p.git"
        );
    }

    #[test]
    fn short_tokens() {
        assert_eq!(short_token("glrt-abcdefghijkl"), "abcdefghi");
        assert_eq!(short_token("t2_abcdefghijkl"), "abcdefghi");
        assert_eq!(short_token("abc"), "abc");
    }
}
