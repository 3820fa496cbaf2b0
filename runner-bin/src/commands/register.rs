//! `register`: creates or adopts a runner in GitLab and appends its `[[runners]]` entry to
//! the config file (cli.md 3), through `runner-config`'s comment-preserving editor.
//!
//! The flow follows upstream's `register.go` step by step: URL, token (a `glrt-` token is
//! verified, a legacy registration token registers through `POST runners`), executor and
//! its questions, then the file. A failure after GitLab accepted the runner removes it again
//! unless `--leave-runner`. Prompts go to stderr as upstream's `println` does.
//!
//! The helpers at the bottom (mode banner, runtime, timestamps) are shared by `verify`,
//! `unregister` and `reset-token`.

use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context as _, anyhow, bail};
use runner_api::wire::RegisterRunnerRequest;
use runner_api::{Client, Features, Token};
use runner_config::{
    ConfigDocument, DockerConfig, Executor, KubernetesConfig, RunnerConfig, RunnerSelector, Secret,
    SshConfig, Timestamp,
};
use tokio_util::sync::CancellationToken;

use crate::cli::{RegisterArgs, RunnerArgs};
use crate::{config_file, coordinator};

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

/// Asks for values on stderr and reads answers from `input`, as upstream's `ask` does.
struct Prompter<R> {
    input: R,
    non_interactive: bool,
}

impl<R: BufRead> Prompter<R> {
    /// The value of `key`: `current` (from flags, env or template) in non-interactive mode,
    /// else the trimmed answer, keeping `current` on an empty answer. Secrets are shown
    /// shortened in the `[value]: ` hint.
    fn ask(
        &mut self,
        key: &str,
        prompt: &str,
        current: &str,
        allow_empty: bool,
    ) -> anyhow::Result<String> {
        let mut result = current.trim().to_owned();
        if self.non_interactive {
            if result.is_empty() && !allow_empty {
                bail!("The {key} needs to be entered");
            }
            return Ok(result);
        }
        loop {
            eprintln!("{prompt}");
            if !result.is_empty() {
                let shown = if key.ends_with("token") {
                    format!("{}...", Token::new(result.as_str()).short())
                } else {
                    result.clone()
                };
                eprint!("[{shown}]: ");
            }
            let mut line = String::new();
            let read = self
                .input
                .read_line(&mut line)
                .context("could not read from standard input")?;
            if read == 0 {
                bail!("Unexpected EOF. Did you mean to use --non-interactive?");
            }
            let answer = line.trim();
            if !answer.is_empty() {
                result = answer.to_owned();
                return Ok(result);
            }
            if allow_empty || !result.is_empty() {
                return Ok(result);
            }
        }
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
    let client = match coordinator::client(runner, None, CancellationToken::new()) {
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

/// Keeps only the sections of `executor` and asks its questions, as upstream does.
fn ask_executor_options<R: BufRead>(
    prompter: &mut Prompter<R>,
    runner: &mut RunnerConfig,
    executor: Executor,
) -> anyhow::Result<()> {
    let docker = runner.docker.take().unwrap_or_default();
    let kubernetes = runner.kubernetes.take();
    let ssh = runner.ssh.take().unwrap_or_default();
    let parallels = runner.parallels.take();
    let virtualbox = runner.virtualbox.take();
    let custom = runner.custom.take();
    let machine = runner.machine.take();
    runner.referees = None;
    match executor {
        Executor::Docker | Executor::DockerMachine | Executor::DockerAutoscaler => {
            if executor == Executor::DockerMachine {
                runner.machine = machine;
            }
            runner.docker = Some(ask_docker(prompter, docker, "ruby:3.3", "/cache")?);
        }
        Executor::DockerWindows => {
            if runner.shell.is_empty() {
                "pwsh".clone_into(&mut runner.shell);
            }
            runner.docker = Some(ask_docker(
                prompter,
                docker,
                "mcr.microsoft.com/windows/servercore:1809",
                "c:\\cache",
            )?);
        }
        Executor::Kubernetes => {
            runner.kubernetes = kubernetes.or_else(|| Some(KubernetesConfig::default()))
        }
        Executor::Ssh => runner.ssh = Some(ask_ssh(prompter, ssh, true, true)?),
        Executor::Parallels => {
            let mut parallels = parallels.unwrap_or_default();
            parallels.base_name = prompter.ask(
                "parallels-base-name",
                "Enter the Parallels VM (for example, my-vm):",
                &parallels.base_name,
                false,
            )?;
            runner.parallels = Some(parallels);
            runner.ssh = Some(ask_ssh(prompter, ssh, true, false)?);
        }
        Executor::Virtualbox => {
            let mut virtualbox = virtualbox.unwrap_or_default();
            virtualbox.base_name = prompter.ask(
                "virtualbox-base-name",
                "Enter the VirtualBox VM (for example, my-vm):",
                &virtualbox.base_name,
                false,
            )?;
            runner.virtualbox = Some(virtualbox);
            runner.ssh = Some(ask_ssh(prompter, ssh, false, true)?);
        }
        Executor::Custom => runner.custom = custom,
        Executor::Shell | Executor::Instance => {}
    }
    Ok(())
}

fn ask_docker<R: BufRead>(
    prompter: &mut Prompter<R>,
    mut docker: DockerConfig,
    example: &str,
    cache_volume: &str,
) -> anyhow::Result<DockerConfig> {
    docker.image = prompter.ask(
        "docker-image",
        &format!("Enter the default Docker image (for example, {example}):"),
        &docker.image,
        false,
    )?;
    let has_cache = docker.volumes.iter().any(|volume| {
        volume.rsplit(':').next() == Some(cache_volume)
            || volume.contains(cache_volume) && cache_volume.contains('\\')
    });
    if !has_cache && !docker.disable_cache {
        docker.volumes.push(cache_volume.to_owned());
    }
    Ok(docker)
}

fn ask_ssh<R: BufRead>(
    prompter: &mut Prompter<R>,
    mut ssh: SshConfig,
    server: bool,
    login: bool,
) -> anyhow::Result<SshConfig> {
    if server {
        ssh.host = prompter.ask(
            "ssh-host",
            "Enter the SSH server address (for example, my.server.com):",
            &ssh.host,
            false,
        )?;
        ssh.port = prompter.ask(
            "ssh-port",
            "Enter the SSH server port (for example, 22):",
            &ssh.port,
            true,
        )?;
    }
    if login {
        ssh.user = prompter.ask(
            "ssh-user",
            "Enter the SSH user (for example, root):",
            &ssh.user,
            false,
        )?;
        let password = prompter.ask(
            "ssh-password",
            "Enter the SSH password (for example, docker.io):",
            ssh.password.expose(),
            true,
        )?;
        ssh.password = Secret::new(password);
        ssh.identity_file = prompter.ask(
            "ssh-identity-file",
            "Enter the path to the SSH identity file (for example, /home/user/.ssh/id_rsa):",
            &ssh.identity_file,
            true,
        )?;
    }
    Ok(ssh)
}

/// The entry as far as flags and environment define it; the name defaults to the host name.
fn runner_from_flags(flags: &RunnerArgs) -> RunnerConfig {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let path = |value: &Option<std::path::PathBuf>| {
        value
            .as_ref()
            .map(|path| path.display().to_string())
            .unwrap_or_default()
    };
    let mut runner = RunnerConfig {
        name: flags.name.clone().unwrap_or_else(hostname),
        url: text(&flags.url),
        shell: text(&flags.shell),
        limit: flags.limit.unwrap_or(0),
        request_concurrency: flags.request_concurrency.unwrap_or(0),
        output_limit: flags.output_limit.unwrap_or(0),
        builds_dir: text(&flags.builds_dir),
        cache_dir: text(&flags.cache_dir),
        environment: flags.env.clone(),
        pre_get_sources_script: text(&flags.pre_get_sources_script),
        post_get_sources_script: text(&flags.post_get_sources_script),
        pre_build_script: text(&flags.pre_build_script),
        post_build_script: text(&flags.post_build_script),
        tls_ca_file: path(&flags.tls_ca_file),
        tls_cert_file: path(&flags.tls_cert_file),
        tls_key_file: path(&flags.tls_key_file),
        clone_url: text(&flags.clone_url),
        // Known early so verify reports this executor's features; validated when asked.
        executor: flags.executor.as_deref().and_then(|name| name.parse().ok()),
        ..RunnerConfig::default()
    };
    for flag in &flags.feature_flags {
        if let Some((name, value)) = flag.split_once(':') {
            if let Ok(value) = value.trim().parse::<bool>() {
                runner.feature_flags.insert(name.trim().to_owned(), value);
            }
        }
    }
    if let Some(image) = &flags.docker_image {
        runner.docker = Some(DockerConfig {
            image: image.clone(),
            ..DockerConfig::default()
        });
    }
    if let Some(namespace) = &flags.kubernetes_namespace {
        runner.kubernetes = Some(KubernetesConfig {
            namespace: namespace.clone(),
            ..KubernetesConfig::default()
        });
    }
    runner
}

/// Fills fields still empty in `runner` from the single `[[runners]]` entry of the
/// template (its credentials are discarded), like upstream's `mergo.Merge`.
fn merge_template(runner: &mut RunnerConfig, template: &Path) -> anyhow::Result<()> {
    let loaded = runner_config::load(template)
        .map_err(|error| anyhow!("couldn't load configuration template file: {error}"))?;
    let [entry] = loaded.config.runners.as_slice() else {
        bail!("configuration template must contain exactly one [[runners]] entry");
    };
    let credentials = ["token", "id", "token_obtained_at", "token_expires_at"];
    let mut target = serde_json::to_value(&*runner)?;
    let mut source = serde_json::to_value(entry)?;
    for value in [&mut target, &mut source] {
        if let Some(object) = value.as_object_mut() {
            for key in credentials {
                object.remove(key);
            }
        }
    }
    fill_empty(&mut target, source);
    let merged: RunnerConfig = serde_json::from_value(target)
        .context("error while merging configuration with configuration template")?;
    *runner = RunnerConfig {
        id: runner.id,
        token: runner.token.clone(),
        token_obtained_at: runner.token_obtained_at,
        token_expires_at: runner.token_expires_at,
        ..merged
    };
    Ok(())
}

fn fill_empty(target: &mut serde_json::Value, source: serde_json::Value) {
    use serde_json::Value;
    match (target, source) {
        (Value::Object(target), Value::Object(source)) => {
            for (key, value) in source {
                match target.get_mut(&key) {
                    Some(existing) if !is_empty_json(existing) => fill_empty(existing, value),
                    _ => {
                        target.insert(key, value);
                    }
                }
            }
        }
        (target, source) if is_empty_json(target) => *target = source,
        _ => {}
    }
}

fn is_empty_json(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Null => true,
        Value::Bool(flag) => !flag,
        Value::Number(number) => number.as_f64() == Some(0.0),
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
    }
}

fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|file| std::fs::read_to_string(file).ok())
        .map(|name| name.trim().to_owned())
        .unwrap_or_default()
}

// Helpers shared by the registration commands (register, verify, unregister, reset-token).

/// The mode banner of cli.md 1.5; `with_run_hint` adds the "start builds" lines.
pub(crate) fn log_mode_banner(with_run_hint: bool) {
    if config_file::is_root() {
        tracing::info!("Running in system-mode.");
    } else {
        tracing::warn!("Running in user-mode.");
        if with_run_hint {
            tracing::warn!("The user-mode requires you to manually start builds processing:");
            tracing::warn!("$ gitlab-runner-rs run");
        }
        tracing::warn!("Use sudo for system-mode:");
        tracing::warn!("$ sudo gitlab-runner-rs...");
    }
    tracing::info!("");
}

/// A current-thread runtime for one command, or `None` after logging why not.
pub(crate) fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => Some(runtime),
        Err(error) => {
            tracing::error!(error = %error, "could not start the async runtime");
            None
        }
    }
}

/// Now in UTC, truncated to whole seconds as upstream stores `token_obtained_at`.
pub(crate) fn now() -> Timestamp {
    let now = Timestamp::from_system_time(SystemTime::now());
    Timestamp::from_unix(now.unix_seconds(), 0)
}

/// `token_expires_at` from the coordinator's RFC 3339 text; absent or unreadable means
/// "never" (the zero time).
pub(crate) fn expires_at(text: Option<&str>) -> Timestamp {
    text.and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
        .map_or(Timestamp::ZERO, |time| {
            Timestamp::from_unix(time.timestamp(), time.timestamp_subsec_nanos())
        })
}

/// Logs a failure the API client did not log itself (no HTTP answer): `<prefix> client
/// error` before any I/O, `<prefix> failed` otherwise. Answers were logged by the client.
pub(crate) fn log_request_error(prefix: &str, error: &runner_api::Error) {
    if error.status().is_some() {
        return;
    }
    if error.is_client_error() {
        tracing::error!(error = %error, "{prefix} client error");
    } else {
        tracing::error!(error = %error, "{prefix} failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompter(input: &str, non_interactive: bool) -> Prompter<&[u8]> {
        Prompter {
            input: input.as_bytes(),
            non_interactive,
        }
    }

    #[test]
    fn non_interactive_missing_value_names_the_key() {
        let error = prompter("", true)
            .ask("url", "Enter:", "  ", false)
            .unwrap_err();
        assert_eq!(error.to_string(), "The url needs to be entered");
    }

    #[test]
    fn empty_answer_keeps_the_default_and_eof_is_an_error() {
        let mut prompter = prompter("\n  given \n", false);
        assert_eq!(
            prompter.ask("name", "Name:", "host", false).unwrap(),
            "host"
        );
        assert_eq!(
            prompter.ask("name", "Name:", "host", false).unwrap(),
            "given"
        );
        let error = prompter.ask("name", "Name:", "", false).unwrap_err();
        assert_eq!(
            error.to_string(),
            "Unexpected EOF. Did you mean to use --non-interactive?"
        );
    }

    #[test]
    fn a_required_value_is_asked_again_until_given() {
        let mut prompter = prompter("\n\nvalue\n", false);
        assert_eq!(prompter.ask("url", "URL:", "", false).unwrap(), "value");
    }

    #[test]
    fn template_fills_only_empty_fields_and_drops_its_token() {
        let dir = tempfile_dir();
        let template = dir.join("template.toml");
        std::fs::write(&template, "[[runners]]\n  name = \"from-template\"\n  token = \"glrt-template\"\n  limit = 4\n  builds_dir = \"/builds\"\n  [runners.docker]\n    image = \"alpine\"\n    privileged = true\n").unwrap();
        let mut runner = RunnerConfig {
            name: "from-flags".into(),
            docker: Some(DockerConfig {
                image: "ubuntu".into(),
                ..DockerConfig::default()
            }),
            ..RunnerConfig::default()
        };
        merge_template(&mut runner, &template).unwrap();
        assert_eq!(runner.name, "from-flags");
        assert_eq!(runner.limit, 4);
        assert_eq!(runner.builds_dir, "/builds");
        assert!(runner.token.is_empty());
        let docker = runner.docker.unwrap();
        assert_eq!(docker.image, "ubuntu");
        assert!(docker.privileged);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn expiry_parses_rfc3339_and_null_means_never() {
        assert_eq!(expires_at(None), Timestamp::ZERO);
        assert_eq!(
            expires_at(Some("2026-03-01T10:15:00Z")).to_string(),
            "2026-03-01T10:15:00Z"
        );
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("register-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
