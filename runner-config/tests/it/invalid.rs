//! Rejected files: each problem with its line, column, key and message, all at once.

use runner_config::{LoadError, ProblemKind, load, load_str};

/// `(line, column, key, kind)` of every problem.
fn problems(text: &str) -> Vec<(usize, usize, String, ProblemKind)> {
    let error = load_str(text, "config.toml").expect_err("the configuration should be rejected");
    error
        .problems()
        .iter()
        .map(|problem| {
            (
                problem.location().line(),
                problem.location().column(),
                problem.key().to_owned(),
                problem.kind(),
            )
        })
        .collect()
}

fn check(text: &str, expected: &[(usize, usize, &str, ProblemKind)]) {
    let expected: Vec<_> = expected
        .iter()
        .map(|(line, column, key, kind)| (*line, *column, key.to_string(), *kind))
        .collect();
    let error = load_str(text, "config.toml").expect_err("the configuration should be rejected");
    assert_eq!(problems(text), expected, "{error:#}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = r#"concurrent = 0
log_level = "verbose"

[[runners]]
  name = "a"
  url = "not a url"
  token = "glrt-x"
  executor = "dokcer"
  limit = "two"
  unhealthy_interval = "1h30min"
  [runners.docker]
    volumes = ["/cache", 5]
    pull_policy = ["always", 3]

[[runners]]
  name = "b"
  url = "https://gitlab.example.com"
  executor = "kubernetes"
  [[runners.kubernetes.volumes.nfs]]
    name = "x"
"#;
    use ProblemKind::{Decode, Invalid};
    check(
        text,
        &[
            (1, 14, "concurrent", Invalid),
            (2, 13, "log_level", Decode),
            (6, 9, "runners[0].url", Invalid),
            (8, 14, "runners[0].executor", Decode),
            (9, 11, "runners[0].limit", Decode),
            (10, 24, "runners[0].unhealthy_interval", Decode),
            (12, 26, "runners[0].docker.volumes[1]", Decode),
            (13, 30, "runners[0].docker.pull_policy[1]", Decode),
            (19, 32, "runners[1].kubernetes.volumes.nfs[0]", Invalid),
        ],
    );
}

#[test]
fn messages_name_file_line_column_and_key() {
    let text = "concurrent = 2\n[[runners]]\nurl = \"https://gitlab.example.com\"\ntoken = \"t\"\nexecutor = \"docker\"\nunhealthy_interval = \"1h30min\"\n[runners.docker]\nmemory = 4\n";
    let error = load_str(text, "/etc/gitlab-runner/config.toml").unwrap_err();
    let lines: Vec<String> = error.problems().iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "/etc/gitlab-runner/config.toml:6:22: runners[0].unhealthy_interval: invalid duration \"1h30min\": unknown unit (valid units are ns, us, µs, ms, s, m, h)",
            "/etc/gitlab-runner/config.toml:8:10: runners[0].docker.memory: invalid type: integer `4`, expected a string",
        ]
    );
    assert_eq!(
        error.to_string(),
        format!(
            "invalid configuration file /etc/gitlab-runner/config.toml (2 problems)\n  {}\n  {}",
            lines[0], lines[1]
        )
    );
}

#[test]
fn concurrent_below_one_is_rejected_but_absent_means_one() {
    check(
        "concurrent = -3\n",
        &[(1, 14, "concurrent", ProblemKind::Invalid)],
    );
    assert_eq!(
        load_str("check_interval = 3\n", "c.toml")
            .unwrap()
            .config
            .concurrent,
        1
    );
}

#[test]
fn bad_urls_are_rejected() {
    let text = "[[runners]]\nurl = \"ftp://gitlab.example.com\"\nclone_url = \"https://\"\ntoken = \"t\"\nexecutor = \"shell\"\n[[runners]]\nurl = \"${GITLAB_URL}\"\ntoken = \"t\"\nexecutor = \"shell\"\n";
    check(
        text,
        &[
            (2, 7, "runners[0].url", ProblemKind::Invalid),
            (3, 13, "runners[0].clone_url", ProblemKind::Invalid),
        ],
    );
    let error = load_str(text, "c.toml").unwrap_err();
    assert_eq!(
        error.problems()[0].message(),
        "invalid URL \"ftp://gitlab.example.com\": the scheme must be http or https, found \"ftp\""
    );
}

#[test]
fn unknown_executor_lists_the_known_ones() {
    let error = load_str(
        "[[runners]]\nurl = \"https://gitlab.example.com\"\nexecutor = \"docker-ssh\"\n",
        "c.toml",
    )
    .unwrap_err();
    let problem = &error.problems()[0];
    assert_eq!(problem.key(), "runners[0].executor");
    assert!(
        problem
            .message()
            .starts_with("unknown executor \"docker-ssh\", expected one of: shell, docker,")
    );
}

#[test]
fn syntax_error_in_seed_example_is_located() {
    // Seed 001 writes the section header with a Go struct tag suffix, which is not TOML.
    let text = "[[runners]]\n  [runners.kubernetes.build_container_security_context]\n    read_only_root_filesystem = true\n  [runners.kubernetes.helper_container_security_context,omitempty]\n    read_only_root_filesystem = true\n";
    let error = load_str(text, "config.toml").unwrap_err();
    let problem = &error.problems()[0];
    assert!(problem.is_syntax());
    assert_eq!(
        (problem.location().line(), problem.location().column()),
        (4, 56)
    );
    assert!(
        problem.to_string().starts_with(
            "config.toml:4:56: runners.kubernetes.helper_container_security_context: "
        ),
        "{problem}"
    );
}

#[test]
fn syntax_error_names_the_key_being_read() {
    check(
        "a_key = 1\ntoken = \"unterminated\nb = 2\n",
        &[(2, 22, "token", ProblemKind::Syntax)],
    );
}

#[test]
fn seed_lost_connection_example_is_rejected_where_upstream_rejects_it() {
    // Seed 002's examples put `services` in a single table, `[runners.shell.env]` under a
    // string key and `cpus` as an integer: upstream's decoder rejects all three.
    let text = r#"[[runners]]
  name = "Docker Runner"
  url = "https://gitlab.example.com/"
  token = "YOUR_RUNNER_TOKEN"
  executor = "docker"
  [runners.docker]
    tls_verify = false
    image = "docker:latest"
    privileged = true
    cpus = 2
    [runners.docker.services]
      image = "docker:dind"
    [runners.docker.cache]
      Type = "s3"

[[runners]]
  name = "Shell Runner"
  url = "https://gitlab.example.com/"
  token = "YOUR_RUNNER_TOKEN"
  executor = "shell"
  [runners.shell.env]
    HTTP_PROXY = "http://proxy.example.com:8080"
"#;
    let error = load_str(text, "config.toml").unwrap_err();
    let found: Vec<(usize, &str)> = error
        .problems()
        .iter()
        .map(|problem| (problem.location().line(), problem.key()))
        .collect();
    assert_eq!(
        found,
        [
            (10, "runners[0].docker.cpus"),
            (11, "runners[0].docker.services"),
            (21, "runners[1].shell")
        ]
    );
    let unknown: Vec<&str> = error
        .warnings()
        .iter()
        .filter(|w| w.is_unknown_key())
        .map(|w| w.key())
        .collect();
    assert_eq!(unknown, ["runners[0].docker.cache"]);
}

#[test]
fn invalid_labels_follow_upstream_messages() {
    let text = "[labels]\n\"a b\" = \"x\"\n[[runners]]\nurl = \"https://gitlab.example.com\"\nexecutor = \"shell\"\n[runners.labels]\nteam = \"two words\"\n";
    let error = load_str(text, "c.toml").unwrap_err();
    let messages: Vec<String> = error.problems().iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            "c.toml:2:1: labels.\"a b\": invalid label key, doesn't match \"^[a-zA-Z0-9_][a-zA-Z0-9._-]{2,64}$\": a b",
            "c.toml:7:8: runners[0].labels.team: invalid label value, doesn't match \"^[a-zA-Z0-9._-]{1,256}$\": two words",
        ]
    );
}

#[test]
fn machine_options_with_name_need_a_placeholder() {
    let text = "[[runners]]\nurl = \"https://gitlab.example.com\"\nexecutor = \"docker+machine\"\n[runners.machine]\nMachineOptionsWithName = [\"ok-%s\", \"tag=fixed\"]\n";
    check(
        text,
        &[(
            5,
            36,
            "runners[0].machine.MachineOptionsWithName[1]",
            ProblemKind::Invalid,
        )],
    );
}

#[test]
fn not_utf8_is_a_syntax_problem() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("config.toml");
    std::fs::write(&path, b"concurrent = 1\nname = \"\xff\"\n").unwrap();
    let error = load(&path).unwrap_err();
    let problem = &error.problems()[0];
    assert!(problem.is_syntax());
    assert_eq!(
        (problem.location().line(), problem.location().column()),
        (2, 9)
    );
}

#[test]
fn missing_file_is_a_read_error() {
    let error = load("/nonexistent/gitlab-runner/config.toml").unwrap_err();
    assert!(error.is_not_found());
    assert!(matches!(error, LoadError::Read { .. }));
    assert!(error.problems().is_empty());
}

#[test]
fn counts_that_size_the_worker_pool_and_request_loops_are_bounded() {
    // Above tokio's semaphore maximum `concurrent` and `limit` used to panic the runner, and
    // `request_concurrency = 4294967295` spawned as many request loops.
    let text = r#"concurrent = 100001

[[runners]]
  name = "huge"
  url = "https://gitlab.example.com"
  executor = "shell"
  limit = 4294967296
  request_concurrency = 4294967295

[[runners]]
  name = "negative"
  url = "https://gitlab.example.com"
  executor = "shell"
  limit = -1
  request_concurrency = -2
"#;
    let error = load_str(text, "config.toml").unwrap_err();
    let lines: Vec<String> = error.problems().iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "config.toml:1:14: concurrent: must be at most 100000, found 100001 (each unit is a job slot)",
            "config.toml:7:11: runners[0].limit: must be at most 100000, found 4294967296 (each unit is a job slot)",
            "config.toml:8:25: runners[0].request_concurrency: must be at most 1000, found 4294967295 (each unit is a job request held open against GitLab)",
            "config.toml:14:11: runners[1].limit: must not be negative, found -1 (0 means unlimited)",
            "config.toml:15:25: runners[1].request_concurrency: must not be negative, found -2 (0 means 1)",
        ]
    );
}

#[test]
fn counts_at_their_maximum_load() {
    let text = "concurrent = 100000\n[[runners]]\nurl = \"https://gitlab.example.com\"\ntoken = \"t\"\nexecutor = \"shell\"\nlimit = 100000\nrequest_concurrency = 1000\n[[runners]]\nurl = \"https://gitlab.example.com\"\ntoken = \"u\"\nexecutor = \"shell\"\nlimit = 0\nrequest_concurrency = 0\n";
    let config = load_str(text, "c.toml").unwrap().config;
    assert_eq!(config.effective_concurrent(), 100_000);
    assert_eq!(config.runners[0].effective_limit(), Some(100_000));
    assert_eq!(config.runners[0].effective_request_concurrency(), 1000);
    assert_eq!(config.runners[1].effective_limit(), None);
    assert_eq!(config.runners[1].effective_request_concurrency(), 1);
}

#[test]
fn a_runner_without_url_is_rejected_with_its_name_and_line() {
    let text = r#"concurrent = 2

[[runners]]
  name = "no-url"
  token = "glrt-a"
  executor = "shell"

[[runners]]
  url = ""
  token = "glrt-b"
  executor = "shell"

[[runners]]
  name = "blank"
  url = "   "
  token = "glrt-c"
  executor = "shell"
"#;
    let error = load_str(text, "/etc/gitlab-runner/config.toml").unwrap_err();
    let lines: Vec<String> = error.problems().iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            // Missing: the entry's `[[runners]]` header.
            "/etc/gitlab-runner/config.toml:3:1: runners[0].url: url is missing or empty in runner \"no-url\": this runner cannot reach GitLab",
            // Empty: the value.
            "/etc/gitlab-runner/config.toml:9:9: runners[1].url: url is missing or empty: this runner cannot reach GitLab",
            "/etc/gitlab-runner/config.toml:15:9: runners[2].url: url is missing or empty in runner \"blank\": this runner cannot reach GitLab",
        ]
    );
}

#[test]
fn a_template_may_leave_the_url_to_the_command_line() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("template.toml");
    std::fs::write(
        &path,
        "[[runners]]\n  limit = 4\n  [runners.docker]\n    image = \"alpine\"\n",
    )
    .unwrap();
    let loaded = runner_config::load_template(&path).unwrap();
    assert_eq!(loaded.config.runners[0].limit, 4);
    let url_warning = loaded
        .warnings
        .iter()
        .find(|warning| warning.key() == "runners[0].url")
        .expect("a warning about the url");
    assert_eq!(url_warning.location().line(), 1);
    // Everything else is checked as in a configuration file.
    std::fs::write(&path, "[[runners]]\n  limit = -4\n").unwrap();
    let error = runner_config::load_template(&path).unwrap_err();
    let keys: Vec<&str> = error.problems().iter().map(|p| p.key()).collect();
    assert_eq!(keys, ["runners[0].limit"]);
}

#[test]
fn duplicate_keys_name_their_dotted_path() {
    let text = r#"concurrent = 1
concurrent = 2

[[runners]]
  name = "a"
  url = "https://gitlab.example.com"
  executor = "docker"
  [runners.docker]
    image = "alpine"

[[runners]]
  name = "b"
  url = "https://gitlab.example.com"
  executor = "docker"
  [runners.docker]
    image = "alpine"
    privileged = true
    image = "ubuntu"
  [runners.labels]
    team = "ci"
    "team" = "cd"
"#;
    let error = load_str(text, "config.toml").unwrap_err();
    let lines: Vec<String> = error.problems().iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "config.toml:2:1: concurrent: duplicate key, first defined on line 1",
            "config.toml:18:5: runners[1].docker.image: duplicate key, first defined on line 16",
            "config.toml:21:5: runners[1].labels.team: duplicate key, first defined on line 20",
        ]
    );
    assert!(error.problems().iter().all(|problem| problem.is_syntax()));
}

#[test]
fn duplicate_tables_and_inline_keys_name_their_dotted_path() {
    let text = "[[runners]]\n[runners.docker]\nimage = \"a\"\n[runners.docker]\n[[runners]]\n[runners.kubernetes]\nnode_selector = { os = \"linux\", os = \"windows\" }\n";
    let error = load_str(text, "c.toml").unwrap_err();
    let found: Vec<(usize, &str)> = error
        .problems()
        .iter()
        .map(|problem| (problem.location().line(), problem.key()))
        .collect();
    assert_eq!(
        found,
        [
            (4, "runners[0].docker"),
            (7, "runners[1].kubernetes.node_selector.os"),
        ]
    );
}
