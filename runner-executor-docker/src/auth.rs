//! Registry credentials for a pull: `DOCKER_AUTH_CONFIG` first, then the job's credentials
//! (executors.md §7.2). The values come in as [`RegistryAuth`]; nothing is read from the
//! environment or from the runner user's `~/.docker/config.json`.

use bollard::auth::DockerCredentials;
use runner_executor::{registry_host, same_registry};

use crate::settings::RegistryAuth;

/// Credentials chosen for one image, with the source named in the trace.
pub(crate) struct ChosenCredentials {
    pub(crate) credentials: DockerCredentials,
    pub(crate) source: &'static str,
}

/// The registry host of an image reference (`docker.io` when it names none).
pub(crate) fn registry_of(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first.to_owned()
        }
        _ => "docker.io".to_owned(),
    }
}

/// Credentials for `image`, if any source has some for its registry.
pub(crate) fn credentials_for(image: &str, auth: &RegistryAuth) -> Option<ChosenCredentials> {
    let registry = registry_of(image);
    if let Some(config) = auth.docker_auth_config.as_deref()
        && let Some(credentials) = from_docker_auth_config(config, &registry)
    {
        return Some(ChosenCredentials {
            credentials,
            source: "$DOCKER_AUTH_CONFIG",
        });
    }
    auth.job_credentials
        .iter()
        .find(|credential| same_registry(&registry_host(&credential.registry), &registry))
        .map(|credential| ChosenCredentials {
            credentials: DockerCredentials {
                username: Some(credential.username.clone()),
                password: Some(credential.password.expose().to_owned()),
                serveraddress: Some(registry.clone()),
                ..DockerCredentials::default()
            },
            source: "job payload (GitLab Registry)",
        })
}

fn from_docker_auth_config(config: &str, registry: &str) -> Option<DockerCredentials> {
    let parsed: serde_json::Value = match serde_json::from_str(config) {
        Ok(value) => value,
        Err(error) => {
            tracing::warn!(%error, "DOCKER_AUTH_CONFIG is not valid JSON; ignoring it");
            return None;
        }
    };
    let auths = parsed.get("auths")?.as_object()?;
    let (_, entry) = auths
        .iter()
        .find(|(key, _)| same_registry(&registry_host(key), registry))?;
    let text = |name: &str| {
        entry
            .get(name)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let (mut username, mut password) = (text("username"), text("password"));
    if let Some(encoded) = text("auth")
        && let Some(decoded) = decode_base64(&encoded)
        && let Some((user, pass)) = decoded.split_once(':')
    {
        username = Some(user.to_owned());
        password = Some(pass.to_owned());
    }
    Some(DockerCredentials {
        username,
        password,
        identitytoken: text("identitytoken"),
        serveraddress: Some(registry.to_owned()),
        ..DockerCredentials::default()
    })
}

/// Standard base64, padded or not (what `docker login` writes, and what people paste).
fn decode_base64(text: &str) -> Option<String> {
    use base64::Engine as _;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let bytes = LENIENT.decode(text.trim()).ok()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::RegistryCredential;

    #[test]
    fn registries() {
        assert_eq!(registry_of("alpine:3"), "docker.io");
        assert_eq!(registry_of("library/alpine"), "docker.io");
        assert_eq!(registry_of("127.0.0.1:5000/x/y:1"), "127.0.0.1:5000");
        assert_eq!(registry_of("localhost/x"), "localhost");
    }

    #[test]
    fn docker_auth_config_wins_over_job_credentials() {
        let auth = RegistryAuth {
            job_credentials: vec![RegistryCredential {
                registry: "r.example:5000".to_owned(),
                username: "job".to_owned(),
                password: "jobpass".into(),
            }],
            // "user:pa:ss" in base64.
            docker_auth_config: Some(
                r#"{"auths":{"https://r.example:5000":{"auth":"dXNlcjpwYTpzcw=="}}}"#.to_owned(),
            ),
        };
        let chosen = credentials_for("r.example:5000/group/image:1", &auth).unwrap();
        assert_eq!(chosen.source, "$DOCKER_AUTH_CONFIG");
        assert_eq!(chosen.credentials.username.as_deref(), Some("user"));
        assert_eq!(chosen.credentials.password.as_deref(), Some("pa:ss"));

        let only_job = RegistryAuth {
            docker_auth_config: None,
            ..auth
        };
        let chosen = credentials_for("r.example:5000/group/image:1", &only_job).unwrap();
        assert_eq!(chosen.credentials.username.as_deref(), Some("job"));
        assert!(credentials_for("other.example/image", &only_job).is_none());
    }

    #[test]
    fn docker_hub_aliases_match() {
        let auth = RegistryAuth {
            job_credentials: Vec::new(),
            docker_auth_config: Some(
                r#"{"auths":{"https://index.docker.io/v1/":{"username":"u","password":"p"}}}"#
                    .to_owned(),
            ),
        };
        assert!(credentials_for("alpine", &auth).is_some());
    }
}
