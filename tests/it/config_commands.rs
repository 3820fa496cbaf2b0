//! Commands that read the config file: `list`, `lint`, `--version`.

use runner_e2e::run_to_end;

const COMMENTED_CONFIG: &str = r#"# Our runners; keep this comment.
concurrent = 3
check_interval = 0
listen_address = "127.0.0.1:9252"

[session_server]
  session_timeout = 1800

[[runners]]
  name = "shell-runner"
  url = "https://gitlab.example.com/"
  token = "glrt-t1_ShellRunnerTokenValue"
  executor = "shell"
  [runners.cache]
    Type = "s3"
    Shared = true
    [runners.cache.s3]
      ServerAddress = "s3.amazonaws.com"
      BucketName = "runner-cache"

[[runners]]
  name = "docker-runner"
  url = "https://gitlab.example.com/"
  token = "glrt-t1_DockerRunnerTokenValue"
  executor = "docker"
  [runners.docker]
    image = "alpine:3.20"
    privileged = false
    volumes = ["/cache"]
    dns = ["192.168.0.53"]

[[runners]]
  name = "k8s-runner"
  url = "https://gitlab.example.com/"
  token = "glrt-t1_KubernetesRunnerToken"
  executor = "kubernetes"
  [runners.kubernetes]
    namespace = "ci"
    poll_timeout = 360
    [runners.kubernetes.node_selector]
      "kubernetes.io/os" = "linux"
"#;

#[tokio::test]
async fn list_shows_every_runner_with_a_shortened_token() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, COMMENTED_CONFIG).expect("config");
    let (status, output) = run_to_end(dir.path(), &["list", "-c", &path.to_string_lossy()]).await;
    assert!(status.success(), "{output}");
    for name in ["shell-runner", "docker-runner", "k8s-runner"] {
        assert!(output.contains(name), "{output}");
    }
    assert!(output.contains("Executor\x1b[0;m=kubernetes"), "{output}");
    assert!(
        output.contains("URL\x1b[0;m=https://gitlab.example.com/"),
        "{output}"
    );
    for token in [
        "ShellRunnerTokenValue",
        "DockerRunnerTokenValue",
        "KubernetesRunnerToken",
    ] {
        assert!(
            !output.contains(token),
            "a whole token was printed: {output}"
        );
    }
}

#[tokio::test]
async fn a_broken_config_names_file_line_column_and_key_and_exits_1() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "concurrent = 2\n\n[[runners]]\n  name = \"x\"\n  url = \"https://gitlab.example.com\"\n  executor = \"shel\"\n  limit = \"many\"\n").expect("config");
    let (status, output) = run_to_end(dir.path(), &["list", "-c", &path.to_string_lossy()]).await;
    assert_eq!(status.code(), Some(1), "{output}");
    let file = path.display().to_string();
    assert!(
        output.contains(&format!("{file}:6:14: runners[0].executor")),
        "{output}"
    );
    assert!(
        output.contains(&format!("{file}:7:11: runners[0].limit")),
        "{output}"
    );
}

#[tokio::test]
async fn lint_accepts_a_valid_file_and_rejects_unknown_keys() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, COMMENTED_CONFIG).expect("config");
    let (status, output) = run_to_end(dir.path(), &["lint", "-c", &path.to_string_lossy()]).await;
    assert!(status.success(), "{output}");
    assert!(output.contains("Configuration file is valid."), "{output}");
    let with_typo =
        COMMENTED_CONFIG.replace("concurrent = 3\n", "concurrent = 3\ncolour = \"blue\"\n");
    std::fs::write(&path, with_typo).expect("config");
    let (status, output) = run_to_end(dir.path(), &["lint", "-c", &path.to_string_lossy()]).await;
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(output.contains("1 unknown key(s) found in"), "{output}");
    assert!(
        output.contains(&format!("{}:3:1: colour", path.display())),
        "{output}"
    );
}

#[tokio::test]
async fn version_prints_the_upstream_block() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (status, output) = run_to_end(dir.path(), &["--version"]).await;
    assert!(status.success());
    assert!(output.starts_with("Version:      "), "{output}");
    assert!(output.contains("OS/Arch:      linux/"), "{output}");
    // Six lines, as upstream's block.
    let labels: Vec<&str> = output
        .lines()
        .filter_map(|line| line.split_once(':').map(|(label, _)| label))
        .collect();
    assert_eq!(
        labels,
        [
            "Version",
            "Git revision",
            "Git branch",
            "Rust version",
            "Built",
            "OS/Arch"
        ],
        "{output}"
    );
    let revision = output
        .lines()
        .find_map(|line| line.strip_prefix("Git revision: "))
        .unwrap_or_default();
    assert!(
        revision == "HEAD" || revision.len() == 8,
        "a short revision: {output}"
    );
}

#[tokio::test]
async fn unknown_commands_and_flags_exit_1_in_upstreams_words() {
    let dir = tempfile::tempdir().unwrap();
    let (status, output) = run_to_end(dir.path(), &["frobnicate"]).await;
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains("FATAL: Command frobnicate not found."),
        "{output}"
    );
    let (status, output) = run_to_end(dir.path(), &["list", "--bogus"]).await;
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains("Incorrect Usage: flag provided but not defined: -bogus"),
        "{output}"
    );
}

#[tokio::test]
async fn health_check_waits_for_the_ports_it_is_given() {
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let port = listener.local_addr().expect("address").port().to_string();
    let (status, output) = run_to_end(dir.path(), &["health-check", "--port", &port]).await;
    assert!(status.success(), "{output}");
    assert!(
        output.contains(&format!(
            "waiting for TCP connection to localhost on [{port}]..."
        )),
        "{output}"
    );
    let (status, output) = run_to_end(dir.path(), &["health-check"]).await;
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(output.contains("FATAL: No HOST or PORT found"), "{output}");
}
