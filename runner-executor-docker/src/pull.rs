//! Making an image available under its effective pull policies (executors.md §7.2).

use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;
use runner_executor::TraceWriter;

use crate::auth::credentials_for;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::policy::{PullPolicy, join};
use crate::settings::RegistryAuth;

/// Makes `image` present according to `policies` (tried in order) and returns the image id to
/// create containers from.
pub(crate) async fn ensure_image(
    engine: &Engine,
    image: &str,
    policies: &[PullPolicy],
    auth: &RegistryAuth,
    trace: &mut TraceWriter,
) -> Result<String> {
    trace
        .plain(&format!(
            "Using effective pull policy of [{}] for container {image}",
            join(policies)
        ))
        .await;
    let mut last_error = String::new();
    for (index, policy) in policies.iter().enumerate() {
        if index > 0 {
            trace
                .plain(&format!(
                    "Attempt #{}: Trying \"{policy}\" pull policy",
                    index + 1
                ))
                .await;
        }
        let local = engine.docker.inspect_image(image).await;
        let outcome = match (policy, local) {
            (PullPolicy::Never, Ok(found)) => Ok(found),
            (
                PullPolicy::Never,
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }),
            ) => {
                // The Go client's wording for a missing object, which upstream prints.
                Err(format!("Error: No such image: {image}"))
            }
            (PullPolicy::Never, Err(error)) => Err(daemon_message(&error)),
            (PullPolicy::IfNotPresent, Ok(found)) => {
                trace
                    .plain(
                        "Using locally found image version due to \"if-not-present\" pull policy",
                    )
                    .await;
                Ok(found)
            }
            (_, _) => pull(engine, image, auth, trace).await,
        };
        match outcome {
            Ok(found) => {
                let id = found.id.unwrap_or_else(|| image.to_owned());
                let digest = found.repo_digests.unwrap_or_default().into_iter().next();
                match digest {
                    Some(digest) => {
                        let digest = digest
                            .rsplit_once('@')
                            .map_or(digest.as_str(), |(_, d)| d)
                            .to_owned();
                        trace
                            .plain(&format!(
                                "Using docker image {id} for {image} with digest {digest} ..."
                            ))
                            .await;
                    }
                    None => {
                        trace
                            .plain(&format!("Using docker image {id} for {image} ..."))
                            .await
                    }
                }
                return Ok(id);
            }
            Err(message) => {
                if policies.len() > 1 || *policy != PullPolicy::Never {
                    trace
                        .warning(&format!(
                            "Failed to pull image with policy \"{policy}\": {message}"
                        ))
                        .await;
                }
                last_error = message;
            }
        }
    }
    Err(classify(image, policies, last_error))
}

async fn pull(
    engine: &Engine,
    image: &str,
    auth: &RegistryAuth,
    trace: &mut TraceWriter,
) -> Result<bollard::models::ImageInspect, String> {
    let reference = with_default_tag(image);
    trace
        .plain(&format!("Pulling docker image {reference} ..."))
        .await;
    let credentials = credentials_for(&reference, auth);
    if let Some(chosen) = &credentials {
        trace
            .plain(&format!(
                "Authenticating with credentials from {}",
                chosen.source
            ))
            .await;
    }
    let options = CreateImageOptionsBuilder::default()
        .from_image(&reference)
        .build();
    let mut stream =
        engine
            .docker
            .create_image(Some(options), None, credentials.map(|c| c.credentials));
    while let Some(progress) = stream.next().await {
        if let Err(error) = progress {
            return Err(daemon_message(&error));
        }
    }
    engine
        .docker
        .inspect_image(&reference)
        .await
        .map_err(|error| daemon_message(&error))
}

/// `name` with `:latest` appended when it has neither tag nor digest.
pub(crate) fn with_default_tag(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || image.contains('@') {
        image.to_owned()
    } else {
        format!("{image}:latest")
    }
}

/// The engine's wording, as the Go client prints it.
pub(crate) fn daemon_message(error: &bollard::errors::Error) -> String {
    match error {
        bollard::errors::Error::DockerResponseServerError { message, .. } => {
            format!("Error response from daemon: {message}")
        }
        bollard::errors::Error::DockerStreamError { error } => error.clone(),
        other => other.to_string(),
    }
}

/// Sorts a pull failure by its text, as upstream does (§7.2).
fn classify(image: &str, policies: &[PullPolicy], cause: String) -> Error {
    let lower = cause.to_ascii_lowercase();
    let any = |needles: &[&str]| needles.iter().any(|needle| lower.contains(needle));
    let policies = join(policies);
    let image = image.to_owned();
    if any(&[
        "pull access denied",
        "access to the resource is denied",
        "no basic auth credentials",
        "unauthorized",
        "authentication required",
    ]) {
        Error::PullDenied {
            image,
            policies,
            cause,
        }
    } else if any(&[
        "not found",
        "no such image",
        "manifest unknown",
        "repository does not exist or may require",
    ]) {
        Error::ImageNotFound {
            image,
            policies,
            cause,
        }
    } else {
        let network = any(&[
            "dial tcp",
            "connection refused",
            "no such host",
            "i/o timeout",
            "tls handshake",
            "client.timeout exceeded",
            "request canceled",
            "connection reset",
        ]);
        Error::PullFailed {
            image,
            policies,
            cause,
            network,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_tag() {
        assert_eq!(with_default_tag("alpine"), "alpine:latest");
        assert_eq!(
            with_default_tag("127.0.0.1:5000/x/y"),
            "127.0.0.1:5000/x/y:latest"
        );
        assert_eq!(with_default_tag("a/b:1"), "a/b:1");
        assert_eq!(with_default_tag("a@sha256:00"), "a@sha256:00");
    }

    #[test]
    fn classification() {
        let policies = [PullPolicy::Always];
        assert!(matches!(
            classify(
                "a",
                &policies,
                "Error response from daemon: manifest unknown".to_owned()
            ),
            Error::ImageNotFound { .. }
        ));
        assert!(matches!(
            classify(
                "a",
                &policies,
                "Error response from daemon: pull access denied for a".to_owned()
            ),
            Error::PullDenied { .. }
        ));
        assert!(matches!(
            classify(
                "a",
                &policies,
                "dial tcp 127.0.0.1:1: connection refused".to_owned()
            ),
            Error::PullFailed { network: true, .. }
        ));
    }
}
