//! `lint`: validates a config file; unknown keys are errors here, as upstream's `lint`
//! treats them (cli.md 7), while every other command only warns about them.

use std::process::ExitCode;

use crate::cli::ConfigArgs;
use crate::config_file;

/// Runs `lint`: 0 when the file is valid and has no unknown keys, 1 otherwise.
pub(crate) fn run(args: &ConfigArgs) -> ExitCode {
    let path = config_file::resolve_path(args);
    let loaded = match runner_config::load(&path) {
        Ok(loaded) => loaded,
        Err(error) if error.is_not_found() => {
            tracing::error!("config file not found: {}", path.display());
            return ExitCode::FAILURE;
        }
        Err(error) => {
            tracing::error!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let unknown: Vec<_> = loaded
        .warnings
        .iter()
        .filter(|warning| warning.is_unknown_key())
        .collect();
    if !unknown.is_empty() {
        let mut message = format!(
            "{} unknown key(s) found in {}:",
            unknown.len(),
            path.display()
        );
        for warning in &unknown {
            message.push_str(&format!("\n  unknown key: {warning}"));
        }
        tracing::error!("{message}");
        return ExitCode::FAILURE;
    }
    config_file::log_warnings(&loaded);
    tracing::info!("Configuration file is valid.");
    ExitCode::SUCCESS
}
