//! Names and labels of a job's Docker objects (executors.md §7.3, §7.4, §7.6, §7.7).

use std::collections::HashMap;

use runner_executor::JobSpec;
use sha2::{Digest, Sha256};

/// Label prefix shared with upstream, so upstream's tooling recognizes our objects.
pub(crate) const LABEL_PREFIX: &str = "com.gitlab.gitlab-runner.";

/// Label naming the runner (short token) that owns an object.
pub const RUNNER_ID_LABEL: &str = "com.gitlab.gitlab-runner.runner.id";
/// Label naming the runner's system id.
pub const SYSTEM_ID_LABEL: &str = "com.gitlab.gitlab-runner.runner.system_id";
/// Label set to `true` on every object a job creates.
pub const MANAGED_LABEL: &str = "com.gitlab.gitlab-runner.managed";
/// Label set to `true` on volumes kept across jobs (cache, `fetch` builds).
pub const REUSABLE_LABEL: &str = "com.gitlab.gitlab-runner.reusable";

/// Names derived from one job.
#[derive(Debug, Clone)]
pub(crate) struct JobNames {
    /// `runner-<short>-project-<pid>-concurrent-<cpid>-<16 hex>`.
    pub(crate) unique: String,
    /// `runner-<short>-project-<pid>-concurrent-<cpid>`, the containers' host name.
    pub(crate) hostname: String,
    /// `runner-<short>-<pid>-<cpid>-<jid>`, the per-job network.
    pub(crate) network: String,
    /// `runner-<32 hex>`: prefix of volumes reused by later jobs of the same project slot.
    pub(crate) reusable: String,
}

impl JobNames {
    pub(crate) fn new(job: &JobSpec) -> Self {
        let runner = &job.runner;
        let hostname = rfc1123(&format!(
            "runner-{}-project-{}-concurrent-{}",
            runner.short_token, job.project_id, runner.concurrent_project_id
        ));
        let unique = format!("{hostname}-{:016x}", rand::random::<u64>());
        let network = rfc1123(&format!(
            "runner-{}-{}-{}-{}",
            runner.short_token, job.project_id, runner.concurrent_project_id, job.id
        ));
        let digest = Sha256::digest(
            format!(
                "{}-{}-{}-{}",
                runner.short_token, runner.system_id, job.project_id, runner.concurrent_project_id
            )
            .as_bytes(),
        );
        let reusable = format!("runner-{}", hex::encode(&digest[..16]));
        Self {
            unique,
            hostname,
            network,
            reusable,
        }
    }
}

/// A short digest of a container path, for cache volume names.
pub(crate) fn path_digest(path: &str) -> String {
    hex::encode(&Sha256::digest(path.as_bytes())[..16])
}

/// Lower-case, `[-a-z0-9]` only, at most 63 characters.
fn rfc1123(name: &str) -> String {
    let cleaned: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    cleaned.trim_end_matches('-').to_owned()
}

/// Common labels of every object of `job` (§7.7), plus `type` and `extra` ones.
pub(crate) fn labels(
    job: &JobSpec,
    object_type: &str,
    extra: &[(&str, &str)],
    container_labels: &std::collections::BTreeMap<String, String>,
) -> HashMap<String, String> {
    let mut labels = HashMap::new();
    let mut put = |key: &str, value: String| {
        labels.insert(format!("{LABEL_PREFIX}{key}"), value);
    };
    put("job.id", job.id.to_string());
    put("job.url", job_url(job));
    put("job.sha", job.git.sha.clone());
    put("job.before_sha", job.git.before_sha.clone());
    put("job.ref", job.git.ref_name.clone());
    put("job.timeout", go_duration(job.timeout));
    put("project.id", job.project_id.to_string());
    put(
        "project.runner_id",
        job.runner.concurrent_project_id.to_string(),
    );
    put("pipeline.id", job.pipeline_id.to_string());
    put("runner.id", job.runner.short_token.clone());
    put("runner.local_id", job.runner.concurrent_id.to_string());
    put("runner.system_id", job.runner.system_id.clone());
    put("managed", "true".to_owned());
    if !object_type.is_empty() {
        put("type", object_type.to_owned());
    }
    for (key, value) in extra {
        put(key, (*value).to_owned());
    }
    for (key, value) in container_labels {
        labels.insert(key.clone(), value.clone());
    }
    labels
}

/// `<project url>/-/jobs/<id>`, from the repository URL without credentials and `.git`.
fn job_url(job: &JobSpec) -> String {
    let url = &job.git.repo_url;
    let Some((scheme, rest)) = url.split_once("://") else {
        return String::new();
    };
    let rest = rest
        .rsplit_once('@')
        .filter(|(userinfo, _)| !userinfo.contains('/'))
        .map_or(rest, |(_, host)| host);
    let project = rest.strip_suffix(".git").unwrap_or(rest);
    format!("{scheme}://{project}/-/jobs/{}", job.id)
}

/// Go's `time.Duration` string for whole seconds: `1h0m0s`, `5m0s`, `30s`.
fn go_duration(duration: std::time::Duration) -> String {
    let seconds = duration.as_secs();
    let (hours, minutes, secs) = (seconds / 3600, (seconds % 3600) / 60, seconds % 60);
    if hours > 0 {
        format!("{hours}h{minutes}m{secs}s")
    } else if minutes > 0 {
        format!("{minutes}m{secs}s")
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_upstream() {
        let job = JobSpec::builder(42, "t")
            .project(7, "g/p")
            .runner(|r| r.concurrent_project_id = 2)
            .build();
        let names = JobNames::new(&job);
        assert_eq!(names.hostname, "runner-abcdefghi-project-7-concurrent-2");
        assert!(
            names
                .unique
                .starts_with("runner-abcdefghi-project-7-concurrent-2-")
        );
        assert_eq!(names.unique.len(), names.hostname.len() + 17);
        assert_eq!(names.network, "runner-abcdefghi-7-2-42");
        assert_eq!(names.reusable.len(), "runner-".len() + 32);
    }

    #[test]
    fn labels_carry_job_and_runner() {
        let job = JobSpec::builder(42, "t")
            .repo(
                "https://gitlab-ci-token:secret@gitlab.example.com/g/p.git",
                "abc",
                "main",
            )
            .build();
        let labels = labels(&job, "build", &[], &Default::default());
        assert_eq!(labels["com.gitlab.gitlab-runner.job.id"], "42");
        assert_eq!(labels["com.gitlab.gitlab-runner.type"], "build");
        assert_eq!(labels[MANAGED_LABEL], "true");
        assert_eq!(labels[RUNNER_ID_LABEL], "abcdefghi");
        assert_eq!(
            labels["com.gitlab.gitlab-runner.job.url"],
            "https://gitlab.example.com/g/p/-/jobs/42"
        );
        assert_eq!(labels["com.gitlab.gitlab-runner.job.timeout"], "2h0m0s");
    }

    #[test]
    fn rfc1123_cleans() {
        assert_eq!(rfc1123("Runner_A.b"), "runner-a-b");
        assert_eq!(rfc1123(&"x".repeat(80)).len(), 63);
    }
}
