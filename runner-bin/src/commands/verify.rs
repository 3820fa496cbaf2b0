//! `verify`: asks GitLab whether each selected runner still exists (cli.md 5) and, with
//! `--delete`, removes the ones it rejects from the config file.
//!
//! Only a 403 counts as "gone": an unreachable or failing coordinator is inconclusive and
//! the runner is kept, as upstream does.

use std::process::ExitCode;

use runner_config::{ConfigDocument, RunnerConfig, RunnerSelector};
use tokio_util::sync::CancellationToken;

use super::registration::{log_mode_banner, log_request_error, runtime};
use crate::cli::VerifyArgs;
use runner_agent::coordinator;

use crate::config_file;

/// Runs `verify`: 1 when a selector matches nothing, or a runner was rejected and
/// `--delete` was not given; 0 otherwise.
pub(crate) fn run(args: &VerifyArgs) -> ExitCode {
    log_mode_banner(true);
    let path = config_file::resolve_path(&args.config);
    let mut document = match ConfigDocument::open(&path) {
        Ok(document) => document,
        Err(error) => {
            tracing::error!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let loaded = match document.to_config() {
        Ok(loaded) => loaded,
        Err(error) => {
            tracing::error!("{error}");
            return ExitCode::FAILURE;
        }
    };
    config_file::log_warnings(&loaded);
    let raw_runners = loaded.config.runners.clone();
    let mut expanded = loaded.config;
    expanded.expand_env(|name| std::env::var(name).ok());

    let selected: Vec<usize> = (0..expanded.runners.len())
        .filter(|index| is_selected(args, &expanded.runners[*index]))
        .collect();
    let has_selector = args.name.is_some() || args.token.is_some();
    if has_selector && selected.is_empty() {
        tracing::error!("mutate config: no runner matches the filtering parameters");
        return ExitCode::FAILURE;
    }
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    let system_id = config_file::system_id(&path);
    let rejected: Vec<usize> = runtime.block_on(async {
        let mut rejected = Vec::new();
        for index in selected {
            if is_rejected(&expanded.runners[index], &system_id).await {
                rejected.push(index);
            }
        }
        rejected
    });
    if rejected.is_empty() {
        return ExitCode::SUCCESS;
    }
    if !args.delete {
        tracing::error!("Failed to verify runners");
        return ExitCode::FAILURE;
    }
    for index in rejected {
        let raw = &raw_runners[index];
        let selector = RunnerSelector::NameAndToken {
            name: &raw.name,
            token: raw.token.expose(),
        };
        match document.remove_runner(&selector) {
            // Already removed together with an entry holding the same credentials.
            Err(error) if error.is_runner_not_found() => {}
            Err(error) => {
                tracing::error!("{error}");
                return ExitCode::FAILURE;
            }
            Ok(_) => {}
        }
    }
    if let Err(error) = document.save() {
        tracing::error!("{error:#}");
        return ExitCode::FAILURE;
    }
    tracing::info!("Updated {}", path.display());
    ExitCode::SUCCESS
}

/// `--name` must equal the name; `--token` the token, with `--url` matching too unless it
/// is empty or `*`.
fn is_selected(args: &VerifyArgs, runner: &RunnerConfig) -> bool {
    if args.name.as_deref().is_some_and(|name| name != runner.name) {
        return false;
    }
    if let Some(token) = args.token.as_deref() {
        let url_matches = match args.url.as_deref() {
            None | Some("" | "*") => true,
            Some(url) => url == runner.url,
        };
        return token == runner.token.expose() && url_matches;
    }
    true
}

/// Whether the coordinator answered 403 for this runner (the client logs each answer).
async fn is_rejected(runner: &RunnerConfig, system_id: &str) -> bool {
    let client = match coordinator::client(runner, None, CancellationToken::new(), None) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(runner_name = %runner.name, error = %error, "Verifying runner... client error");
            return false;
        }
    };
    let token = runner_api::Token::new(runner.token.expose());
    match client
        .verify_runner(&token, system_id, &coordinator::info(runner))
        .await
    {
        Ok(_) => false,
        Err(error) if error.is_auth() => true,
        Err(error) => {
            log_request_error("Verifying runner...", &error);
            false
        }
    }
}
