//! `LocalContext`: what GitLab would know about the project, the commit and the user's
//! variables, filled by the binary from the checkout and the command line.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{BoxError, Error, Result};

/// Whether the checked-out ref is a branch or a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RefType {
    /// A branch (`CI_COMMIT_BRANCH` is set).
    #[default]
    Branch,
    /// A tag (`CI_COMMIT_TAG` is set).
    Tag,
}

impl RefType {
    /// `branch` or `tag`, as `git_info.ref_type` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Branch => "branch",
            Self::Tag => "tag",
        }
    }
}

/// Everything about the local run that a coordinator would otherwise provide.
///
/// Plain data: fill it by hand or start from [`LocalContext::from_checkout`]. Its `Debug`
/// output hides the job token and the values of user variables.
///
/// ```
/// use runner_pipeline::LocalContext;
///
/// let mut ctx = LocalContext { ref_name: "main".into(), ..LocalContext::default() };
/// ctx.add_var_file("# deploy settings\nREGION=eu-west-1\nDEPLOY_TOKEN='s3cr3t'\n")?;
/// ctx.variables.push(("VERBOSE".into(), "1".into()));
/// ctx.masked.push("DEPLOY_TOKEN".into());
/// assert_eq!(ctx.variables[1], ("DEPLOY_TOKEN".into(), "s3cr3t".into()));
/// assert!(!format!("{ctx:?}").contains("s3cr3t"));
/// # Ok::<(), runner_pipeline::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct LocalContext {
    /// The project (checkout) directory.
    pub project_dir: PathBuf,
    /// `CI_CONFIG_PATH`, relative to `project_dir`; empty means `.gitlab-ci.yml`.
    pub config_path: String,
    /// `CI_COMMIT_SHA`.
    pub commit_sha: String,
    /// `CI_COMMIT_BEFORE_SHA`; empty means forty zeros, as GitLab sends outside pushes.
    pub before_sha: String,
    /// Branch or tag name (`CI_COMMIT_REF_NAME`).
    pub ref_name: String,
    /// Branch or tag.
    pub ref_type: RefType,
    /// Full commit message (`CI_COMMIT_MESSAGE`).
    pub commit_message: String,
    /// `CI_DEFAULT_BRANCH`; empty means `main`.
    pub default_branch: String,
    /// Where the runner clones from: `file://` + checkout path, or the origin URL.
    pub repo_url: String,
    /// `CI_PROJECT_NAME`.
    pub project_name: String,
    /// `CI_PROJECT_PATH` (`group/subgroup/project`).
    pub project_path: String,
    /// `CI_PROJECT_NAMESPACE` (`group/subgroup`).
    pub project_namespace: String,
    /// `CI_SERVER_URL`; empty means `http://localhost`.
    pub server_url: String,
    /// `CI_PIPELINE_ID` and `CI_PIPELINE_IID`.
    pub pipeline_id: i64,
    /// The job token (`CI_JOB_TOKEN`, `token` in the payload); masked in every payload.
    pub job_token: String,
    /// User variables (`--var-file`, then `--env`), in precedence order: later wins.
    pub variables: Vec<(String, String)>,
    /// Names of user variables whose values must be masked in the job log.
    pub masked: Vec<String>,
}

impl LocalContext {
    /// Describes the git checkout at `dir`: `HEAD`'s commit and branch (or tag), its message,
    /// and the `origin` remote (optional) for the project's path and name.
    pub fn from_checkout(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let project_dir = std::fs::canonicalize(dir).map_err(|source| Error::Read {
            path: dir.to_owned(),
            source,
        })?;
        let commit_sha = git(&project_dir, &["rev-parse", "HEAD"])?;
        let branch = git(&project_dir, &["rev-parse", "--abbrev-ref", "HEAD"])?;
        let (ref_name, ref_type) = if branch == "HEAD" {
            // Detached HEAD: a tag pipeline when HEAD is exactly a tag, else the commit itself.
            match git(
                &project_dir,
                &["describe", "--tags", "--exact-match", "HEAD"],
            ) {
                Ok(tag) => (tag, RefType::Tag),
                Err(_) => (commit_sha.clone(), RefType::Branch),
            }
        } else {
            (branch, RefType::Branch)
        };
        let commit_message = git(&project_dir, &["log", "-1", "--format=%B"]).unwrap_or_default();
        let origin = git(&project_dir, &["remote", "get-url", "origin"]).ok();
        let default_branch = git(
            &project_dir,
            &["symbolic-ref", "--short", "refs/remotes/origin/HEAD"],
        )
        .ok()
        .and_then(|head| head.strip_prefix("origin/").map(str::to_owned))
        .unwrap_or_default();
        let dir_name = project_dir
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let project_path = origin
            .as_deref()
            .and_then(project_path_of)
            .unwrap_or_else(|| format!("local/{dir_name}"));
        let (project_namespace, project_name) = match project_path.rsplit_once('/') {
            Some((namespace, name)) => (namespace.to_owned(), name.to_owned()),
            None => (String::new(), project_path.clone()),
        };
        let server_url = origin
            .as_deref()
            .and_then(server_url_of)
            .unwrap_or_default();
        Ok(Self {
            repo_url: format!("file://{}", project_dir.display()),
            project_dir,
            commit_sha,
            ref_name,
            ref_type,
            commit_message,
            default_branch,
            project_name,
            project_path,
            project_namespace,
            server_url,
            pipeline_id: 1,
            job_token: "local-job-token".to_owned(),
            ..Self::default()
        })
    }

    /// Adds the `KEY=VALUE` lines of a `--var-file` (blank lines and `#` comments skipped,
    /// one pair of surrounding quotes removed), after the variables already present.
    pub fn add_var_file(&mut self, contents: &str) -> Result<()> {
        for (index, line) in contents.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (key, value) = line
                .split_once('=')
                .ok_or(Error::VarFile { line: index + 1 })?;
            let key = key.trim();
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(Error::VarFile { line: index + 1 });
            }
            let value = value.trim();
            let unquoted = ['"', '\'']
                .into_iter()
                .find_map(|quote| {
                    value
                        .strip_prefix(quote)
                        .and_then(|inner| inner.strip_suffix(quote))
                })
                .unwrap_or(value);
            self.variables.push((key.to_owned(), unquoted.to_owned()));
        }
        Ok(())
    }
}

impl fmt::Debug for LocalContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let variable_names: Vec<&str> =
            self.variables.iter().map(|(key, _)| key.as_str()).collect();
        f.debug_struct("LocalContext")
            .field("project_dir", &self.project_dir)
            .field("config_path", &self.config_path)
            .field("commit_sha", &self.commit_sha)
            .field("before_sha", &self.before_sha)
            .field("ref_name", &self.ref_name)
            .field("ref_type", &self.ref_type)
            .field("default_branch", &self.default_branch)
            .field("repo_url", &self.repo_url)
            .field("project_path", &self.project_path)
            .field("server_url", &self.server_url)
            .field("pipeline_id", &self.pipeline_id)
            .field("job_token", &"[REDACTED]")
            .field("variables", &variable_names)
            .field("masked", &self.masked)
            .finish_non_exhaustive()
    }
}

pub(crate) fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let failure = |source: BoxError| Error::Git {
        dir: dir.to_owned(),
        command: args.join(" "),
        source,
    };
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|error| failure(Box::new(error)))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        return Err(failure(stderr.into()));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .trim_end()
        .to_owned())
}

/// `group/sub/project` from `https://host/group/sub/project.git` or `git@host:group/project.git`.
fn project_path_of(url: &str) -> Option<String> {
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.split_once('/')?.1,
        None => url.split_once(':')?.1,
    };
    let path = path.trim_matches('/').trim_end_matches(".git");
    (!path.is_empty()).then(|| path.to_owned())
}

/// `https://host` from an origin URL, when it names a host.
fn server_url_of(url: &str) -> Option<String> {
    let host = match url.split_once("://") {
        Some((_, rest)) => rest.split('/').next()?,
        None => url.split_once(':')?.0,
    };
    let host = host.rsplit('@').next()?.split(':').next()?;
    (!host.is_empty()).then(|| format!("https://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_urls_give_project_path_and_server() {
        for (url, path, server) in [
            (
                "https://gitlab.com/acme/tools/widgets.git",
                "acme/tools/widgets",
                "https://gitlab.com",
            ),
            (
                "git@gitlab.example.com:acme/widgets.git",
                "acme/widgets",
                "https://gitlab.example.com",
            ),
            (
                "ssh://git@host:2222/acme/widgets",
                "acme/widgets",
                "https://host",
            ),
        ] {
            assert_eq!(project_path_of(url).as_deref(), Some(path), "{url}");
            assert_eq!(server_url_of(url).as_deref(), Some(server), "{url}");
        }
    }

    #[test]
    fn var_file_lines() {
        let mut ctx = LocalContext::default();
        ctx.add_var_file("# comment\n\nA=1\nexport B=\"two words\"\nC='x=y'\n")
            .expect("valid");
        assert_eq!(
            ctx.variables,
            [
                ("A".into(), "1".into()),
                ("B".into(), "two words".into()),
                ("C".into(), "x=y".into())
            ]
        );
        assert!(matches!(
            ctx.add_var_file("ok=1\nnot a pair\n"),
            Err(Error::VarFile { line: 2 })
        ));
    }
}
