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
    let text = "[[runners]]\nexecutor = \"docker\"\n[runners.docker.helper_image_opts]\nHTTP_PROXY = \"x\"\nHTTPS_PROXY = \"y\"\n";
    let loaded = load_str(text, "c.toml").unwrap();
    let unknown: Vec<_> = loaded
        .warnings
        .iter()
        .filter(|warning| warning.is_unknown_key())
        .collect();
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].key(), "runners[0].docker.helper_image_opts");
    assert_eq!(unknown[0].location().line(), 3);
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
