//! `ConfigDocument`: register layout, removal, token updates, byte preservation, file mode.

use runner_config::{
    CacheConfig, ConfigDocument, DockerConfig, EditError, Executor, RunnerConfig, RunnerSelector,
    Secret, Timestamp,
};

use crate::corpus_path;

/// What `register --executor docker` produces after `install` (config-toml.md, section 7).
fn registered_docker_runner() -> RunnerConfig {
    RunnerConfig {
        name: "build-host-01".into(),
        url: "https://gitlab.example.com".into(),
        id: 4711,
        token: Secret::new("glrt-REDACTED"),
        token_obtained_at: Timestamp::from_unix(1_772_360_100, 0),
        token_expires_at: Timestamp::ZERO,
        executor: Some(Executor::Docker),
        cache: Some(CacheConfig {
            s3: Some(Default::default()),
            gcs: Some(Default::default()),
            azure: Some(Default::default()),
            ..CacheConfig::default()
        }),
        docker: Some(DockerConfig {
            image: "alpine:latest".into(),
            volumes: vec!["/cache".into()],
            ..DockerConfig::default()
        }),
        ..RunnerConfig::default()
    }
}

#[test]
fn register_writes_upstream_keys_in_upstream_order() {
    let installed = "concurrent = 1\ncheck_interval = 0\nconnection_max_age = \"15m0s\"\nshutdown_timeout = 0\n\n[session_server]\n  session_timeout = 1800\n";
    let mut document = ConfigDocument::parse(installed, "config.toml").unwrap();
    document.add_runner(&registered_docker_runner()).unwrap();
    let expected = std::fs::read_to_string(corpus_path("spec-register-docker.toml")).unwrap();
    assert_eq!(document.to_string(), expected);
}

#[test]
fn new_document_starts_with_the_install_header() {
    let directory = tempfile::tempdir().unwrap();
    let document = ConfigDocument::open(directory.path().join("config.toml")).unwrap();
    assert!(document.is_new());
    assert_eq!(document.to_string(), ConfigDocument::NEW_FILE);
    let expected = std::fs::read_to_string(corpus_path("spec-install.toml")).unwrap();
    assert_eq!(ConfigDocument::NEW_FILE, expected);
}

#[test]
fn added_runner_loads_back_equal() {
    let mut document = ConfigDocument::new("config.toml");
    let runner = registered_docker_runner();
    document.add_runner(&runner).unwrap();
    let loaded = document.to_config().unwrap();
    assert_eq!(loaded.config.runners, [runner]);
    assert!(loaded.warnings.is_empty(), "{:#?}", loaded.warnings);
}

const COMMENTED: &str = "# Managed by hand, keep the comments!\nconcurrent = 4   # four slots\n\n# first runner\n[[runners]]\n  name = \"one\"\n  url = \"https://gitlab.example.com\"\n  token = \"glrt-one\"  # rotated monthly\n  executor = \"shell\"\n\n# second runner\n[[runners]]\n  name = \"two\"\n  url = \"https://gitlab.example.com\"\n  token = \"glrt-two\"\n  token_obtained_at = 2026-01-01T00:00:00Z\n  executor = \"docker\"\n  [runners.docker]\n    image = \"alpine\" # pinned elsewhere\n\n# trailing notes\n";

#[test]
fn remove_by_name_keeps_everything_else() {
    let mut document = ConfigDocument::parse(COMMENTED, "config.toml").unwrap();
    let removed = document
        .remove_runner(&RunnerSelector::Name("one"))
        .unwrap();
    assert_eq!(removed, ["one"]);
    let start = COMMENTED.find("# first runner").unwrap();
    let end = COMMENTED.find("\n# second runner").unwrap() + 1;
    let expected = format!("{}{}", &COMMENTED[..start], &COMMENTED[end..]);
    assert_eq!(document.to_string(), expected);
}

#[test]
fn remove_by_token_removes_the_entry_and_its_sub_tables() {
    let mut document = ConfigDocument::parse(COMMENTED, "config.toml").unwrap();
    document
        .remove_runner(&RunnerSelector::Token("glrt-two"))
        .unwrap();
    let start = COMMENTED.find("# second runner").unwrap();
    let end = COMMENTED.find("# trailing notes").unwrap();
    let expected = format!("{}{}", &COMMENTED[..start], &COMMENTED[end..]);
    assert_eq!(document.to_string(), expected);
}

#[test]
fn remove_takes_entries_with_the_same_credentials_along() {
    let text = "[[runners]]\nname = \"a\"\nurl = \"https://x.example.com\"\ntoken = \"same\"\n[[runners]]\nname = \"b\"\nurl = \"https://x.example.com\"\ntoken = \"other\"\n[[runners]]\nname = \"c\"\nurl = \"https://x.example.com\"\ntoken = \"same\"\n";
    let mut document = ConfigDocument::parse(text, "c.toml").unwrap();
    assert_eq!(
        document.remove_runner(&RunnerSelector::Name("c")).unwrap(),
        ["a", "c"]
    );
    assert_eq!(
        document.to_string(),
        "[[runners]]\nname = \"b\"\nurl = \"https://x.example.com\"\ntoken = \"other\"\n"
    );
}

#[test]
fn missing_runner_is_reported_with_a_short_token() {
    let mut document = ConfigDocument::parse(COMMENTED, "config.toml").unwrap();
    let error = document
        .remove_runner(&RunnerSelector::Token("glrt-abcdefghijklmnop"))
        .unwrap_err();
    assert!(error.is_runner_not_found());
    assert_eq!(
        error.to_string(),
        "could not find a runner with the token 'abcdefghi'"
    );
    let error = document
        .update_token(
            &RunnerSelector::NameAndToken {
                name: "one",
                token: "glrt-two",
            },
            &Secret::new("x"),
            Timestamp::ZERO,
            Timestamp::ZERO,
        )
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "could not find a runner with the Name 'one' and Token 'two'"
    );
    assert_eq!(document.to_string(), COMMENTED);
}

#[test]
fn token_update_touches_only_the_token_keys() {
    let mut document = ConfigDocument::parse(COMMENTED, "config.toml").unwrap();
    document
        .update_token(
            &RunnerSelector::Name("one"),
            &Secret::new("glrt-rotated"),
            Timestamp::from_unix(1_772_360_100, 0),
            Timestamp::from_unix(1_780_000_000, 0),
        )
        .unwrap();
    let expected = COMMENTED.replace(
        "  token = \"glrt-one\"  # rotated monthly\n  executor = \"shell\"\n",
        "  token = \"glrt-rotated\"  # rotated monthly\n  executor = \"shell\"\n  token_obtained_at = 2026-03-01T10:15:00Z\n  token_expires_at = 2026-05-28T20:26:40Z\n",
    );
    assert_eq!(document.to_string(), expected);

    document
        .update_token(
            &RunnerSelector::Index(1),
            &Secret::new("glrt-two-b"),
            Timestamp::from_unix(1_772_360_100, 0),
            Timestamp::ZERO,
        )
        .unwrap();
    let expected = expected
        .replace(
            "  token = \"glrt-two\"\n  token_obtained_at = 2026-01-01T00:00:00Z\n",
            "  token = \"glrt-two-b\"\n  token_obtained_at = 2026-03-01T10:15:00Z\n",
        )
        .replace(
            "  executor = \"docker\"\n",
            "  executor = \"docker\"\n  token_expires_at = 0001-01-01T00:00:00Z\n",
        );
    assert_eq!(document.to_string(), expected);
    let config = document.to_config().unwrap().config;
    assert_eq!(config.runners[1].token.expose(), "glrt-two-b");
}

#[test]
fn invalid_toml_cannot_be_edited() {
    let error = ConfigDocument::parse("concurrent = \n", "config.toml").unwrap_err();
    assert!(
        matches!(error, EditError::Syntax { line: 1, .. }),
        "{error}"
    );
}

#[test]
fn runners_that_are_not_tables_are_refused() {
    let mut document = ConfigDocument::parse("runners = 3\n", "config.toml").unwrap();
    let error = document.add_runner(&RunnerConfig::default()).unwrap_err();
    assert!(matches!(error, EditError::RunnersNotTables { .. }));
}

#[cfg(unix)]
#[test]
fn written_file_has_mode_0600() {
    use std::os::unix::fs::PermissionsExt;

    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("gitlab-runner/config.toml");
    let mut document = ConfigDocument::open(&path).unwrap();
    document.add_runner(&registered_docker_runner()).unwrap();
    document.save().unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let directory_mode = std::fs::metadata(path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(directory_mode, 0o700);

    // A file that was world-readable becomes private when it is saved.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let document = ConfigDocument::open(&path).unwrap();
    document.save().unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(runner_config::load(&path).unwrap().config.runners.len(), 1);
}

#[test]
fn new_runner_goes_after_the_last_runner_even_when_tables_follow() {
    let text = "concurrent = 2\n\n[[runners]]\n  name = \"one\"\n  executor = \"shell\"\n\n# the session server lives at the end of this file\n[session_server]\n  session_timeout = 1800\n";
    let mut document = ConfigDocument::parse(text, "config.toml").unwrap();
    document
        .add_runner(&RunnerConfig {
            name: "two".into(),
            executor: Some(Executor::Shell),
            ..RunnerConfig::default()
        })
        .unwrap();
    let split = text.find("\n# the session server").unwrap();
    let expected = format!(
        "{}\n[[runners]]\n  name = \"two\"\n  url = \"\"\n  id = 0\n  token = \"\"\n  token_obtained_at = 0001-01-01T00:00:00Z\n  token_expires_at = 0001-01-01T00:00:00Z\n  executor = \"shell\"\n{}",
        &text[..split],
        &text[split..]
    );
    assert_eq!(document.to_string(), expected);
}

#[test]
fn first_runner_of_an_empty_file_has_no_leading_blank_line() {
    let mut document = ConfigDocument::parse("", "config.toml").unwrap();
    document
        .add_runner(&RunnerConfig {
            name: "only".into(),
            ..RunnerConfig::default()
        })
        .unwrap();
    assert!(
        document
            .to_string()
            .starts_with("[[runners]]\n  name = \"only\"\n"),
        "{document}"
    );
}
