//! Cleanup (K3): delete the pod (propagation `Background`, `cleanup_grace_period_seconds`), the
//! credentials secret and, with `namespace_per_job`, the job's namespace, under
//! `cleanup_resources_timeout`. Failures are written to the trace as `Error cleaning up pod:
//! <cause>`, `Error cleaning up secrets: <cause>` or `Error tearing down namespace: <cause>` and
//! never change the job result; an object that is already gone is not an error.

use kube::api::{DeleteParams, PropagationPolicy};
use runner_executor::TraceWriter;

use crate::error::ApiError;
use crate::executor::Session;

/// Deletes what the session created. Runs on every path.
pub(crate) async fn cleanup(session: &Session, trace: &mut TraceWriter) {
    let settings = session.settings();
    let deadline = tokio::time::Instant::now() + settings.cleanup_resources_timeout;
    if session.is_started() {
        let params = DeleteParams {
            grace_period_seconds: settings
                .cleanup_grace_period_seconds
                .and_then(|s| u32::try_from(s).ok()),
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteParams::default()
        };
        let deleted = until(deadline, session.pods().delete(session.pod_name(), &params)).await;
        report(trace, "Error cleaning up pod", deleted).await;
    }
    if let Some(secret) = session.secret_name().filter(|_| session.is_started()) {
        let deleted = until(
            deadline,
            session.secrets().delete(secret, &DeleteParams::default()),
        )
        .await;
        report(trace, "Error cleaning up secrets", deleted).await;
    }
    if let Some(namespaces) = session.own_namespace().filter(|_| session.is_started()) {
        let deleted = until(
            deadline,
            namespaces.delete(session.namespace(), &DeleteParams::default()),
        )
        .await;
        report(trace, "Error tearing down namespace", deleted).await;
    }
}

async fn until<T>(
    deadline: tokio::time::Instant,
    call: impl std::future::Future<Output = Result<T, kube::Error>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout_at(deadline, call).await {
        Ok(result) => result.map_err(ApiError::from_kube),
        Err(_elapsed) => Err(ApiError::deadline_exceeded()),
    }
}

async fn report<T>(trace: &mut TraceWriter, what: &str, result: Result<T, ApiError>) {
    match result {
        Ok(_) => {}
        Err(error) if error.is_not_found() => {}
        Err(error) => {
            tracing::warn!(error = %error, "{what}");
            trace.error(&format!("{what}: {error}")).await;
        }
    }
}
