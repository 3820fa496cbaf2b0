//! The image-pull secret built from the job's registry credentials: type
//! `kubernetes.io/dockercfg`, key `.dockercfg` = JSON map registry → auth entry
//! (executors.md §8.3). `DOCKER_AUTH_CONFIG` comes first; the payload's `credentials` (the
//! GitLab registry's job token) add the registries it does not name.

use std::collections::BTreeMap;

use base64::Engine as _;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use runner_executor::{JobSpec, registry_host, same_registry};

/// The secret for `job`, or `None` when the job carries no registry credentials.
pub(crate) fn pull_secret(
    job: &JobSpec,
    name: &str,
    namespace: &str,
) -> Result<Option<Secret>, String> {
    let mut auths = docker_auth_config_entries(job)?;
    for credential in &job.registry_credentials {
        let host = registry_host(&credential.registry);
        if auths
            .keys()
            .any(|key| same_registry(&registry_host(key), &host))
        {
            continue;
        }
        let password = credential.password.expose();
        let auth = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{password}", credential.username));
        auths.insert(
            credential.registry.clone(),
            serde_json::json!({
                "username": credential.username,
                "password": password,
                "auth": auth,
            }),
        );
    }
    if auths.is_empty() {
        return Ok(None);
    }
    let dockercfg = serde_json::to_vec(&auths).map_err(|e| format!("encoding .dockercfg: {e}"))?;
    Ok(Some(Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            ..ObjectMeta::default()
        },
        type_: Some("kubernetes.io/dockercfg".to_owned()),
        data: Some(BTreeMap::from([(
            ".dockercfg".to_owned(),
            ByteString(dockercfg),
        )])),
        ..Secret::default()
    }))
}

/// The `auths` of the job's last `DOCKER_AUTH_CONFIG`, empty when it has none.
fn docker_auth_config_entries(
    job: &JobSpec,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let Some(variable) = job
        .variables
        .iter()
        .rev()
        .find(|v| v.key == "DOCKER_AUTH_CONFIG")
    else {
        return Ok(serde_json::Map::new());
    };
    let parsed: serde_json::Value = serde_json::from_str(&variable.value)
        .map_err(|e| format!("parsing DOCKER_AUTH_CONFIG: {e}"))?;
    Ok(parsed
        .get("auths")
        .and_then(|a| a.as_object())
        .cloned()
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use runner_executor::{RegistryCredential, Variable};

    #[test]
    fn docker_auth_config_becomes_a_dockercfg_secret() {
        let job = JobSpec::builder(1, "t")
            .variable(Variable::masked(
                "DOCKER_AUTH_CONFIG",
                r#"{"auths":{"registry.example.com":{"auth":"dXNlcjpwYXNz"}}}"#,
            ))
            .build();
        let secret = pull_secret(&job, "s", "ns").unwrap().unwrap();
        assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/dockercfg"));
        let data = &secret.data.unwrap()[".dockercfg"].0;
        let value: serde_json::Value = serde_json::from_slice(data).unwrap();
        assert_eq!(value["registry.example.com"]["auth"], "dXNlcjpwYXNz");
    }

    #[test]
    fn payload_credentials_add_the_registries_docker_auth_config_does_not_name() {
        let job = JobSpec::builder(1, "t")
            .variable(Variable::masked(
                "DOCKER_AUTH_CONFIG",
                r#"{"auths":{"https://registry.example.com/v1/":{"auth":"dXNlcjpwYXNz"}}}"#,
            ))
            .registry_credential(RegistryCredential {
                registry: "registry.example.com".to_owned(),
                username: "gitlab-ci-token".to_owned(),
                password: "glcbt-shadowed".into(),
            })
            .registry_credential(RegistryCredential {
                registry: "gitlab.example.com:5050".to_owned(),
                username: "gitlab-ci-token".to_owned(),
                password: "glcbt-job".into(),
            })
            .build();
        let secret = pull_secret(&job, "s", "ns").unwrap().unwrap();
        let data = &secret.data.unwrap()[".dockercfg"].0;
        let value: serde_json::Value = serde_json::from_slice(data).unwrap();
        let entries = value.as_object().unwrap();
        assert_eq!(entries.len(), 2, "{value}");
        assert_eq!(
            value["https://registry.example.com/v1/"]["auth"],
            "dXNlcjpwYXNz"
        );
        let job_entry = &value["gitlab.example.com:5050"];
        assert_eq!(job_entry["username"], "gitlab-ci-token");
        assert_eq!(job_entry["password"], "glcbt-job");
        // base64("gitlab-ci-token:glcbt-job")
        assert_eq!(job_entry["auth"], "Z2l0bGFiLWNpLXRva2VuOmdsY2J0LWpvYg==");
    }

    #[test]
    fn payload_credentials_alone_make_a_secret() {
        let job = JobSpec::builder(1, "t")
            .registry_credential(RegistryCredential {
                registry: "gitlab.example.com:5050".to_owned(),
                username: "gitlab-ci-token".to_owned(),
                password: "glcbt-job".into(),
            })
            .build();
        assert!(pull_secret(&job, "s", "ns").unwrap().is_some());
    }

    #[test]
    fn no_credentials_no_secret() {
        assert!(
            pull_secret(&JobSpec::builder(1, "t").build(), "s", "ns")
                .unwrap()
                .is_none()
        );
    }
}
