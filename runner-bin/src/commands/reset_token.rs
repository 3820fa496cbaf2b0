//! `reset-token`: rotates runner authentication tokens (cli.md 8) and stores the new token
//! and its timestamps through `ConfigDocument::update_token`, so the rest of the file stays
//! as the user wrote it.

use std::process::ExitCode;

use runner_api::Token;
use runner_config::{ConfigDocument, RunnerConfig, RunnerSelector};
use tokio_util::sync::CancellationToken;

use super::registration::{expires_at, log_mode_banner, log_request_error, now, runtime};
use crate::cli::ResetTokenArgs;
use runner_agent::coordinator;

use crate::config_file;

/// Runs `reset-token`: 1 when the runner is not found, the reset fails, or the file cannot
/// be read or written; with `--all-runners` per-runner failures are only logged.
pub(crate) fn run(args: &ResetTokenArgs) -> ExitCode {
    log_mode_banner(true);
    let path = config_file::resolve_path(&args.config);
    let opened = ConfigDocument::open(&path)
        .map_err(anyhow::Error::from)
        .and_then(|document| {
            let loaded = document.to_config()?;
            Ok((document, loaded))
        });
    let (mut document, loaded) = match opened {
        Ok(opened) => opened,
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "Failed to load configuration");
            return ExitCode::FAILURE;
        }
    };
    config_file::log_warnings(&loaded);
    let mut expanded = loaded.config;
    expanded.expand_env(|name| std::env::var(name).ok());
    let selected: Vec<usize> = if args.all_runners {
        tracing::warn!("Resetting all runner authentication tokens");
        (0..expanded.runners.len()).collect()
    } else {
        match select(args, &expanded.runners) {
            Ok(index) => vec![index],
            Err(cause) => {
                tracing::error!(error = cause, "Couldn't get runner credentials");
                return ExitCode::FAILURE;
            }
        }
    };
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    let mut changed = false;
    for index in selected {
        let runner = &expanded.runners[index];
        let Some(reset) = runtime.block_on(reset(runner, args.pat.as_deref())) else {
            tracing::error!(
                name = %runner.name,
                id = runner.id,
                "Failed to reset runner authentication token"
            );
            if args.all_runners {
                continue;
            }
            return ExitCode::FAILURE;
        };
        let token = runner_config::Secret::new(reset.token.expose());
        let expires = expires_at(reset.token_expires_at.as_deref());
        if let Err(error) =
            document.update_token(&RunnerSelector::Index(index), &token, now(), expires)
        {
            tracing::error!(error = %error, "Failed to update configuration");
            return ExitCode::FAILURE;
        }
        changed = true;
    }
    if !changed {
        return if args.all_runners {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    if let Err(error) = document.save() {
        tracing::error!(error = %format!("{error:#}"), "Failed to update configuration");
        return ExitCode::FAILURE;
    }
    // Upstream prints this one line with Go's standard logger, not logrus.
    eprintln!(
        "{} Updated",
        chrono::Local::now().format("%Y/%m/%d %H:%M:%S")
    );
    ExitCode::SUCCESS
}

/// The entry named by `--name`, else by `--url` and `--id`; upstream's error text otherwise.
fn select(args: &ResetTokenArgs, runners: &[RunnerConfig]) -> Result<usize, String> {
    let name = args.name.as_deref().unwrap_or("");
    if !name.is_empty() {
        return runners
            .iter()
            .position(|runner| runner.name == name)
            .ok_or_else(|| format!("could not find a runner with the name '{name}'"));
    }
    let url = args.url.as_deref().unwrap_or("");
    let id = args.id.unwrap_or(0);
    runners
        .iter()
        .position(|runner| runner.url == url && runner.id == id)
        .ok_or_else(|| format!("could not find a runner with the URL {url:?} and ID {id}"))
}

/// Resets the token of `runner`, with the personal access token when given.
async fn reset(
    runner: &RunnerConfig,
    pat: Option<&str>,
) -> Option<runner_api::wire::ResetTokenResponse> {
    let client = match coordinator::client(runner, None, CancellationToken::new(), None) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(error = %error, "Resetting runner authentication token... client error");
            return None;
        }
    };
    let result = match pat.filter(|pat| !pat.is_empty()) {
        Some(pat) => {
            client
                .reset_token_with_pat(runner.id, &Token::new(pat))
                .await
        }
        None => client.reset_token(&Token::new(runner.token.expose())).await,
    };
    match result {
        Ok(response) => {
            tracing::info!(
                runner = %runner.short_token(),
                "Resetting runner authentication token... succeeded"
            );
            Some(response)
        }
        Err(error) => {
            log_request_error("Resetting runner authentication token...", &error);
            None
        }
    }
}
