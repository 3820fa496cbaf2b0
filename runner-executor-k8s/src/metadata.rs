//! Pod labels and annotations (K4, executors.md §8.3): `pod_labels` and `pod_annotations` plus
//! the runner's own keys, which users cannot override.

use std::collections::BTreeMap;

use runner_executor::JobSpec;

use crate::names::{sanitize_label, sanitize_label_value};
use crate::settings::Settings;

/// Label keys under this domain belong to the runner and cannot be set by `pod_labels`.
const RUNNER_LABEL_DOMAIN: &str = "runner.gitlab.com";

pub(crate) fn labels(job: &JobSpec, settings: &Settings) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    for (key, value) in &settings.pod_labels {
        let domain = key.split_once('/').map_or("", |(domain, _)| domain);
        if domain == RUNNER_LABEL_DOMAIN || domain.ends_with(&format!(".{RUNNER_LABEL_DOMAIN}")) {
            continue;
        }
        labels.insert(key.clone(), value.clone());
    }
    let prefix = sanitize_label(&crate::names::pod_prefix(
        &job.runner.short_token,
        job.project_id,
        job.runner.concurrent_project_id,
    ));
    let (project_namespace, project_name) = job
        .project_path
        .rsplit_once('/')
        .unwrap_or(("", &job.project_path));
    let root_namespace = project_namespace.split('/').next().unwrap_or("");
    let runner_labels = [
        ("pod", prefix.clone()),
        ("job.runner.gitlab.com/pod", prefix),
        ("project.runner.gitlab.com/id", job.project_id.to_string()),
        (
            "project.runner.gitlab.com/name",
            sanitize_label_value(project_name),
        ),
        (
            "project.runner.gitlab.com/namespace",
            sanitize_label_value(project_namespace),
        ),
        (
            "project.runner.gitlab.com/root-namespace",
            sanitize_label_value(root_namespace),
        ),
        (
            "manager.runner.gitlab.com/name",
            sanitize_label_value(&job.runner.name),
        ),
        (
            "manager.runner.gitlab.com/id-short",
            sanitize_label_value(&job.runner.short_token),
        ),
    ];
    for (key, value) in runner_labels {
        labels.insert(key.to_owned(), value);
    }
    labels
}

pub(crate) fn annotations(job: &JobSpec, settings: &Settings) -> BTreeMap<String, String> {
    let mut annotations = settings.pod_annotations.clone();
    let runner_annotations = [
        ("job.runner.gitlab.com/id", job.id.to_string()),
        ("job.runner.gitlab.com/sha", job.git.sha.clone()),
        (
            "job.runner.gitlab.com/before_sha",
            job.git.before_sha.clone(),
        ),
        ("job.runner.gitlab.com/ref", job.git.ref_name.clone()),
        ("job.runner.gitlab.com/name", job.name.clone()),
        (
            "job.runner.gitlab.com/timeout",
            go_duration(job.timeout.as_secs()),
        ),
        ("project.runner.gitlab.com/id", job.project_id.to_string()),
    ];
    for (key, value) in runner_annotations {
        annotations.insert(key.to_owned(), value);
    }
    annotations
}

/// Go's `time.Duration` text for whole seconds, e.g. `1h0m0s`.
fn go_duration(seconds: u64) -> String {
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, _) => format!("{minutes}m{seconds}s"),
        _ => format!("{hours}h{minutes}m{seconds}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(3600), "1h0m0s");
        assert_eq!(go_duration(90), "1m30s");
        assert_eq!(go_duration(5), "5s");
    }

    #[test]
    fn runner_labels_cannot_be_overridden() {
        let settings = Settings {
            pod_labels: BTreeMap::from([
                ("pod".to_owned(), "mine".to_owned()),
                ("job.runner.gitlab.com/pod".to_owned(), "hijack".to_owned()),
                ("team".to_owned(), "ci".to_owned()),
            ]),
            ..Settings::default()
        };
        let job = JobSpec::builder(1, "t")
            .project(5, "Group/Sub/My Project")
            .build();
        let labels = labels(&job, &settings);
        assert_eq!(labels["team"], "ci");
        assert!(
            labels["job.runner.gitlab.com/pod"].ends_with("-project-5-concurrent-0"),
            "{labels:?}"
        );
        assert_eq!(labels["pod"], labels["job.runner.gitlab.com/pod"]);
        assert_eq!(labels["project.runner.gitlab.com/name"], "My_Project");
        assert_eq!(labels["project.runner.gitlab.com/root-namespace"], "Group");
    }
}
