//! Control variables the runner reads from the job (executors.md §2.3, §1.4), with upstream's warnings.

use std::time::Duration;

use crate::duration::parse_go_duration;
use crate::variables::JobVariables;

/// `GIT_STRATEGY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GitStrategy {
    Clone,
    Fetch,
    None,
    Empty,
}

impl GitStrategy {
    fn as_str(self) -> &'static str {
        match self {
            Self::Clone => "clone",
            Self::Fetch => "fetch",
            Self::None => "none",
            Self::Empty => "empty",
        }
    }
}

/// `GIT_SUBMODULE_STRATEGY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubmoduleStrategy {
    None,
    Normal,
    Recursive,
}

/// The job's control settings.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) git_strategy: GitStrategy,
    pub(crate) git_checkout: bool,
    pub(crate) git_clean_flags: String,
    pub(crate) git_fetch_extra_flags: String,
    pub(crate) submodule_strategy: SubmoduleStrategy,
    pub(crate) submodule_paths: String,
    pub(crate) submodule_depth: u32,
    pub(crate) submodule_update_flags: String,
    pub(crate) lfs_skip_smudge_by_job: bool,
    pub(crate) git_clone_path: Option<String>,
    pub(crate) get_sources_attempts: u32,
    /// `RESTORE_CACHE_ATTEMPTS` (1..10).
    pub(crate) restore_cache_attempts: u32,
    /// `ARTIFACT_DOWNLOAD_ATTEMPTS` (1..10).
    pub(crate) artifact_download_attempts: u32,
    pub(crate) after_script_ignore_errors: bool,
    pub(crate) script_timeout: Option<Duration>,
    pub(crate) after_script_timeout: Duration,
    pub(crate) debug_trace: bool,
    /// Warnings for the trace, without the `WARNING: ` prefix.
    pub(crate) warnings: Vec<String>,
}

/// Default `RUNNER_AFTER_SCRIPT_TIMEOUT`.
pub(crate) const DEFAULT_AFTER_SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

impl Settings {
    /// Reads the settings from the expanded variables.
    pub(crate) fn read(
        variables: &JobVariables,
        allow_git_fetch: bool,
        depth: u32,
        job_timeout: Duration,
        debug_trace_disabled: bool,
    ) -> Self {
        let mut warnings = Vec::new();
        let get = |key: &str| variables.get(key).filter(|v| !v.is_empty());
        let default_strategy = if allow_git_fetch {
            GitStrategy::Fetch
        } else {
            GitStrategy::Clone
        };
        let git_strategy = match get("GIT_STRATEGY") {
            None => default_strategy,
            Some("clone") => GitStrategy::Clone,
            Some("fetch") => GitStrategy::Fetch,
            Some("none") => GitStrategy::None,
            Some("empty") => GitStrategy::Empty,
            Some(other) => {
                warnings.push(format!(
                    "GIT_STRATEGY: expected either 'clone', 'fetch', 'none' or 'empty' got \"{other}\", using default value '{}'",
                    default_strategy.as_str()
                ));
                default_strategy
            }
        };
        let submodule_strategy = match get("GIT_SUBMODULE_STRATEGY") {
            None | Some("none") => SubmoduleStrategy::None,
            Some("normal") => SubmoduleStrategy::Normal,
            Some("recursive") => SubmoduleStrategy::Recursive,
            Some(other) => {
                warnings.push(format!(
                    "GIT_SUBMODULE_STRATEGY: expected either 'normal', 'recursive' or 'none' got \"{other}\""
                ));
                SubmoduleStrategy::None
            }
        };
        let flags = |key: &str, default: &str| match get(key) {
            None => default.to_owned(),
            Some("none") => String::new(),
            Some(value) => value.to_owned(),
        };
        let git_checkout = read_bool(&mut warnings, "GIT_CHECKOUT", get("GIT_CHECKOUT"), true);
        let after_script_ignore_errors = read_bool(
            &mut warnings,
            "AFTER_SCRIPT_IGNORE_ERRORS",
            get("AFTER_SCRIPT_IGNORE_ERRORS"),
            true,
        );
        let lfs_skip_smudge_by_job = get("GIT_LFS_SKIP_SMUDGE")
            .and_then(parse_bool)
            .unwrap_or(false);
        let mut debug_trace = read_bool(
            &mut warnings,
            "CI_DEBUG_TRACE",
            get("CI_DEBUG_TRACE"),
            false,
        );
        if debug_trace && debug_trace_disabled {
            warnings.push("CI_DEBUG_TRACE: usage is disabled on this Runner".to_owned());
            debug_trace = false;
        }
        let submodule_depth = match get("GIT_SUBMODULE_DEPTH") {
            None => depth,
            Some(raw) => raw.parse().unwrap_or_else(|_| {
                warnings.push(format!(
                    "GIT_SUBMODULE_DEPTH: expected int got \"{raw}\", using default value: {depth}"
                ));
                depth
            }),
        };
        let get_sources_attempts = read_attempts(
            &mut warnings,
            "GET_SOURCES_ATTEMPTS",
            get("GET_SOURCES_ATTEMPTS"),
        );
        let restore_cache_attempts = read_attempts(
            &mut warnings,
            "RESTORE_CACHE_ATTEMPTS",
            get("RESTORE_CACHE_ATTEMPTS"),
        );
        let artifact_download_attempts = read_attempts(
            &mut warnings,
            "ARTIFACT_DOWNLOAD_ATTEMPTS",
            get("ARTIFACT_DOWNLOAD_ATTEMPTS"),
        );
        let script_timeout = read_timeout(
            &mut warnings,
            "RUNNER_SCRIPT_TIMEOUT",
            get("RUNNER_SCRIPT_TIMEOUT"),
            job_timeout,
        );
        let after_script_timeout = read_timeout(
            &mut warnings,
            "RUNNER_AFTER_SCRIPT_TIMEOUT",
            get("RUNNER_AFTER_SCRIPT_TIMEOUT"),
            job_timeout,
        )
        .unwrap_or(DEFAULT_AFTER_SCRIPT_TIMEOUT);
        Self {
            git_strategy,
            git_checkout,
            git_clean_flags: flags("GIT_CLEAN_FLAGS", "-ffdx"),
            git_fetch_extra_flags: flags("GIT_FETCH_EXTRA_FLAGS", "--prune --quiet"),
            submodule_strategy,
            submodule_paths: get("GIT_SUBMODULE_PATHS").unwrap_or("").to_owned(),
            submodule_depth,
            submodule_update_flags: get("GIT_SUBMODULE_UPDATE_FLAGS").unwrap_or("").to_owned(),
            lfs_skip_smudge_by_job,
            git_clone_path: get("GIT_CLONE_PATH").map(str::to_owned),
            get_sources_attempts,
            restore_cache_attempts,
            artifact_download_attempts,
            after_script_ignore_errors,
            script_timeout,
            after_script_timeout,
            debug_trace,
            warnings,
        }
    }
}

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

fn read_bool(warnings: &mut Vec<String>, key: &str, value: Option<&str>, default: bool) -> bool {
    let Some(raw) = value else { return default };
    parse_bool(raw).unwrap_or_else(|| {
        warnings.push(format!(
            "{key}: expected bool got \"{raw}\", using default value: {default}"
        ));
        default
    })
}

fn read_attempts(warnings: &mut Vec<String>, key: &str, value: Option<&str>) -> u32 {
    let Some(raw) = value else { return 1 };
    let Ok(parsed) = raw.parse::<i64>() else {
        warnings.push(format!(
            "{key}: expected int got \"{raw}\", using default value: 1"
        ));
        return 1;
    };
    let clamped = parsed.clamp(1, 10);
    if clamped != parsed {
        warnings.push(format!(
            "{key}: number of attempts out of the range [1, 10], clamping to: {clamped}"
        ));
    }
    u32::try_from(clamped).unwrap_or(1)
}

/// `None` means "use the default".
fn read_timeout(
    warnings: &mut Vec<String>,
    key: &str,
    value: Option<&str>,
    job_timeout: Duration,
) -> Option<Duration> {
    let raw = value?;
    let Some(parsed) = parse_go_duration(raw) else {
        warnings.push(format!("Ignoring malformed {key} timeout: {raw}"));
        return None;
    };
    if parsed.negative && !parsed.duration.is_zero() {
        warnings.push(format!("Ignoring relative {key} timeout: {raw}"));
        return None;
    }
    if parsed.duration.is_zero() {
        return None;
    }
    if parsed.duration > job_timeout {
        warnings.push(format!(
            "{key} timeout: {raw} is longer than job timeout. Setting to job timeout"
        ));
        return Some(job_timeout);
    }
    Some(parsed.duration)
}
