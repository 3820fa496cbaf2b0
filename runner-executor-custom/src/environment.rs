//! What a driver call sees: the environment of upstream-details.md §1.5 and the job
//! response file of §1.3.

use std::path::Path;

use runner_executor::{JobSpec, Variable, expand};
use serde_json::{Value, json};

use crate::exit::{BUILD_FAILURE_EXIT_CODE, SYSTEM_FAILURE_EXIT_CODE};

/// The runner-defined variables of every call (§1.5 step 2).
pub(crate) fn runner_variables(tmp: &Path) -> Vec<(String, String)> {
    let path = |name: &str| tmp.join(name).to_string_lossy().into_owned();
    vec![
        ("TMPDIR".to_owned(), tmp.to_string_lossy().into_owned()),
        (
            "BUILD_FAILURE_EXIT_CODE".to_owned(),
            BUILD_FAILURE_EXIT_CODE.to_string(),
        ),
        (
            "SYSTEM_FAILURE_EXIT_CODE".to_owned(),
            SYSTEM_FAILURE_EXIT_CODE.to_string(),
        ),
        ("BUILD_EXIT_CODE_FILE".to_owned(), path("build_exit_code")),
        ("JOB_RESPONSE_FILE".to_owned(), path("response.json")),
    ]
}

/// `CUSTOM_ENV_<KEY>` for every job variable in list order (the last definition wins when
/// the process starts), then `CUSTOM_ENV_CI_JOB_SERVICES` (§1.5 steps 4 and 5).
pub(crate) fn custom_env(job: &JobSpec, variables: &[Variable]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = variables
        .iter()
        .map(|variable| {
            (
                format!("CUSTOM_ENV_{}", variable.key),
                variable.value.clone(),
            )
        })
        .collect();
    env.push((
        "CUSTOM_ENV_CI_JOB_SERVICES".to_owned(),
        services_json(job, variables),
    ));
    env
}

/// The job's services as upstream's drivers read them; empty when there are none.
fn services_json(job: &JobSpec, variables: &[Variable]) -> String {
    if job.services.is_empty() {
        return String::new();
    }
    let services: Vec<Value> = job
        .services
        .iter()
        .map(|service| {
            let lookup = |name: &str| {
                service
                    .variables
                    .iter()
                    .chain(variables.iter())
                    .rfind(|v| v.key == name)
                    .map(|v| v.value.clone())
            };
            let alias = service
                .alias
                .split([' ', ','])
                .find(|alias| !alias.is_empty())
                .unwrap_or("");
            let list = |items: &[String]| {
                if items.is_empty() {
                    Value::Null
                } else {
                    json!(items)
                }
            };
            let mut object = json!({
                "name": service.name,
                "alias": alias,
                "entrypoint": list(&service.entrypoint),
                "command": list(&service.command),
            });
            if !service.variables.is_empty() {
                let values: serde_json::Map<String, Value> = service
                    .variables
                    .iter()
                    .map(|v| {
                        let value = if v.raw {
                            v.value.clone()
                        } else {
                            expand(&v.value, lookup)
                        };
                        (v.key.clone(), Value::String(value))
                    })
                    .collect();
                object["variables"] = Value::Object(values);
            }
            object
        })
        .collect();
    Value::Array(services).to_string()
}

/// The job as this runner decoded it, re-encoded with the payload's field names
/// (`JOB_RESPONSE_FILE`). Fields the runner does not model are absent. Holds the job token.
pub(crate) fn response_json(job: &JobSpec) -> Value {
    let variables: Vec<Value> = job
        .variables
        .iter()
        .map(|v| {
            json!({
                "key": v.key, "value": v.value, "public": v.public,
                "file": v.file, "masked": v.masked, "raw": v.raw,
            })
        })
        .collect();
    let steps: Vec<Value> = job
        .steps
        .iter()
        .map(|step| {
            json!({
                "name": step.name,
                "script": step.script,
                "timeout": step.timeout.map_or(0, |t| t.as_secs()),
                "when": match step.when {
                    runner_executor::When::OnSuccess => "on_success",
                    runner_executor::When::OnFailure => "on_failure",
                    runner_executor::When::Always => "always",
                },
                "allow_failure": step.allow_failure,
            })
        })
        .collect();
    let image = |image: &runner_executor::Image| {
        json!({
            "name": image.name, "alias": image.alias,
            "command": image.command, "entrypoint": image.entrypoint,
            "pull_policy": image.pull_policy,
        })
    };
    json!({
        "id": job.id,
        "token": job.token.expose(),
        "allow_git_fetch": job.allow_git_fetch,
        "job_info": {
            "name": job.name,
            "project_id": job.project_id,
            "project_full_path": job.project_path,
        },
        "git_info": {
            "repo_url": job.git.repo_url,
            "ref": job.git.ref_name,
            "sha": job.git.sha,
            "before_sha": job.git.before_sha,
            "ref_type": job.git.ref_type,
            "refspecs": job.git.refspecs,
            "depth": job.git.depth,
        },
        "runner_info": { "timeout": job.timeout.as_secs() },
        "variables": variables,
        "steps": steps,
        "image": job.image.as_ref().map(image),
        "services": job.services.iter().map(image).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use runner_executor::Image;

    use super::*;

    #[test]
    fn services_carry_the_first_alias_and_expanded_variables() {
        let job = JobSpec::builder(1, "t")
            .variable(Variable::new("DB", "app"))
            .build();
        let mut job = job;
        job.services.push(Image {
            name: "postgres:16".to_owned(),
            alias: "db,database".to_owned(),
            variables: vec![Variable::new("POSTGRES_DB", "${DB}_test")],
            ..Image::default()
        });
        job.services.push(Image {
            name: "redis".to_owned(),
            ..Image::default()
        });
        let json: Value = serde_json::from_str(&services_json(&job, &job.variables)).unwrap();
        assert_eq!(json[0]["alias"], "db");
        assert_eq!(json[0]["variables"]["POSTGRES_DB"], "app_test");
        assert_eq!(json[0]["entrypoint"], Value::Null);
        assert_eq!(json[1]["alias"], "");
        assert!(json[1].get("variables").is_none());
    }

    #[test]
    fn no_services_is_an_empty_value() {
        let job = JobSpec::builder(1, "t").build();
        let env = custom_env(&job, &[Variable::new("A", "1")]);
        assert_eq!(
            env,
            [
                ("CUSTOM_ENV_A".to_owned(), "1".to_owned()),
                ("CUSTOM_ENV_CI_JOB_SERVICES".to_owned(), String::new()),
            ]
        );
    }
}
