//! The image-pull secret built from the job's registry credentials (`DOCKER_AUTH_CONFIG`):
//! type `kubernetes.io/dockercfg`, key `.dockercfg` = JSON map registry → auth entry.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use runner_executor::JobSpec;

/// The secret for `job`, or `None` when the job carries no registry credentials.
pub(crate) fn pull_secret(
    job: &JobSpec,
    name: &str,
    namespace: &str,
) -> Result<Option<Secret>, String> {
    let Some(variable) = job
        .variables
        .iter()
        .rev()
        .find(|v| v.key == "DOCKER_AUTH_CONFIG")
    else {
        return Ok(None);
    };
    let parsed: serde_json::Value = serde_json::from_str(&variable.value)
        .map_err(|e| format!("parsing DOCKER_AUTH_CONFIG: {e}"))?;
    let Some(auths) = parsed.get("auths").and_then(|a| a.as_object()) else {
        return Ok(None);
    };
    if auths.is_empty() {
        return Ok(None);
    }
    let dockercfg = serde_json::to_vec(auths).map_err(|e| format!("encoding .dockercfg: {e}"))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use runner_executor::Variable;

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
    fn no_credentials_no_secret() {
        assert!(
            pull_secret(&JobSpec::builder(1, "t").build(), "s", "ns")
                .unwrap()
                .is_none()
        );
    }
}
