//! Checks of a decoded configuration: upstream's hard validation, the seed's stricter rules
//! (bad or missing URL, `concurrent < 1`), bounds on the numbers that size tasks and
//! semaphores, and upstream's load-time warnings.

use std::collections::BTreeMap;

use crate::config::Config;
use crate::runner::RunnerConfig;
use crate::tracked::Segment;

/// Labels per runner (global and own, merged) that upstream accepts.
const MAX_LABELS: usize = 32;
const LABEL_KEY_PATTERN: &str = "^[a-zA-Z0-9_][a-zA-Z0-9._-]{2,64}$";
const LABEL_VALUE_PATTERN: &str = "^[a-zA-Z0-9._-]{1,256}$";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Severity {
    Problem,
    Warning,
}

#[derive(Debug)]
pub(crate) struct Finding {
    pub(crate) path: Vec<Segment>,
    pub(crate) message: String,
    pub(crate) severity: Severity,
    /// Point at the key rather than at the value (for findings about the whole entry).
    pub(crate) at_key: bool,
}

/// What the text being checked is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A configuration file the runner runs with: every rule applies.
    Config,
    /// A `register --template-config` file: a partial `[[runners]]` entry whose `url`
    /// (like its token) comes from the command line, so a missing `url` is only a warning.
    Template,
}

pub(crate) fn validate(config: &Config, purpose: Purpose) -> Vec<Finding> {
    let mut findings = Findings::default();
    if config.concurrent < 1 {
        findings.problem(
            vec![key("concurrent")],
            format!(
                "must be at least 1, found {} (no job would ever run)",
                config.concurrent
            ),
        );
    } else if config.concurrent > Config::MAX_CONCURRENT {
        findings.problem(
            vec![key("concurrent")],
            format!(
                "must be at most {}, found {} (each unit is a job slot)",
                Config::MAX_CONCURRENT,
                config.concurrent
            ),
        );
    } else if (config.concurrent as u64) < config.runners.len() as u64 {
        findings.warning(
            vec![key("concurrent")],
            format!(
                "is {} but there are {} runners: worker starvation bottleneck, some runners wait for a free worker",
                config.concurrent,
                config.runners.len()
            ),
        );
    }
    check_labels(&mut findings, vec![key("labels")], &config.labels);
    let advertise = &config.session_server.advertise_address;
    if advertise.contains("://") {
        findings.problem(
            vec![key("session_server"), key("advertise_address")],
            format!("{advertise:?} must not include a scheme (url not valid, scheme defined)"),
        );
    }
    for (index, runner) in config.runners.iter().enumerate() {
        let base = vec![key("runners"), Segment::Index(index)];
        check_runner(&mut findings, &base, config, runner, purpose);
    }
    findings.0
}

fn check_runner(
    findings: &mut Findings,
    base: &[Segment],
    config: &Config,
    runner: &RunnerConfig,
    purpose: Purpose,
) {
    let at = |name: &str| {
        let mut path = base.to_vec();
        path.push(key(name));
        path
    };
    if runner.url.trim().is_empty() {
        // Without a URL the entry can be neither polled nor unregistered; upstream only
        // complains in its advisory schema check, and `list` shows such an entry as if it
        // worked (issue #14).
        let message = match (purpose, runner.name.is_empty()) {
            (Purpose::Template, _) => "url is empty: this runner cannot reach GitLab".to_owned(),
            (Purpose::Config, true) => {
                "url is missing or empty: this runner cannot reach GitLab".to_owned()
            }
            (Purpose::Config, false) => format!(
                "url is missing or empty in runner {:?}: this runner cannot reach GitLab",
                runner.name
            ),
        };
        match purpose {
            Purpose::Config => findings.problem(at("url"), message),
            Purpose::Template => findings.warning(at("url"), message),
        }
    } else {
        check_url(findings, at("url"), &runner.url);
        if runner.has_legacy_ci_suffix() {
            findings.warning(
                at("url"),
                "The runner URL contains a legacy '/ci' suffix. The suffix is stripped when API URLs are built; remove it from the configuration".to_owned(),
            );
        }
    }
    check_count(
        findings,
        at("limit"),
        runner.limit,
        RunnerConfig::MAX_LIMIT,
        ("0 means unlimited", "each unit is a job slot"),
    );
    check_count(
        findings,
        at("request_concurrency"),
        runner.request_concurrency,
        RunnerConfig::MAX_REQUEST_CONCURRENCY,
        (
            "0 means 1",
            "each unit is a job request held open against GitLab",
        ),
    );
    if !runner.clone_url.is_empty() {
        check_url(findings, at("clone_url"), &runner.clone_url);
    }
    if runner.token.expose().trim().is_empty() {
        findings.warning(
            at("token"),
            "Runner token is empty or whitespace; this runner will be skipped during job polling"
                .to_owned(),
        );
    }
    if runner.executor.is_none() {
        findings.warning(
            at("executor"),
            "executor is not set: this runner cannot run jobs (upstream marks it unhealthy)"
                .to_owned(),
        );
    }
    if runner.feature_flag("FF_SUSPENDABLE_ENVIRONMENTS") == Some(true) && runner.id == 0 {
        findings.warning(
            at("feature_flags"),
            "FF_SUSPENDABLE_ENVIRONMENTS is enabled but the runner has no id; suspendable environments need it".to_owned(),
        );
    }
    if runner.use_slot_cgroups
        && !runner.slot_cgroup_template.is_empty()
        && !runner.slot_cgroup_template.contains("${slot}")
    {
        findings.warning(
            at("slot_cgroup_template"),
            "does not contain the ${slot} placeholder: every slot gets the same cgroup".to_owned(),
        );
    }
    check_labels(findings, at("labels"), &runner.labels);
    if config.computed_labels(runner).len() > MAX_LABELS {
        findings.problem_at_key(
            at("labels"),
            format!("exceeded maximum computed labels number of {MAX_LABELS}"),
        );
    }
    if let Some(kubernetes) = &runner.kubernetes {
        for (index, volume) in kubernetes.volumes.nfs.iter().enumerate() {
            let missing = volume.missing_fields();
            if !missing.is_empty() {
                let mut path = at("kubernetes");
                path.extend([key("volumes"), key("nfs"), Segment::Index(index)]);
                findings.problem_at_key(
                    path,
                    format!(
                        "nfs volume: missing required fields: {}",
                        missing.join(", ")
                    ),
                );
            }
        }
    }
    if let Some(machine) = &runner.machine {
        for (index, option) in machine.machine_options_with_name.iter().enumerate() {
            if !option.contains("%s") {
                let mut path = at("machine");
                path.extend([key("MachineOptionsWithName"), Segment::Index(index)]);
                findings.problem(
                    path,
                    format!("machine option with name {option:?} must contain %s placeholder"),
                );
            }
        }
        if !machine.off_peak_periods.is_empty()
            || machine.off_peak_idle_count != 0
            || machine.off_peak_idle_time != 0
        {
            findings.warning_at_key(
                at("machine"),
                "the OffPeak* settings are deprecated and ignored; use [[runners.machine.autoscaling]]".to_owned(),
            );
        }
    }
}

/// A count that sizes tasks or a semaphore in the binary: negative values and values above
/// `max` are rejected (see the `MAX_*` constants for why each maximum).
fn check_count(
    findings: &mut Findings,
    path: Vec<Segment>,
    value: i64,
    max: i64,
    (zero, unit): (&str, &str),
) {
    if value < 0 {
        findings.problem(
            path,
            format!("must not be negative, found {value} ({zero})"),
        );
    } else if value > max {
        findings.problem(
            path,
            format!("must be at most {max}, found {value} ({unit})"),
        );
    }
}

/// The seed asks for a bad URL to be an error at load (upstream accepts anything). A value
/// still holding a `$VAR` reference is checked only after [`Config::expand_env`].
fn check_url(findings: &mut Findings, path: Vec<Segment>, value: &str) {
    if value.contains('$') {
        return;
    }
    match url::Url::parse(value) {
        Ok(parsed) if !matches!(parsed.scheme(), "http" | "https") => findings.problem(
            path,
            format!(
                "invalid URL {value:?}: the scheme must be http or https, found {:?}",
                parsed.scheme()
            ),
        ),
        Ok(parsed) if parsed.host_str().is_none_or(str::is_empty) => {
            findings.problem(path, format!("invalid URL {value:?}: no host"))
        }
        Ok(_) => {}
        Err(error) => findings.problem(path, format!("invalid URL {value:?}: {error}")),
    }
}

fn check_labels(findings: &mut Findings, path: Vec<Segment>, labels: &BTreeMap<String, String>) {
    for (label_key, value) in labels {
        let mut label_path = path.clone();
        label_path.push(key(label_key));
        if !is_valid_label_key(label_key) {
            findings.problem_at_key(
                label_path,
                format!("invalid label key, doesn't match {LABEL_KEY_PATTERN:?}: {label_key}"),
            );
        } else if !is_valid_label_value(value) {
            findings.problem(
                label_path,
                format!("invalid label value, doesn't match {LABEL_VALUE_PATTERN:?}: {value}"),
            );
        }
    }
}

fn is_label_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-')
}

fn is_valid_label_key(label_key: &str) -> bool {
    let bytes = label_key.as_bytes();
    (3..=65).contains(&bytes.len())
        && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
        && bytes[1..].iter().copied().all(is_label_char)
}

fn is_valid_label_value(value: &str) -> bool {
    (1..=256).contains(&value.len()) && value.bytes().all(is_label_char)
}

fn key(name: &str) -> Segment {
    Segment::Key(name.to_owned())
}

#[derive(Default)]
struct Findings(Vec<Finding>);

impl Findings {
    fn push(&mut self, path: Vec<Segment>, message: String, severity: Severity, at_key: bool) {
        self.0.push(Finding {
            path,
            message,
            severity,
            at_key,
        });
    }

    fn problem(&mut self, path: Vec<Segment>, message: String) {
        self.push(path, message, Severity::Problem, false);
    }

    fn problem_at_key(&mut self, path: Vec<Segment>, message: String) {
        self.push(path, message, Severity::Problem, true);
    }

    fn warning(&mut self, path: Vec<Segment>, message: String) {
        self.push(path, message, Severity::Warning, false);
    }

    fn warning_at_key(&mut self, path: Vec<Segment>, message: String) {
        self.push(path, message, Severity::Warning, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_patterns_follow_upstream() {
        assert!(is_valid_label_key("team"));
        assert!(is_valid_label_key("_ab"));
        assert!(!is_valid_label_key("ab"));
        assert!(!is_valid_label_key("-abc"));
        assert!(!is_valid_label_key(&"a".repeat(66)));
        assert!(is_valid_label_key(&"a".repeat(65)));
        assert!(is_valid_label_value("fra1"));
        assert!(!is_valid_label_value(""));
        assert!(!is_valid_label_value("two words"));
    }
}
