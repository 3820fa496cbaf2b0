//! Finding, loading and reporting on `config.toml` for every command, so each command
//! treats the file the same way: the same default path, warnings logged with their line,
//! and every problem of an invalid file printed at once.

use std::path::{Path, PathBuf};

use runner_config::{LoadError, Loaded};

use crate::cli::ConfigArgs;

/// The config path from `-c/--config`, else upstream's default for this user (cli.md 1.5):
/// `/etc/gitlab-runner/config.toml` for root, `~/.gitlab-runner/config.toml` otherwise.
pub(crate) fn resolve_path(args: &ConfigArgs) -> PathBuf {
    if let Some(path) = &args.config {
        return path.clone();
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    runner_config::default_config_path(is_root(), home.as_deref())
}

/// Whether the process runs as root (system mode).
pub(crate) fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Loads the file and logs its warnings (unknown keys with their line, F7).
pub(crate) fn load(path: &Path) -> Result<Loaded, LoadError> {
    let loaded = runner_config::load(path)?;
    log_warnings(&loaded);
    Ok(loaded)
}

/// Loads the file, or the defaults when it does not exist (what `run` does at start-up).
pub(crate) fn load_or_default(path: &Path) -> Result<Loaded, LoadError> {
    match load(path) {
        Err(error) if error.is_not_found() => Ok(Loaded {
            config: runner_config::Config::default(),
            warnings: Vec::new(),
        }),
        other => other,
    }
}

/// Logs every warning of a load at warning level, one line each.
pub(crate) fn log_warnings(loaded: &Loaded) {
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
}

/// This runner manager's system id: read from `.runner_system_id` beside the config file,
/// or created there (`s_` + 12 hex) on first use, as upstream does (config-toml.md §1.1).
pub(crate) fn system_id(config_path: &Path) -> String {
    let path = config_path.parent().map_or_else(
        || PathBuf::from(".runner_system_id"),
        |dir| dir.join(".runner_system_id"),
    );
    if let Ok(text) = std::fs::read_to_string(&path) {
        let text = text.trim();
        if runner_api::is_valid_system_id(text) {
            return text.to_owned();
        }
    }
    let generated = runner_api::generate_system_id(&mut rand::rng());
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(error) = std::fs::write(&path, format!("{generated}\n")) {
        tracing::warn!(path = %path.display(), error = %error, "could not save the system id; a new one is used next time");
    }
    generated
}
