//! `unregister`: removes runners from GitLab and their entries from the config file
//! (cli.md 4). A `glrt-` token removes only this machine's runner manager; other tokens
//! delete the runner.

use std::process::ExitCode;

use runner_config::{ConfigDocument, RunnerConfig, RunnerSelector};
use tokio_util::sync::CancellationToken;

use super::registration::{log_mode_banner, log_request_error, runtime};
use crate::cli::UnregisterArgs;
use runner_agent::coordinator;

use crate::config_file;

/// Runs `unregister`: 1 when the selected runner is missing or GitLab refused; with
/// `--all-runners` failures are logged and the exit status is 0.
pub(crate) fn run(args: &UnregisterArgs) -> ExitCode {
    log_mode_banner(false);
    let path = config_file::resolve_path(&args.config);
    let mut document = match ConfigDocument::open(&path) {
        Ok(document) => document,
        Err(error) => {
            tracing::error!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let raw_runners = match document.to_config() {
        Ok(loaded) => {
            config_file::log_warnings(&loaded);
            loaded.config.runners
        }
        Err(error) => {
            tracing::error!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    let system_id = config_file::system_id(&path);
    let changed = if args.all_runners {
        tracing::warn!("Unregistering all runners");
        let mut failed = false;
        let mut changed = false;
        for raw in &raw_runners {
            if runtime.block_on(unregister(raw, &system_id)) {
                let _ = document.remove_runner(&RunnerSelector::NameAndToken {
                    name: &raw.name,
                    token: raw.token.expose(),
                });
                changed = true;
            } else {
                failed = true;
            }
        }
        if failed {
            tracing::error!("Failed to unregister runners");
        }
        changed
    } else {
        let selector = match (args.name.as_deref(), args.token.as_deref()) {
            (Some(name), Some(token)) => RunnerSelector::NameAndToken { name, token },
            (None, Some(token)) => RunnerSelector::Token(token),
            (Some(name), None) => RunnerSelector::Name(name),
            (None, None) => {
                return fail(
                    "get runner by token or name: at least one of --name or --token must be specified",
                );
            }
        };
        let Some(index) = document.find_runner(&selector) else {
            return fail(&format!(
                "get runner by token or name: could not find {selector}"
            ));
        };
        let Some(raw) = raw_runners.get(index) else {
            return fail(&format!(
                "get runner by token or name: could not find {selector}"
            ));
        };
        if !runtime.block_on(unregister(raw, &system_id)) {
            let name = if args.name.is_some() {
                raw.name.as_str()
            } else {
                ""
            };
            return fail(&format!("failed to unregister runner {name:?}"));
        }
        if let Err(error) = document.remove_runner(&selector) {
            return fail(&error.to_string());
        }
        true
    };
    if !changed {
        return ExitCode::SUCCESS;
    }
    if let Err(error) = document.save() {
        tracing::error!("{error:#}");
        return ExitCode::FAILURE;
    }
    tracing::info!("Updated {}", path.display());
    ExitCode::SUCCESS
}

/// Upstream's fatal line for a single unregister.
fn fail(cause: &str) -> ExitCode {
    tracing::error!(
        error = format!("mutate config: unregister runner: {cause}"),
        "failed to unregister runner"
    );
    ExitCode::FAILURE
}

/// Unregisters one entry (its `url`/`token` with `$VAR` expanded); whether GitLab agreed.
async fn unregister(raw: &RunnerConfig, system_id: &str) -> bool {
    let mut runner = raw.clone();
    let lookup = |name: &str| std::env::var(name).ok();
    let mut single = runner_config::Config {
        runners: vec![runner.clone()],
        ..runner_config::Config::default()
    };
    single.expand_env(lookup);
    if let Some(expanded) = single.runners.pop() {
        runner = expanded;
    }
    let client = match coordinator::client(&runner, None, CancellationToken::new(), None) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(error = %error, "Unregistering runner from GitLab client error");
            return false;
        }
    };
    let token = runner_api::Token::new(runner.token.expose());
    match client.unregister(&token, system_id).await {
        Ok(()) => true,
        Err(error) => {
            let prefix = if token.is_runner_authentication_token() {
                "Unregistering runner manager from GitLab"
            } else {
                "Unregistering runner from GitLab"
            };
            log_request_error(prefix, &error);
            false
        }
    }
}
