//! `register`'s questions: the prompter (upstream's `ask`) and the per-executor questions.

use std::io::BufRead;

use anyhow::{Context as _, bail};
use runner_api::Token;
use runner_config::{DockerConfig, Executor, KubernetesConfig, RunnerConfig, Secret, SshConfig};

/// Asks for values on stderr and reads answers from `input`, as upstream's `ask` does.
pub(super) struct Prompter<R> {
    pub(super) input: R,
    pub(super) non_interactive: bool,
}

impl<R: BufRead> Prompter<R> {
    /// The value of `key`: `current` (from flags, env or template) in non-interactive mode,
    /// else the trimmed answer, keeping `current` on an empty answer. Secrets are shown
    /// shortened in the `[value]: ` hint.
    pub(super) fn ask(
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

/// Keeps only the sections of `executor` and asks its questions, as upstream does.
pub(super) fn ask_executor_options<R: BufRead>(
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
}
