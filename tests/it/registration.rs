//! `register`, `verify`, `unregister` and `reset-token` through the real binary against the
//! fake coordinator: what they send, what they log, and what they leave in `config.toml`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use runner_api::fake::{Endpoint, FakeConfig, FakeCoordinator};
use runner_e2e::{Workspace, runner_binary};
use tokio::io::AsyncWriteExt;

/// A user's file with comments, odd spacing and an entry the commands must not touch.
const USER_CONFIG: &str = r#"# Our runners; keep this comment.
concurrent = 4   # four at once
check_interval = 0

[session_server]
  session_timeout = 1800

# The build host, registered by hand.
[[runners]]
  name = "existing"
  url = "https://gitlab.example.com/"
  token = "glrt-t1_ExistingRunnerToken"
  executor = "shell"   # keep me
"#;

/// Environment variables that would feed flags and must not leak in from the test host.
const FLAG_ENV: &[&str] = &[
    "CI_SERVER_URL",
    "CI_SERVER_TOKEN",
    "REGISTRATION_TOKEN",
    "RUNNER_NAME",
    "RUNNER_EXECUTOR",
    "CONFIG_FILE",
    "REGISTER_NON_INTERACTIVE",
    "TEMPLATE_CONFIG_FILE",
    "DOCKER_IMAGE",
    "RUNNER_TAG_LIST",
];

/// Runs the binary in `dir` with `stdin` as its input; returns success and combined output.
async fn run(dir: &Path, args: &[&str], stdin: &str) -> (bool, String) {
    let mut command = tokio::process::Command::new(runner_binary());
    command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for name in FLAG_ENV {
        command.env_remove(name);
    }
    let mut child = command.spawn().expect("gitlab-runner-rs starts");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.as_bytes())
        .await
        .expect("write stdin");
    drop(input);
    let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the command finishes")
        .expect("the command runs");
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("config readable")
}

#[tokio::test]
async fn register_with_a_glrt_token_appends_an_entry_and_unregister_restores_the_file() {
    let workspace = Workspace::start(Duration::ZERO).await;
    let path = workspace.path().join("config.toml");
    std::fs::write(&path, USER_CONFIG).expect("config");
    let config = path.to_string_lossy().into_owned();
    let url = workspace.coordinator.url();
    let token = workspace.coordinator.runner_token();

    let (ok, output) = run(
        workspace.path(),
        &[
            "register",
            "-n",
            "-c",
            &config,
            "--url",
            &url,
            "--token",
            &token,
            "--name",
            "new-runner",
            "--executor",
            "shell",
        ],
        "",
    )
    .await;
    assert!(ok, "{output}");
    assert!(output.contains("Runner registered successfully. Feel free to start it, but if it's running already the config should be automatically reloaded!"), "{output}");
    assert!(
        output.contains(&format!(
            "Configuration (with the authentication token) was saved in \"{config}\""
        )),
        "{output}"
    );
    assert!(
        !output.contains(&token),
        "a whole token was printed: {output}"
    );
    assert_eq!(workspace.coordinator.request_count(Endpoint::Verify), 1);
    assert_eq!(workspace.coordinator.request_count(Endpoint::Register), 0);

    let registered = read(&path);
    let added = registered
        .strip_prefix(USER_CONFIG)
        .unwrap_or_else(|| panic!("the user's text changed:\n{registered}"));
    assert!(
        added.contains("[[runners]]\n  name = \"new-runner\"\n"),
        "{added}"
    );
    assert!(
        added.contains(&format!(
            "  url = \"{url}\"\n  id = 12345\n  token = \"{token}\"\n"
        )),
        "{added}"
    );
    assert!(added.contains("  token_obtained_at = 20"), "{added}");
    assert!(
        added.contains("  token_expires_at = 0001-01-01T00:00:00Z\n"),
        "{added}"
    );
    assert!(added.contains("  executor = \"shell\"\n"), "{added}");
    let mode = std::fs::metadata(&path)
        .expect("metadata")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let (ok, output) = run(workspace.path(), &["list", "-c", &config], "").await;
    assert!(ok, "{output}");
    assert!(output.contains("new-runner"), "{output}");
    assert!(output.contains("existing"), "{output}");

    let (ok, output) = run(
        workspace.path(),
        &["unregister", "-c", &config, "--name", "new-runner"],
        "",
    )
    .await;
    assert!(ok, "{output}");
    assert!(output.contains(&format!("Updated {config}")), "{output}");
    assert!(
        output.contains("Unregistering runner manager from GitLab succeeded"),
        "{output}"
    );
    let managers = workspace
        .coordinator
        .requests_to(Endpoint::UnregisterManager);
    assert_eq!(managers.len(), 1);
    assert_eq!(
        workspace
            .coordinator
            .request_count(Endpoint::UnregisterRunner),
        0
    );
    let body: serde_json::Value = serde_json::from_slice(&managers[0].body).expect("json body");
    let system_id = std::fs::read_to_string(workspace.path().join(".runner_system_id"))
        .expect("system id saved beside the config");
    assert_eq!(body["system_id"], system_id.trim());
    assert_eq!(read(&path), USER_CONFIG);
}

#[tokio::test]
async fn legacy_registration_token_registers_through_post_runners() {
    let workspace = Workspace::start(Duration::ZERO).await;
    let path = workspace.path().join("etc").join("config.toml");
    let config = path.to_string_lossy().into_owned();
    let url = workspace.coordinator.url();
    let registration = workspace.coordinator.registration_token();

    let (ok, output) = run(
        workspace.path(),
        &[
            "register",
            "--non-interactive",
            "-c",
            &config,
            "--url",
            &url,
            "--registration-token",
            &registration,
            "--name",
            "legacy",
            "--tag-list",
            "linux,big",
            "--maximum-timeout",
            "3600",
            "--paused",
            "--maintenance-note",
            "on call: ops",
            "--executor",
            "docker",
            "--docker-image",
            "alpine:3.20",
        ],
        "",
    )
    .await;
    assert!(ok, "{output}");
    assert!(output.contains("Support for registration tokens and runner parameters in the 'register' command has been deprecated in GitLab Runner 15.6"), "{output}");
    assert!(
        output.contains("Registering runner... succeeded"),
        "{output}"
    );
    assert!(!output.contains(&registration), "{output}");

    let requests = workspace.coordinator.requests_to(Endpoint::Register);
    assert_eq!(requests.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&requests[0].body).expect("json body");
    assert_eq!(body["description"], "legacy");
    assert_eq!(body["tag_list"], "linux,big");
    assert_eq!(body["run_untagged"], false);
    assert_eq!(body["locked"], true);
    assert_eq!(body["paused"], true);
    assert_eq!(body["maximum_timeout"], 3600);
    assert_eq!(body["maintenance_note"], "on call: ops");
    assert!(body.get("access_level").is_none(), "{body}");

    let written = read(&path);
    assert!(written.starts_with("concurrent = 1\n"), "{written}");
    assert!(
        written.contains(&format!(
            "  token = \"{}\"\n",
            workspace.coordinator.runner_token()
        )),
        "{written}"
    );
    assert!(written.contains("  id = 12345\n"), "{written}");
    assert!(written.contains("  executor = \"docker\"\n"), "{written}");
    assert!(written.contains("image = \"alpine:3.20\""), "{written}");
    assert!(written.contains("volumes = [\"/cache\"]"), "{written}");
    let mode = std::fs::metadata(&path)
        .expect("metadata")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn server_side_options_with_a_glrt_token_are_rejected() {
    let workspace = Workspace::start(Duration::ZERO).await;
    let path = workspace.path().join("config.toml");
    let url = workspace.coordinator.url();
    let token = workspace.coordinator.runner_token();
    let (ok, output) = run(
        workspace.path(),
        &[
            "register",
            "-n",
            "-c",
            &path.to_string_lossy(),
            "--url",
            &url,
            "--token",
            &token,
            "--executor",
            "shell",
            "--tag-list",
            "linux",
        ],
        "",
    )
    .await;
    assert!(!ok, "{output}");
    assert!(output.contains("Runner configuration other than name and executor configuration is reserved (specifically --locked, --access-level, --run-untagged, --maximum-timeout, --paused, --tag-list, and --maintenance-note) and cannot be specified when registering with a runner authentication token. This configuration is specified on the GitLab server. Please try again without specifying any of those arguments."), "{output}");
    assert_eq!(workspace.coordinator.request_count(Endpoint::Verify), 0);
    assert!(!path.exists());
}

#[tokio::test]
async fn a_missing_url_in_non_interactive_mode_is_fatal() {
    let workspace = Workspace::start(Duration::ZERO).await;
    let path = workspace.path().join("config.toml");
    let (ok, output) = run(
        workspace.path(),
        &[
            "register",
            "-n",
            "-c",
            &path.to_string_lossy(),
            "--token",
            "glrt-abc",
            "--executor",
            "shell",
        ],
        "",
    )
    .await;
    assert!(!ok, "{output}");
    assert!(output.contains("The url needs to be entered"), "{output}");
    assert!(workspace.coordinator.requests().is_empty());
    assert!(!path.exists());
}

#[tokio::test]
async fn an_invalid_executor_fails_and_removes_the_runner_manager_again() {
    let workspace = Workspace::start(Duration::ZERO).await;
    let path = workspace.path().join("config.toml");
    std::fs::write(&path, USER_CONFIG).expect("config");
    let url = workspace.coordinator.url();
    let token = workspace.coordinator.runner_token();
    let (ok, output) = run(
        workspace.path(),
        &[
            "register",
            "-n",
            "-c",
            &path.to_string_lossy(),
            "--url",
            &url,
            "--token",
            &token,
            "--executor",
            "dokcer",
        ],
        "",
    )
    .await;
    assert!(!ok, "{output}");
    assert!(output.contains("Invalid executor specified"), "{output}");
    assert_eq!(
        workspace
            .coordinator
            .request_count(Endpoint::UnregisterManager),
        1
    );
    assert_eq!(read(&path), USER_CONFIG);

    let (ok, output) = run(
        workspace.path(),
        &[
            "register",
            "-n",
            "-c",
            &path.to_string_lossy(),
            "--url",
            &url,
            "--token",
            &token,
            "--executor",
            "dokcer",
            "--leave-runner",
        ],
        "",
    )
    .await;
    assert!(!ok, "{output}");
    assert_eq!(
        workspace
            .coordinator
            .request_count(Endpoint::UnregisterManager),
        1
    );
}

#[tokio::test]
async fn interactive_register_reads_answers_from_stdin() {
    let workspace = Workspace::start(Duration::ZERO).await;
    let path = workspace.path().join("config.toml");
    let config = path.to_string_lossy().into_owned();
    let url = workspace.coordinator.url();
    let token = workspace.coordinator.runner_token();
    let answers = format!("{url}\n{token}\n  from-stdin  \n\nshell\n");
    let (ok, output) = run(
        workspace.path(),
        &["register", "-c", &config, "--executor", "dokcer"],
        &answers,
    )
    .await;
    assert!(ok, "{output}");
    assert!(
        output.contains("Enter the GitLab instance URL (for example, https://gitlab.com/):\n"),
        "{output}"
    );
    assert!(
        output.contains("Enter the registration token:\n"),
        "{output}"
    );
    assert!(
        output.contains(
            "Enter a name for the runner. This is stored only in the local config.toml file:\n["
        ),
        "{output}"
    );
    // The flag's invalid value is offered as the default; Enter keeps it and is rejected.
    assert!(output.contains("shell, docker,"), "{output}");
    assert!(output.contains("[dokcer]: "), "{output}");
    assert!(output.contains("Invalid executor specified"), "{output}");
    let written = read(&path);
    assert!(written.contains("  name = \"from-stdin\"\n"), "{written}");
    assert!(written.contains("  executor = \"shell\"\n"), "{written}");

    let (ok, output) = run(workspace.path(), &["register", "-c", &config], "").await;
    assert!(!ok, "{output}");
    assert!(
        output.contains("Unexpected EOF. Did you mean to use --non-interactive?"),
        "{output}"
    );
}

#[tokio::test]
async fn verify_fails_on_a_revoked_token_and_delete_removes_it() {
    let workspace = Workspace::start(Duration::ZERO).await;
    let url = workspace.coordinator.url();
    let good = workspace.coordinator.runner_token();
    let text = format!(
        "# verify me\nconcurrent = 1\n\n[[runners]]\n  name = \"alive\"\n  url = \"{url}\"\n  token = \"{good}\"\n  executor = \"shell\"\n\n# revoked in the UI\n[[runners]]\n  name = \"revoked\"\n  url = \"{url}\"\n  token = \"glrt-RevokedTokenValue\"\n  executor = \"shell\"\n"
    );
    let path = workspace.path().join("config.toml");
    std::fs::write(&path, &text).expect("config");
    let config = path.to_string_lossy().into_owned();

    let (ok, output) = run(workspace.path(), &["verify", "-c", &config], "").await;
    assert!(!ok, "{output}");
    assert!(output.contains("Verifying runner... is valid"), "{output}");
    assert!(
        output.contains("Verifying runner... is not valid"),
        "{output}"
    );
    assert!(output.contains("Failed to verify runners"), "{output}");
    assert!(!output.contains("RevokedTokenValue"), "{output}");
    assert_eq!(read(&path), text);

    let (ok, output) = run(
        workspace.path(),
        &["verify", "-c", &config, "--name", "nobody"],
        "",
    )
    .await;
    assert!(!ok, "{output}");
    assert!(
        output.contains("mutate config: no runner matches the filtering parameters"),
        "{output}"
    );

    let (ok, output) = run(workspace.path(), &["verify", "-c", &config, "--delete"], "").await;
    assert!(ok, "{output}");
    assert!(output.contains(&format!("Updated {config}")), "{output}");
    let expected = text
        .split_once("\n# revoked in the UI")
        .map(|(kept, _)| kept.to_owned())
        .expect("split");
    assert_eq!(read(&path), expected);
}

#[tokio::test]
async fn reset_token_stores_the_new_token_and_timestamps() {
    let workspace = Workspace::start(Duration::ZERO).await;
    let url = workspace.coordinator.url();
    let old = workspace.coordinator.runner_token();
    let text = format!(
        "# rotate me\nconcurrent = 1\n\n[[runners]]\n  name = \"rotating\"  # the one\n  url = \"{url}\"\n  id = 12345\n  token = \"{old}\"   # secret\n  token_obtained_at = 2020-01-01T00:00:00Z\n  token_expires_at = 2020-02-01T00:00:00Z\n  executor = \"shell\"\n"
    );
    let path = workspace.path().join("config.toml");
    std::fs::write(&path, &text).expect("config");
    let config = path.to_string_lossy().into_owned();

    let (ok, output) = run(
        workspace.path(),
        &["reset-token", "-c", &config, "--name", "nobody"],
        "",
    )
    .await;
    assert!(!ok, "{output}");
    assert!(
        output.contains("Couldn't get runner credentials"),
        "{output}"
    );
    assert!(
        output.contains("could not find a runner with the name 'nobody'"),
        "{output}"
    );

    let (ok, output) = run(
        workspace.path(),
        &["reset-token", "-c", &config, "--name", "rotating"],
        "",
    )
    .await;
    assert!(ok, "{output}");
    assert!(
        output.contains("Resetting runner authentication token... succeeded"),
        "{output}"
    );
    assert!(output.contains(" Updated\n"), "{output}");
    let new = workspace.coordinator.runner_token();
    assert_ne!(new, old);
    assert!(!output.contains(&new), "{output}");
    let written = read(&path);
    assert!(
        written.starts_with(
            "# rotate me\nconcurrent = 1\n\n[[runners]]\n  name = \"rotating\"  # the one\n"
        ),
        "{written}"
    );
    assert!(
        written.contains(&format!("  token = \"{new}\"   # secret\n")),
        "{written}"
    );
    assert!(
        written.contains("  token_expires_at = 0001-01-01T00:00:00Z\n"),
        "{written}"
    );
    assert!(
        !written.contains("token_obtained_at = 2020-01-01"),
        "{written}"
    );
    assert!(written.contains("  token_obtained_at = 20"), "{written}");

    let (ok, output) = run(
        workspace.path(),
        &["reset-token", "-c", &config, "--url", &url, "--id", "12345"],
        "",
    )
    .await;
    assert!(ok, "{output}");
    assert!(read(&path).contains(&format!(
        "  token = \"{}\"   # secret\n",
        workspace.coordinator.runner_token()
    )));
}

#[tokio::test]
async fn reset_token_with_a_pat_uses_the_runner_id_endpoint() {
    let workspace = Workspace::start(Duration::ZERO).await;
    let url = workspace.coordinator.url();
    let text = format!(
        "[[runners]]\n  name = \"expired\"\n  url = \"{url}\"\n  id = 4711\n  token = \"glrt-ExpiredTokenValue\"\n  executor = \"shell\"\n"
    );
    let path = workspace.path().join("config.toml");
    std::fs::write(&path, &text).expect("config");
    let (ok, output) = run(
        workspace.path(),
        &[
            "reset-token",
            "-c",
            &path.to_string_lossy(),
            "--name",
            "expired",
            "--pat",
            "glpat-PersonalTokenValue",
        ],
        "",
    )
    .await;
    // The fake has no PAT endpoint and answers 404: the reset fails and the file stays.
    assert!(!ok, "{output}");
    assert!(
        output.contains("Resetting runner authentication token... failed"),
        "{output}"
    );
    assert!(
        output.contains("Failed to reset runner authentication token"),
        "{output}"
    );
    assert!(!output.contains("PersonalTokenValue"), "{output}");
    let requests = workspace.coordinator.requests_to(Endpoint::Other);
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].path_and_query,
        "/api/v4/runners/4711/reset_authentication_token"
    );
    assert_eq!(
        requests[0].headers["private-token"],
        "glpat-PersonalTokenValue"
    );
    assert_eq!(&requests[0].body[..], b"null");
    assert_eq!(read(&path), text);
}

#[tokio::test]
async fn unregister_selection_errors_are_upstreams() {
    let workspace = Workspace::start(Duration::ZERO).await;
    let path = workspace.path().join("config.toml");
    std::fs::write(&path, USER_CONFIG).expect("config");
    let config = path.to_string_lossy().into_owned();

    let (ok, output) = run(workspace.path(), &["unregister", "-c", &config], "").await;
    assert!(!ok, "{output}");
    assert!(output.contains("failed to unregister runner"), "{output}");
    assert!(
        output.contains("at least one of --name or --token must be specified"),
        "{output}"
    );

    let (ok, output) = run(
        workspace.path(),
        &[
            "unregister",
            "-c",
            &config,
            "--token",
            "glrt-t1_NoSuchToken",
        ],
        "",
    )
    .await;
    assert!(!ok, "{output}");
    assert!(output.contains("mutate config: unregister runner: get runner by token or name: could not find a runner with the token 'NoSuchTok'"), "{output}");
    assert!(!output.contains("NoSuchToken"), "{output}");

    // The fake rejects this entry's token: the command fails and the file stays as it was.
    let rejected = USER_CONFIG.replace("https://gitlab.example.com/", &workspace.coordinator.url());
    std::fs::write(&path, &rejected).expect("config");
    let (ok, output) = run(
        workspace.path(),
        &["unregister", "-c", &config, "--name", "existing"],
        "",
    )
    .await;
    assert!(!ok, "{output}");
    assert!(
        output.contains("Unregistering runner manager from GitLab forbidden"),
        "{output}"
    );
    assert!(
        output.contains(
            "mutate config: unregister runner: failed to unregister runner \\\"existing\\\""
        ),
        "{output}"
    );
    assert_eq!(read(&path), rejected);
}

#[tokio::test]
async fn an_old_runner_token_given_with_t_is_only_verified() {
    let coordinator = FakeCoordinator::start_with(FakeConfig {
        runner_token: "LegacyRunnerTokenValue".to_owned(),
        ..FakeConfig::default()
    })
    .await
    .expect("fake coordinator starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("config.toml");
    let config = path.to_string_lossy().into_owned();
    let url = coordinator.url();
    let (ok, output) = run(
        dir.path(),
        &[
            "register",
            "-n",
            "-c",
            &config,
            "--url",
            &url,
            "-t",
            "LegacyRunnerTokenValue",
            "--name",
            "old",
            "--executor",
            "shell",
        ],
        "",
    )
    .await;
    assert!(ok, "{output}");
    assert!(
        output.contains("Token specified trying to verify runner..."),
        "{output}"
    );
    assert!(
        output.contains("If you want to register use the '-r' instead of '-t'."),
        "{output}"
    );
    assert!(!output.contains("LegacyRunnerTokenValue"), "{output}");
    assert_eq!(coordinator.request_count(Endpoint::Verify), 1);
    assert_eq!(coordinator.request_count(Endpoint::Register), 0);
    let written = read(&path);
    assert!(written.contains("  name = \"old\"\n"), "{written}");
    assert!(
        written.contains("  token = \"LegacyRunnerTokenValue\"\n"),
        "{written}"
    );

    let (ok, output) = run(
        dir.path(),
        &[
            "register",
            "-n",
            "-c",
            &config,
            "--url",
            &url,
            "-t",
            "RevokedOldToken",
            "--executor",
            "shell",
        ],
        "",
    )
    .await;
    assert!(!ok, "{output}");
    assert!(
        output.contains("Verifying runner... is removed"),
        "{output}"
    );
    assert!(
        output.contains("Failed to verify the runner. You may be having network problems."),
        "{output}"
    );
    assert_eq!(read(&path), written);

    // The old token is a runner token: unregister deletes the runner, not a manager.
    let (ok, output) = run(
        dir.path(),
        &[
            "unregister",
            "-c",
            &config,
            "--token",
            "LegacyRunnerTokenValue",
        ],
        "",
    )
    .await;
    assert!(ok, "{output}");
    assert!(
        output.contains("Unregistering runner from GitLab succeeded"),
        "{output}"
    );
    assert_eq!(coordinator.request_count(Endpoint::UnregisterRunner), 1);
    assert_eq!(coordinator.request_count(Endpoint::UnregisterManager), 0);
    assert_eq!(
        read(&path),
        "concurrent = 1\ncheck_interval = 0\nshutdown_timeout = 0\n\n[session_server]\n  session_timeout = 1800\n"
    );
}

#[tokio::test]
async fn unregister_all_runners_keeps_the_ones_gitlab_refused() {
    let workspace = Workspace::start(Duration::ZERO).await;
    let url = workspace.coordinator.url();
    let good = workspace.coordinator.runner_token();
    let refused = format!(
        "\n# refused by GitLab\n[[runners]]\n  name = \"refused\"\n  url = \"{url}\"\n  token = \"glrt-RefusedTokenValue\"\n  executor = \"shell\"\n"
    );
    let text = format!(
        "# all of them\nconcurrent = 1\n\n[[runners]]\n  name = \"accepted\"\n  url = \"{url}\"\n  token = \"{good}\"\n  executor = \"shell\"\n{refused}"
    );
    let path = workspace.path().join("config.toml");
    std::fs::write(&path, &text).expect("config");
    let config = path.to_string_lossy().into_owned();
    let (ok, output) = run(
        workspace.path(),
        &["unregister", "-c", &config, "--all-runners"],
        "",
    )
    .await;
    assert!(ok, "{output}");
    assert!(output.contains("Unregistering all runners"), "{output}");
    assert!(output.contains("Failed to unregister runners"), "{output}");
    assert!(output.contains(&format!("Updated {config}")), "{output}");
    assert_eq!(
        workspace
            .coordinator
            .request_count(Endpoint::UnregisterManager),
        2
    );
    assert_eq!(
        read(&path),
        format!("# all of them\nconcurrent = 1\n{refused}")
    );
}
