//! Starting the pod at the first stage: the job's namespace (`namespace_per_job`), the
//! credentials secret, the pod (a 409 is resolved by GET), then waiting for it to run (K1, K2).

use std::sync::Arc;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::error::{Error, Result};
use crate::executor::Session;
use runner_executor::TraceWriter;

/// Creates the secret and the pod (409 resolved by GET), then waits for it to run.
pub(crate) async fn start_pod(session: &mut Session, trace: &mut TraceWriter) -> Result<()> {
    let timeout = session.settings.request_timeout;
    if let Some(namespaces) = &session.own_namespace {
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(session.namespace.clone()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        match crate::error::deadline(timeout, namespaces.create(&Default::default(), &namespace))
            .await
        {
            // A retried job finds its namespace already there.
            Ok(_) => {}
            Err(error) if error.is_already_exists() => {}
            Err(error) => return Err(Error::Namespace(error)),
        }
    }
    if let Some(secret) = &session.secret {
        let created =
            crate::error::deadline(timeout, session.secrets.create(&Default::default(), secret))
                .await;
        match created {
            Ok(_) => {}
            Err(error) if error.is_already_exists() => {
                let name = session.pod_name.clone();
                crate::error::deadline(timeout, session.secrets.get(&name))
                    .await
                    .map_err(Error::Credentials)?;
            }
            Err(error) => return Err(Error::Credentials(error)),
        }
    }
    match crate::error::deadline(
        timeout,
        session.pods.create(&Default::default(), &session.pod),
    )
    .await
    {
        Ok(_) => {}
        Err(error) if error.is_already_exists() => {
            let name = session.pod_name.clone();
            crate::error::deadline(timeout, session.pods.get(&name))
                .await
                .map_err(Error::BuildPod)?;
        }
        Err(error) => return Err(Error::BuildPod(error)),
    }
    let settings = Arc::clone(&session.settings);
    crate::pod_status::wait_for_running(
        &session.pods,
        &session.namespace,
        &session.pod_name,
        settings.poll_interval,
        settings.poll_timeout,
        settings.request_timeout,
        trace,
    )
    .await
    .map_err(Error::WaitPodRunning)
}
