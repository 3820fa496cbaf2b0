//! Job payloads as the coordinator sends them (coordinator-api.md §6).

use serde_json::{Value, json};

/// Builds a job payload; the fake assigns the id and token on enqueue.
#[derive(Debug, Clone)]
pub struct JobBuilder {
    payload: Value,
}

impl JobBuilder {
    /// A job of project `group/project` cloning `repo_url` at `sha`, running `script`.
    pub fn new(repo_url: &str, sha: &str, script: &[&str]) -> JobBuilder {
        JobBuilder {
            payload: json!({
                "allow_git_fetch": false,
                "job_info": {"name": "e2e", "stage": "test", "pipeline_id": 77, "project_id": 42,
                    "project_name": "project", "project_full_path": "group/project"},
                "git_info": {"repo_url": repo_url, "ref": "main", "sha": sha,
                    "before_sha": "0000000000000000000000000000000000000000", "ref_type": "branch",
                    "refspecs": ["+refs/heads/main:refs/remotes/origin/main"], "depth": 0},
                "runner_info": {"timeout": 3600},
                "variables": [
                    {"key": "CI_PROJECT_PATH", "value": "group/project", "public": true}
                ],
                "steps": [{"name": "script", "script": script, "timeout": 3600, "when": "on_success", "allow_failure": false}],
                "features": {"trace_sections": true, "failure_reasons": ["script_failure", "runner_system_failure",
                    "job_execution_timeout", "unknown_failure", "runner_interrupted", "job_canceled"]}
            }),
        }
    }

    /// A job with no sources (`GIT_STRATEGY=none`) running `script`.
    pub fn script_only(script: &[&str]) -> JobBuilder {
        JobBuilder::new(
            "http://127.0.0.1:9/none.git",
            "0000000000000000000000000000000000000000",
            script,
        )
        .variable("GIT_STRATEGY", "none")
    }

    /// Adds a public variable.
    pub fn variable(self, key: &str, value: &str) -> JobBuilder {
        self.push_variable(json!({"key": key, "value": value, "public": true}))
    }

    /// Adds a masked variable.
    pub fn masked_variable(self, key: &str, value: &str) -> JobBuilder {
        self.push_variable(json!({"key": key, "value": value, "public": false, "masked": true}))
    }

    /// Adds an `after_script` step.
    pub fn after_script(mut self, script: &[&str]) -> JobBuilder {
        if let Some(steps) = self.payload["steps"].as_array_mut() {
            steps.push(json!({"name": "after_script", "script": script, "timeout": 300, "when": "always", "allow_failure": true}));
        }
        self
    }

    /// Sets the job timeout in seconds (`runner_info.timeout`).
    pub fn timeout(mut self, seconds: u64) -> JobBuilder {
        self.payload["runner_info"]["timeout"] = json!(seconds);
        self
    }

    /// Sets `git_info.depth`.
    pub fn depth(mut self, depth: u32) -> JobBuilder {
        self.payload["git_info"]["depth"] = json!(depth);
        self
    }

    /// Sets `allow_git_fetch` (the default strategy becomes `fetch`).
    pub fn allow_git_fetch(mut self) -> JobBuilder {
        self.payload["allow_git_fetch"] = json!(true);
        self
    }

    /// The JSON payload.
    pub fn build(self) -> Value {
        self.payload
    }

    fn push_variable(mut self, variable: Value) -> JobBuilder {
        if let Some(variables) = self.payload["variables"].as_array_mut() {
            variables.push(variable);
        }
        self
    }
}
