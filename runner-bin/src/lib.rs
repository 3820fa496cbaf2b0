//! The library half of the `gitlab-runner-rs` binary: command-line parsing, logging,
//! signals and service commands around `runner-agent`, which holds the engine.
//!
//! `main.rs` stays a few lines; everything testable lives here. Start from [`main_entry`].

mod cli;
mod commands;
mod config_file;
mod custom_flags;
mod health_check;
mod helper_commands;
mod local_coordinator;
mod logging;
mod section_flags;
mod service;
mod signals;

use std::process::ExitCode;

use runner_agent::version;

/// Parses the command line, runs the command and maps the result to upstream's exit
/// statuses: 0 on success, 1 on any fatal error (cli.md 1.4).
pub fn main_entry() -> ExitCode {
    let cli = match cli::parse(std::env::args_os().collect()) {
        Ok(cli) => cli,
        Err(status) => return status,
    };
    if cli.version {
        #[expect(
            clippy::print_stdout,
            reason = "--version prints to stdout like upstream"
        )]
        {
            println!("{}", version::long_version());
        }
        return ExitCode::SUCCESS;
    }
    let level = if cli.debug {
        tracing::Level::DEBUG
    } else {
        match cli
            .log_level
            .as_deref()
            .map(logging::parse_level)
            .transpose()
        {
            Ok(level) => level.unwrap_or(tracing::Level::INFO),
            Err(error) => {
                eprintln!("FATAL: Error while setting up logging configuration: {error}");
                return ExitCode::FAILURE;
            }
        }
    };
    let format = match cli.log_format.as_deref().map(str::parse).transpose() {
        Ok(format) => format.unwrap_or_default(),
        Err(error) => {
            eprintln!("FATAL: Error while setting up logging configuration: {error}");
            return ExitCode::FAILURE;
        }
    };
    logging::install(level, format);
    tracing::info!(
        arch = version::arch(),
        os = version::os(),
        pid = std::process::id(),
        revision = version::REVISION,
        version = version::VERSION,
        "Runtime platform"
    );
    match cli.command {
        None => {
            use clap::CommandFactory;
            let _ = cli::Cli::command().print_help();
            ExitCode::SUCCESS
        }
        Some(command) => dispatch(command),
    }
}

/// Runs one command.
fn dispatch(command: cli::Command) -> ExitCode {
    match command {
        cli::Command::List(args) => commands::list::run(&args),
        cli::Command::Lint(args) => commands::lint::run(&args),
        cli::Command::Run(args) => service::run(args),
        cli::Command::Register(args) => commands::register::run(*args),
        cli::Command::Unregister(args) => commands::unregister::run(&args),
        cli::Command::Verify(args) => commands::verify::run(&args),
        cli::Command::ResetToken(args) => commands::reset_token::run(&args),
        cli::Command::RunSingle(args) => commands::run_single::run(*args),
        cli::Command::ArtifactsUploader(args) => {
            run_helper(helper_commands::run_artifacts_uploader(args))
        }
        cli::Command::ArtifactsDownloader(args) => {
            run_helper(helper_commands::run_artifacts_downloader(args))
        }
        cli::Command::CacheArchiver(args) => run_helper(helper_commands::run_cache_archiver(args)),
        cli::Command::CacheExtractor(args) => {
            run_helper(helper_commands::run_cache_extractor(args))
        }
        cli::Command::Exec(args) => commands::exec::run(args),
        cli::Command::HealthCheck(args) => health_check::run(&args),
        cli::Command::Install(args) => commands::service_control::install(&args),
        cli::Command::Uninstall(args) => commands::service_control::uninstall(&args),
        cli::Command::Start(args) => {
            commands::service_control::control(&args, commands::service_control::Action::Start)
        }
        cli::Command::Stop(args) => {
            commands::service_control::control(&args, commands::service_control::Action::Stop)
        }
        cli::Command::Restart(args) => {
            commands::service_control::control(&args, commands::service_control::Action::Restart)
        }
        cli::Command::Status(args) => commands::service_control::status(&args),
    }
}

/// Runs a helper command (artifacts, cache) on a small runtime; a failure is upstream's
/// `FATAL: <cause>` and exit status 1, which fails the job stage that called it.
fn run_helper(command: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!("FATAL: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Upstream's helper prints its fatal line bare; the job log shows it as is.
            eprintln!("FATAL: {error:#}");
            ExitCode::FAILURE
        }
    }
}
