//! Warnings: unknown keys with path and line, and upstream's load-time warnings.

use runner_config::{WarningKind, load_str};

#[test]
fn unknown_key_is_a_warning_with_path_and_line() {
    let text = "concurrent = 2\n\n[[runners]]\n  name = \"a\"\n  url = \"https://gitlab.example.com\"\n  token = \"t\"\n  executor = \"docker\"\n  [runners.docker]\n    image = \"alpine\"\n    privilegd = true\n";
    let loaded = load_str(text, "/etc/gitlab-runner/config.toml").unwrap();
    assert_eq!(loaded.warnings.len(), 1, "{:#?}", loaded.warnings);
    let warning = &loaded.warnings[0];
    assert!(warning.is_unknown_key());
    assert_eq!(warning.key(), "runners[0].docker.privilegd");
    assert_eq!(warning.location().line(), 10);
    assert_eq!(warning.location().column(), 5);
    assert_eq!(
        warning.to_string(),
        "/etc/gitlab-runner/config.toml:10:5: runners[0].docker.privilegd: unknown key, ignored"
    );
    assert!(!loaded.config.runners[0].docker.as_ref().unwrap().privileged);
}

#[test]
fn unknown_tables_and_nested_keys_are_reported_once() {
    // Seed 002 puts proxy variables in `[runners.docker.helper_image_opts]`, which does not
    // exist; the whole table is reported, not each key inside it.
    let text = "[[runners]]\nurl = \"https://gitlab.example.com\"\nexecutor = \"docker\"\n[runners.docker.helper_image_opts]\nHTTP_PROXY = \"x\"\nHTTPS_PROXY = \"y\"\n";
    let loaded = load_str(text, "c.toml").unwrap();
    let unknown: Vec<_> = loaded
        .warnings
        .iter()
        .filter(|warning| warning.is_unknown_key())
        .collect();
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].key(), "runners[0].docker.helper_image_opts");
    assert_eq!(unknown[0].location().line(), 4);
}

#[test]
fn suspicious_values_warn_like_upstream() {
    let text = "concurrent = 1\n[[runners]]\nname = \"a\"\nurl = \"https://gitlab.example.com/ci\"\ntoken = \"  \"\nexecutor = \"shell\"\n[[runners]]\nname = \"b\"\nurl = \"https://gitlab.example.com\"\ntoken = \"t\"\n";
    let loaded = load_str(text, "c.toml").unwrap();
    let found: Vec<(usize, &str, WarningKind)> = loaded
        .warnings
        .iter()
        .map(|warning| (warning.location().line(), warning.key(), warning.kind()))
        .collect();
    assert_eq!(
        found,
        [
            (1, "concurrent", WarningKind::Suspicious),
            (4, "runners[0].url", WarningKind::Suspicious),
            (5, "runners[0].token", WarningKind::Suspicious),
            (7, "runners[1].executor", WarningKind::Suspicious),
        ]
    );
    assert!(
        loaded.warnings[2]
            .message()
            .starts_with("Runner token is empty or whitespace")
    );
}

#[test]
fn huge_integer_seconds_are_read_as_a_century_so_deadlines_cannot_overflow() {
    use std::time::{Duration, Instant};

    let text = "check_interval = 9223372036854775807\nshutdown_timeout = 9223372036854775807\n[session_server]\nsession_timeout = 9223372036854775807\n[[runners]]\nurl = \"https://gitlab.example.com\"\ntoken = \"t\"\nexecutor = \"docker\"\n[runners.docker]\nwait_for_services_timeout = 9223372036854775807\n[runners.kubernetes]\npoll_interval = 9223372036854775807\npoll_timeout = 9223372036854775807\nretry_backoff_max = 9223372036854775807\n";
    let config = load_str(text, "c.toml").unwrap().config;
    let century = Duration::from_secs(100 * 365 * 24 * 60 * 60);
    let runner = &config.runners[0];
    let kubernetes = runner.kubernetes.as_ref().unwrap();
    let durations = [
        config.effective_check_interval(),
        config.effective_shutdown_timeout(),
        config.session_server.effective_session_timeout(),
        runner
            .docker
            .as_ref()
            .unwrap()
            .effective_wait_for_services_timeout()
            .unwrap(),
        kubernetes.effective_poll_interval(),
        kubernetes.effective_poll_timeout(),
        kubernetes.effective_retry_backoff_max(),
    ];
    for duration in durations {
        assert_eq!(duration, century);
        // Panics ("overflow when adding duration to instant") for the unclamped value.
        let _ = Instant::now() + duration;
    }
}

#[test]
fn entries_built_in_code_are_clamped_too() {
    // `run-single` builds its entry from flags, without the loader's bounds.
    let runner = runner_config::RunnerConfig {
        limit: i64::MAX,
        request_concurrency: 4_294_967_295,
        ..Default::default()
    };
    assert_eq!(runner.effective_limit(), Some(100_000));
    assert_eq!(runner.effective_request_concurrency(), 1000);
    let config = runner_config::Config {
        concurrent: i64::MAX,
        ..Default::default()
    };
    assert_eq!(config.effective_concurrent(), 100_000);
    let config = runner_config::Config {
        concurrent: -3,
        ..Default::default()
    };
    assert_eq!(config.effective_concurrent(), 1);
}
