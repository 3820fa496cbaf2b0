//! The job payload: the `201` body of `jobs/request` (§6).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::secret::Token;
use crate::wire::job_parts::{
    Artifact, Cache, Credential, Dependency, GitInfo, Hook, Image, Input, JobInfo, JobRunnerInfo,
    PolicyOptions, ServerFeatures, Step, SuspendOptions, Variable,
};

/// A job handed to this runner.
///
/// Decode with [`JobResponse::from_json`], which treats JSON `null` like an
/// absent field (GitLab sends `"image": null`) and ignores unknown fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobResponse {
    /// Job id, used in every job-scoped path.
    pub id: u64,
    /// Job token (`JOB-TOKEN`, `CI_JOB_TOKEN`).
    pub token: Token,
    /// Default `GIT_STRATEGY` is `fetch` when true.
    pub allow_git_fetch: bool,
    /// Job metadata for logs and metrics.
    pub job_info: JobInfo,
    /// What to check out.
    pub git_info: GitInfo,
    /// Timeout and runner uuid.
    pub runner_info: JobRunnerInfo,
    /// Job inputs (validated while decoding).
    pub inputs: Vec<Input>,
    /// Job variables, in order (last occurrence wins).
    pub variables: Vec<Variable>,
    /// Script steps.
    pub steps: Vec<Step>,
    /// Job image.
    pub image: Image,
    /// Service containers.
    pub services: Vec<Image>,
    /// Artifacts to upload.
    pub artifacts: Vec<Artifact>,
    /// Caches.
    pub cache: Vec<Cache>,
    /// Registry credentials.
    pub credentials: Vec<Credential>,
    /// Jobs whose artifacts to download.
    pub dependencies: Vec<Dependency>,
    /// Server capabilities.
    pub features: ServerFeatures,
    /// Secret definitions by variable name (provider objects kept as JSON).
    pub secrets: BTreeMap<String, serde_json::Value>,
    /// `pre_get_sources_script` / `post_get_sources_script` hooks.
    pub hooks: Vec<Hook>,
    /// GitLab Steps: a JSON array encoded as a string (checked while decoding).
    #[serde(deserialize_with = "run_string")]
    pub run: String,
    /// Policy information, printed in the log.
    pub policy_options: PolicyOptions,
    /// Experimental suspend/resume options.
    pub suspend_options: SuspendOptions,
}

/// The part of a payload that identifies a job, extracted when the rest fails to decode,
/// so the job can be reported failed instead of being left stuck (§5.5 Beyond).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PartialJob {
    /// Job id.
    pub id: u64,
    /// Job token.
    pub token: Token,
}

/// A job payload that could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("job payload could not be decoded: {reason}")]
pub struct DecodeJobError {
    /// Id and token, when they could still be read (invalid UTF-8 read lossily).
    pub partial: Option<PartialJob>,
    /// What did not decode and where (`variables[2].masked: invalid type: string,
    /// expected a boolean`). Never holds a value of the payload: any of them may be a
    /// secret, and this text goes to the runner's log and the job's.
    pub reason: String,
}

impl JobResponse {
    /// Decodes a payload; nulls read as absent, unknown keys are ignored and
    /// type mismatches are errors.
    pub fn from_json(bytes: &[u8]) -> Result<Self, DecodeJobError> {
        let mut value: serde_json::Value = match serde_json::from_slice(bytes) {
            Ok(value) => value,
            Err(error) => return Err(undecodable_json(bytes, &error)),
        };
        strip_nulls(&mut value);
        let partial = partial_job(&value);
        serde_path_to_error::deserialize(value).map_err(|error| DecodeJobError {
            partial,
            reason: format!(
                "{}: {}",
                error.path(),
                without_values(&error.inner().to_string())
            ),
        })
    }

    /// The job timeout: `runner_info.timeout`, or 7200 s when not positive, and at most a
    /// year. GitLab caps a project's timeout at one month, so a larger value is a broken
    /// payload; clamped, it cannot overflow the deadline arithmetic of the executors.
    pub fn timeout(&self) -> std::time::Duration {
        const MAX_TIMEOUT_SECONDS: u64 = 365 * 24 * 3600;
        let seconds = u64::try_from(self.runner_info.timeout)
            .ok()
            .filter(|seconds| *seconds > 0);
        std::time::Duration::from_secs(seconds.unwrap_or(7200).min(MAX_TIMEOUT_SECONDS))
    }

    /// The last variable named `key`.
    pub fn variable(&self, key: &str) -> Option<&Variable> {
        self.variables
            .iter()
            .rev()
            .find(|variable| variable.key == key)
    }

    /// Whether `CI_DEBUG_TRACE` or `CI_DEBUG_SERVICES` is `true` (PATCH `debug_trace=true`).
    pub fn is_debug_trace(&self) -> bool {
        ["CI_DEBUG_TRACE", "CI_DEBUG_SERVICES"].iter().any(|key| {
            self.variable(key)
                .is_some_and(|variable| variable.value.expose().eq_ignore_ascii_case("true"))
        })
    }
}

/// The error of a payload that is not JSON. Invalid UTF-8 is the one case where the job can
/// still be named: read lossily, the payload gives its id and token, so the job is
/// reported failed instead of being left running.
fn undecodable_json(bytes: &[u8], error: &serde_json::Error) -> DecodeJobError {
    match std::str::from_utf8(bytes) {
        Err(utf8) => DecodeJobError {
            partial: serde_json::from_str(&String::from_utf8_lossy(bytes))
                .ok()
                .and_then(|value| partial_job(&value)),
            reason: format!(
                "the payload is not valid UTF-8 (invalid byte at offset {})",
                utf8.valid_up_to()
            ),
        },
        Ok(_) => DecodeJobError {
            partial: None,
            reason: format!(
                "the payload is not valid JSON ({} at line {} column {})",
                match error.classify() {
                    serde_json::error::Category::Eof => "unexpected end",
                    _ => "syntax error",
                },
                error.line(),
                error.column()
            ),
        },
    }
}

/// Id and token of a payload, when both are there.
fn partial_job(value: &serde_json::Value) -> Option<PartialJob> {
    PartialJob::deserialize(value)
        .ok()
        .filter(|partial| partial.id != 0 && !partial.token.is_empty())
}

/// A serde message without the value it quotes: `invalid type: string "s3cr3t", expected
/// a boolean` becomes `invalid type: string, expected a boolean`.
fn without_values(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some((unexpected, expected)) = message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once(", expected "))
        {
            let kind = unexpected
                .find(['"', '`'])
                .map_or(unexpected, |quote| unexpected[..quote].trim_end());
            return format!("{prefix}{kind}, expected {expected}");
        }
    }
    message.to_owned()
}

/// Removes object members whose value is `null`, recursively.
fn strip_nulls(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|_, member| !member.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// `run` must be a string holding a JSON array (§6.10).
fn run_string<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    if !text.is_empty() {
        let parsed: serde_json::Value =
            serde_json::from_str(&text).map_err(serde::de::Error::custom)?;
        if !parsed.is_array() {
            return Err(serde::de::Error::custom("run must hold a JSON array"));
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../tests/it/example_job.json");

    #[test]
    fn spec_example_payload_decodes() {
        let job = JobResponse::from_json(EXAMPLE.as_bytes()).unwrap();
        assert_eq!(job.id, 4711);
        assert_eq!(job.token.expose(), "glcbt-64_jobTokenExample123");
        assert_eq!(job.git_info.depth, 20);
        assert_eq!(job.git_info.protected, Some(true));
        assert_eq!(job.steps.len(), 2);
        assert!(job.variable("DEPLOY_KEY").unwrap().file);
        assert_eq!(job.image.name, "golang:1.24");
        assert_eq!(job.services[0].variables[0].key, "POSTGRES_PASSWORD");
        assert_eq!(job.dependencies[0].artifacts_file.filename, "artifacts.zip");
        assert_eq!(
            job.job_info.project_jobs_running_on_instance_runners_count,
            "0"
        );
        assert_eq!(job.timeout(), std::time::Duration::from_secs(3600));
        assert!(!format!("{job:?}").contains("k3y-material"));
    }

    #[test]
    fn nulls_read_as_absent() {
        let job = JobResponse::from_json(br#"{"id":1,"token":"t","image":null,"runner_info":{"timeout":0,"runner_session_url":null},"dependencies":[{"id":2,"artifacts_file":null}]}"#).unwrap();
        assert_eq!(job.image, Image::default());
        assert_eq!(job.timeout(), std::time::Duration::from_secs(7200));
    }

    #[test]
    fn vector_23_invalid_input_rejects_the_payload_but_keeps_id_and_token() {
        let error = JobResponse::from_json(
            br#"{"id":9,"token":"tok","inputs":[{"key":"x","value":{"type":"string","content":1}}]}"#,
        )
        .unwrap_err();
        let partial = error.partial.unwrap();
        assert_eq!(partial.id, 9);
        assert_eq!(partial.token.expose(), "tok");
        assert_eq!(
            error.reason,
            "inputs[0]: job input x does not hold a string"
        );
    }

    #[test]
    fn invalid_utf8_still_names_the_job() {
        let mut payload = br#"{"id":12,"token":"tok","job_info":{"name":"bad "#.to_vec();
        payload.push(0xff);
        payload.extend_from_slice(br#""}}"#);
        let error = JobResponse::from_json(&payload).unwrap_err();
        let partial = error.partial.expect("id and token are read lossily");
        assert_eq!((partial.id, partial.token.expose()), (12, "tok"));
        assert_eq!(
            error.reason,
            "the payload is not valid UTF-8 (invalid byte at offset 47)"
        );
    }

    #[test]
    fn decode_errors_never_quote_payload_values() {
        let error = JobResponse::from_json(
            br#"{"id":3,"token":"tok","variables":[{"key":"K","value":"v","masked":"s3cr3t"}]}"#,
        )
        .unwrap_err();
        assert!(!error.to_string().contains("s3cr3t"), "{error}");
        assert_eq!(
            error.reason,
            "variables[0].masked: invalid type: string, expected a boolean"
        );
        let syntax = JobResponse::from_json(br#"{"id":3,"token":"s3cr3t""#).unwrap_err();
        assert!(syntax.partial.is_none());
        assert!(!syntax.to_string().contains("s3cr3t"), "{syntax}");
    }

    #[test]
    fn run_must_be_a_string_holding_an_array() {
        assert!(JobResponse::from_json(br#"{"id":1,"run":"[{\"name\":\"a\"}]"}"#).is_ok());
        assert!(JobResponse::from_json(br#"{"id":1,"run":"{}"}"#).is_err());
        assert!(JobResponse::from_json(br#"{"id":1,"run":[1]}"#).is_err());
    }

    #[test]
    fn absurd_timeouts_are_clamped_to_a_year() {
        let job = JobResponse::from_json(
            format!(r#"{{"id":1,"runner_info":{{"timeout":{}}}}}"#, i64::MAX).as_bytes(),
        )
        .unwrap();
        assert_eq!(
            job.timeout(),
            std::time::Duration::from_secs(365 * 24 * 3600)
        );
    }

    #[test]
    fn wrong_type_is_a_decode_error() {
        assert!(JobResponse::from_json(br#"{"id":"one"}"#).is_err());
    }
}
