//! `register`: creates or adopts a runner in GitLab and appends its `[[runners]]` entry to
//! the config file (cli.md 3), through `runner-config`'s comment-preserving editor.
//!
//! The flow follows upstream's `register.go` step by step: URL, token (a `glrt-` token is
//! verified, a legacy registration token registers through `POST runners`), executor and
//! its questions, then the file. A failure after GitLab accepted the runner removes it again
//! unless `--leave-runner`. Prompts go to stderr as upstream's `println` does.
//!
//! The questions live in `prompts`, the entry built from flags and a template in `template`;
//! what the registration commands share is in `super::registration`.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::{anyhow, bail};
use runner_api::wire::RegisterRunnerRequest;
use runner_api::{Client, Features, Token};
use runner_config::{ConfigDocument, Executor, RunnerConfig, RunnerSelector, Secret};
use tokio_util::sync::CancellationToken;

use crate::cli::RegisterArgs;
use runner_agent::coordinator;

use crate::config_file;

mod prompts;
mod template;

use super::registration::{expires_at, log_mode_banner, log_request_error, now, runtime};
use prompts::{Prompter, ask_executor_options};
use template::{merge_template, runner_from_flags};

/// Runs `register`: 0 when the entry was saved, 1 on any failure.
pub(crate) fn run(args: RegisterArgs) -> ExitCode {
    log_mode_banner(true);
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    let mut prompter = Prompter {
        input: std::io::stdin().lock(),
        non_interactive: args.non_interactive,
    };
    match runtime.block_on(register(&args, &mut prompter)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if !error.is::<AlreadyLogged>() {
                tracing::error!("{error:#}");
            }
            ExitCode::FAILURE
        }
    }
}

/// A failure whose message was logged before the rollback ran, as upstream logs its panic
/// line before the deferred unregister.
#[derive(Debug)]
struct AlreadyLogged;

impl std::fmt::Display for AlreadyLogged {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("registration failed")
    }
}

impl std::error::Error for AlreadyLogged {}

impl Registered {
    /// Logs `error`, then removes what GitLab accepted unless `--leave-runner`.
    async fn roll_back(
        &self,
        error: &anyhow::Error,
        leave_runner: bool,
        system_id: &str,
    ) -> anyhow::Error {
        tracing::error!("{error:#}");
        if !leave_runner {
            // The client logs the outcome; the registration fails either way.
            let _ = self.client.unregister(&self.token, system_id).await;
        }
        anyhow::Error::new(AlreadyLogged)
    }
}

/// What GitLab accepted, to undo it if a later step fails.
struct Registered {
    client: Client,
    token: Token,
}

async fn register<R: BufRead>(
    args: &RegisterArgs,
    prompter: &mut Prompter<R>,
) -> anyhow::Result<()> {
    let access_level = args.access_level.as_deref().unwrap_or("");
    if !matches!(access_level, "" | "not_protected" | "ref_protected") {
        bail!(
            "Given access-level is not valid. Refer to gitlab-runner register -h for the correct options."
        );
    }
    let mut runner = runner_from_flags(&args.runner);
    if let Some(template) = &args.template_config {
        tracing::info!(
            "Merging configuration from template file {:?}",
            template.display().to_string()
        );
        if let Err(error) = merge_template(&mut runner, template) {
            tracing::error!(error = %format!("{error:#}"), "Could not handle configuration merging from template file");
            bail!("Could not handle configuration merging from template file");
        }
    }
    let path = config_file::resolve_path(&args.config);
    let mut document = ConfigDocument::open(&path)?;
    let concurrent = document.to_config()?.config.concurrent;
    let system_id = config_file::system_id(&path);

    let registered = ask_runner(args, prompter, &mut runner, &document, &system_id).await?;
    let finished = finish(args, prompter, &mut runner, &mut document).await;
    if let Err(error) = finished {
        return Err(match registered {
            Some(registered) => {
                registered
                    .roll_back(&error, args.leave_runner, &system_id)
                    .await
            }
            None => error,
        });
    }
    if runner.limit > concurrent {
        tracing::warn!(
            "The specified runner job concurrency limit ({}) is larger than current global concurrency limit ({concurrent}). The global concurrent limit will not be increased and takes precedence.",
            runner.limit
        );
    }
    if runner.request_concurrency > concurrent {
        tracing::warn!(
            "The specified runner request concurrency ({}) is larger than the current global concurrent limit ({concurrent}). The global concurrent limit will not be increased and takes precedence.",
            runner.request_concurrency
        );
    }
    tracing::info!(
        "Runner registered successfully. Feel free to start it, but if it's running already the config should be automatically reloaded!"
    );
    tracing::info!(
        "Configuration (with the authentication token) was saved in {:?}",
        path.display().to_string()
    );
    Ok(())
}

/// URL and token (cli.md 3.3 steps 3-4). Returns what GitLab accepted, if anything.
async fn ask_runner<R: BufRead>(
    args: &RegisterArgs,
    prompter: &mut Prompter<R>,
    runner: &mut RunnerConfig,
    document: &ConfigDocument,
    system_id: &str,
) -> anyhow::Result<Option<Registered>> {
    runner.url = prompter.ask(
        "url",
        "Enter the GitLab instance URL (for example, https://gitlab.com/):",
        &runner.url,
        false,
    )?;
    let client = match coordinator::client(runner, None, CancellationToken::new(), None) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(error = %error, "Registering runner... client error");
            bail!("Failed to register the runner.");
        }
    };
    let flag_token = args.runner.token.clone().unwrap_or_default();
    if !flag_token.is_empty() && !flag_token.starts_with("glrt-") {
        tracing::info!("Token specified trying to verify runner...");
        tracing::warn!("If you want to register use the '-r' instead of '-t'.");
        let token = Token::new(flag_token.as_str());
        match client
            .verify_runner(&token, system_id, &coordinator::info(runner))
            .await
        {
            Err(error) if error.is_auth() => {
                bail!("Failed to verify the runner. You may be having network problems.")
            }
            Err(error) => log_request_error("Verifying runner...", &error),
            Ok(_) => {}
        }
        runner.token = Secret::new(flag_token);
        return Ok(None);
    }
    let registration_token = args.registration_token.clone().unwrap_or_default();
    let token_text = if flag_token.is_empty() {
        prompter.ask(
            "registration-token",
            "Enter the registration token:",
            &registration_token,
            false,
        )?
    } else {
        flag_token
    };
    let token = Token::new(token_text.as_str());
    if !token.is_runner_authentication_token() {
        runner.name = prompter.ask(
            "name",
            "Enter a description for the runner:",
            &runner.name,
            false,
        )?;
        let registered = register_legacy(args, prompter, runner, &client, &token).await?;
        return Ok(Some(registered));
    }
    if document
        .find_runner(&RunnerSelector::Token(&token_text))
        .is_some()
    {
        tracing::warn!("A runner with this system ID and token has already been registered.");
    }
    ensure_server_options_empty(args, registration_token == token_text)?;
    let verified = match client
        .verify_runner(&token, system_id, &coordinator::info(runner))
        .await
    {
        Ok(verified) if verified.id != 0 => verified,
        Ok(_) => bail!("Failed to verify the runner."),
        Err(error) => {
            log_request_error("Verifying runner...", &error);
            bail!("Failed to verify the runner.");
        }
    };
    runner.id = verified.id;
    runner.token = Secret::new(token_text);
    runner.token_obtained_at = now();
    runner.token_expires_at = expires_at(verified.token_expires_at.as_deref());
    let registered = Registered { client, token };
    runner.name = match prompter.ask(
        "name",
        "Enter a name for the runner. This is stored only in the local config.toml file:",
        &runner.name,
        false,
    ) {
        Ok(name) => name,
        Err(error) => {
            return Err(registered
                .roll_back(&error, args.leave_runner, system_id)
                .await);
        }
    };
    Ok(Some(registered))
}

/// The deprecated `POST runners` flow with a registration token.
async fn register_legacy<R: BufRead>(
    args: &RegisterArgs,
    prompter: &mut Prompter<R>,
    runner: &mut RunnerConfig,
    client: &Client,
    registration_token: &Token,
) -> anyhow::Result<Registered> {
    let tag_list = prompter.ask(
        "tag-list",
        "Enter tags for the runner (comma-separated):",
        args.tag_list.as_deref().unwrap_or(""),
        true,
    )?;
    let maintenance_note = prompter.ask(
        "maintenance-note",
        "Enter optional maintenance note for the runner:",
        args.maintenance_note.as_deref().unwrap_or(""),
        true,
    )?;
    let mut info = coordinator::info(runner);
    info.executor = String::new();
    info.shell = String::new();
    info.features = Features::network_client();
    let request = RegisterRunnerRequest {
        token: registration_token.clone(),
        description: runner.name.clone(),
        maintenance_note,
        run_untagged: args.run_untagged.unwrap_or(false) || tag_list.is_empty(),
        tag_list,
        locked: args.locked.unwrap_or(true),
        access_level: args.access_level.clone().unwrap_or_default(),
        maximum_timeout: u64::try_from(args.maximum_timeout.unwrap_or(0)).unwrap_or(0),
        paused: args.paused,
        info,
    };
    tracing::warn!(
        "Support for registration tokens and runner parameters in the 'register' command has been deprecated in GitLab Runner 15.6 and will be replaced with support for authentication tokens. For more information, see https://docs.gitlab.com/ci/runners/new_creation_workflow/"
    );
    let registered = match client.register_runner(registration_token, request).await {
        Ok(registered) => registered,
        Err(error) => {
            log_request_error("Registering runner...", &error);
            bail!("Failed to register the runner.");
        }
    };
    runner.id = registered.id;
    runner.token = Secret::new(registered.token.expose());
    runner.token_obtained_at = now();
    runner.token_expires_at = expires_at(registered.token_expires_at.as_deref());
    Ok(Registered {
        client: client.clone(),
        token: registered.token,
    })
}

/// Server-owned settings cannot come with a `glrt-` token, except through `-r` where
/// upstream ignores them with a warning.
fn ensure_server_options_empty(
    args: &RegisterArgs,
    via_registration_token: bool,
) -> anyhow::Result<()> {
    let untouched = args.locked.unwrap_or(true)
        && args.access_level.as_deref().unwrap_or("").is_empty()
        && !args.run_untagged.unwrap_or(false)
        && args.maximum_timeout.unwrap_or(0) == 0
        && !args.paused
        && args.tag_list.as_deref().unwrap_or("").is_empty()
        && args.maintenance_note.as_deref().unwrap_or("").is_empty();
    if untouched {
        return Ok(());
    }
    if via_registration_token {
        tracing::warn!(
            "You have specified an authentication token in the legacy parameter --registration-token. This has triggered the 'legacy-compatible registration process' which has resulted in the following command line parameters being ignored: --locked, --access-level, --run-untagged, --maximum-timeout, --paused, --tag-list, and --maintenance-note. For more information, see https://docs.gitlab.com/ci/runners/new_creation_workflow/#changes-to-the-gitlab-runner-register-command-syntaxThese parameters and the legacy-compatible registration process will be removed in a future GitLab Runner release. "
        );
        return Ok(());
    }
    Err(anyhow!(
        "Runner configuration other than name and executor configuration is reserved (specifically --locked, --access-level, --run-untagged, --maximum-timeout, --paused, --tag-list, and --maintenance-note) and cannot be specified when registering with a runner authentication token. This configuration is specified on the GitLab server. Please try again without specifying any of those arguments. For more information, see https://docs.gitlab.com/ci/runners/new_creation_workflow/#changes-to-the-gitlab-runner-register-command-syntax"
    ))
}

/// Executor, its questions, and the file (cli.md 3.3 steps 5-7).
async fn finish<R: BufRead>(
    args: &RegisterArgs,
    prompter: &mut Prompter<R>,
    runner: &mut RunnerConfig,
    document: &mut ConfigDocument,
) -> anyhow::Result<()> {
    let names: Vec<&str> = Executor::ALL.iter().map(|e| e.as_str()).collect();
    let prompt = format!("Enter an executor: {}:", names.join(", "));
    let current = args
        .runner
        .executor
        .clone()
        .or_else(|| runner.executor.map(|e| e.as_str().to_owned()))
        .unwrap_or_default();
    let executor = loop {
        let answer = prompter.ask("executor", &prompt, &current, true)?;
        match answer.parse::<Executor>() {
            Ok(executor) => break executor,
            Err(_) if prompter.non_interactive => bail!("Invalid executor specified"),
            Err(_) => tracing::error!("Invalid executor specified"),
        }
    };
    runner.executor = Some(executor);
    ask_executor_options(prompter, runner, executor)?;
    document.add_runner(runner)?;
    document.save()?;
    Ok(())
}
