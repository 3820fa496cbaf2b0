//! The HTTP side of the local coordinator: the accept loop and the four job endpoints.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use runner_api::multipart::{FilePart, file_part};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{FinalState, Shared, dotenv};

type Reply = Response<Full<Bytes>>;

/// Accepts connections until `stop`; each connection is a task of `tasks` that ends
/// gracefully once `stop` fires.
pub(super) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    stop: CancellationToken,
    tasks: TaskTracker,
) {
    loop {
        let stream = tokio::select! {
            biased;
            () = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::debug!(%error, "local coordinator: accept failed");
                    continue;
                }
            },
        };
        let shared = Arc::clone(&shared);
        let stop = stop.clone();
        tasks.spawn(async move {
            let service = service_fn(move |request| handle(Arc::clone(&shared), request));
            let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                biased;
                () = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "local coordinator: connection ended");
                    }
                }
            }
        });
    }
}

async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Result<Reply, Infallible> {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Ok(reply(StatusCode::BAD_REQUEST, "")),
    };
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
    };
    let Some((job_id, tail)) = job_path(parts.uri.path()) else {
        return Ok(reply(StatusCode::NOT_FOUND, ""));
    };
    if !shared.state().jobs.contains_key(&job_id) {
        return Ok(reply(StatusCode::NOT_FOUND, ""));
    }
    if header("job-token") != Some(shared.job_token.as_str()) {
        return Ok(reply(StatusCode::FORBIDDEN, ""));
    }
    let answer = match (&parts.method, tail) {
        (&Method::PUT, "") => update_job(&shared, job_id, &body),
        (&Method::PATCH, "trace") => patch_trace(&shared, job_id, header("content-range"), &body),
        (&Method::POST, "artifacts") => {
            let artifact_type = parts
                .uri
                .query()
                .and_then(|query| {
                    url::form_urlencoded::parse(query.as_bytes())
                        .find(|(name, _)| name == "artifact_type")
                        .map(|(_, value)| value.into_owned())
                })
                .unwrap_or_default();
            upload_artifacts(
                &shared,
                job_id,
                &artifact_type,
                header("content-type"),
                &body,
            )
            .await
        }
        (&Method::GET, "artifacts") => download_artifacts(&shared, job_id).await,
        _ => reply(StatusCode::NOT_FOUND, ""),
    };
    Ok(answer)
}

/// `(id, rest)` of `/api/v4/jobs/<id>[/<rest>]`.
fn job_path(path: &str) -> Option<(u64, &str)> {
    let rest = path.strip_prefix("/api/v4/jobs/")?;
    let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
    Some((id.parse().ok()?, tail))
}

/// `PUT jobs/:id`: the commit (`running`), keep-alives and the final state.
fn update_job(shared: &Shared, job_id: u64, body: &[u8]) -> Reply {
    let Ok(update) = serde_json::from_slice::<serde_json::Value>(body) else {
        return reply(StatusCode::BAD_REQUEST, "invalid json");
    };
    let state = update["state"].as_str().unwrap_or("").to_owned();
    if state == "success" || state == "failed" {
        let mut guard = shared.state();
        if let Some(job) = guard.jobs.get_mut(&job_id) {
            job.final_state = Some(FinalState {
                state: state.clone(),
                failure_reason: update["failure_reason"].as_str().map(str::to_owned),
                exit_code: update["exit_code"].as_i64(),
            });
        }
    }
    let job_status = if state.is_empty() { "running" } else { &state };
    with_header(reply(StatusCode::OK, ""), "job-status", job_status)
}

/// `PATCH jobs/:id/trace`: appends the slice when it starts where the trace ends.
fn patch_trace(shared: &Shared, job_id: u64, content_range: Option<&str>, body: &[u8]) -> Reply {
    let Some((start, end)) = content_range.and_then(parse_content_range) else {
        return reply(StatusCode::BAD_REQUEST, "missing or invalid Content-Range");
    };
    if end + 1 - start != body.len() as u64 {
        return reply(
            StatusCode::BAD_REQUEST,
            "Content-Range does not match the body length",
        );
    }
    let mut guard = shared.state();
    let Some(job) = guard.jobs.get_mut(&job_id) else {
        return reply(StatusCode::NOT_FOUND, "");
    };
    let stored = job.trace_len;
    if start != stored {
        return with_header(
            reply(StatusCode::RANGE_NOT_SATISFIABLE, ""),
            "range",
            &format!("0-{stored}"),
        );
    }
    job.trace_len = end + 1;
    guard.print(job_id, body);
    let response = with_header(
        reply(StatusCode::ACCEPTED, ""),
        "range",
        &format!("0-{}", end + 1),
    );
    let response = with_header(response, "job-status", "running");
    // One second, the shortest interval the header can say: the trace shows up live.
    with_header(response, "x-gitlab-trace-update-interval", "1")
}

/// `POST jobs/:id/artifacts`: keeps the multipart part `file` as the job's archive, reads
/// a `dotenv` report's variables, and accepts other reports without keeping them (no later
/// job downloads a report).
async fn upload_artifacts(
    shared: &Shared,
    job_id: u64,
    artifact_type: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Reply {
    let Some(FilePart { data, .. }) =
        content_type.and_then(|content_type| file_part(content_type, body))
    else {
        return reply(StatusCode::BAD_REQUEST, "missing multipart part file");
    };
    match artifact_type {
        "" | "archive" => {}
        "dotenv" => match dotenv::parse(data) {
            Ok(variables) => {
                if let Some(job) = shared.state().jobs.get_mut(&job_id) {
                    job.dotenv = variables;
                }
                return created();
            }
            Err(message) => {
                // GitLab rejects the upload; say why, since the runner only shows the status.
                tracing::error!(
                    job_id,
                    "the artifacts:reports:dotenv upload is refused: {message}"
                );
                return reply(StatusCode::BAD_REQUEST, &message);
            }
        },
        _ => return created(),
    }
    let path = shared.storage.join(format!("job-{job_id}-artifacts"));
    if let Err(error) = tokio::fs::write(&path, data).await {
        tracing::error!(%error, path = %path.display(), "local coordinator: could not store artifacts");
        return reply(StatusCode::INTERNAL_SERVER_ERROR, "");
    }
    if let Some(job) = shared.state().jobs.get_mut(&job_id) {
        job.artifacts = Some(path);
    }
    created()
}

/// `201 {}`, as GitLab answers an accepted upload.
fn created() -> Reply {
    let mut response = reply(StatusCode::CREATED, "{}");
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// `GET jobs/:id/artifacts`: the job's archive, 404 when it uploaded none.
async fn download_artifacts(shared: &Shared, job_id: u64) -> Reply {
    let path = shared
        .state()
        .jobs
        .get(&job_id)
        .and_then(|job| job.artifacts.clone());
    let Some(path) = path else {
        return reply(StatusCode::NOT_FOUND, "");
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => Response::new(Full::new(Bytes::from(bytes))),
        Err(_) => reply(StatusCode::NOT_FOUND, ""),
    }
}

/// `<start>-<end>`, inclusive, as the runner sends it.
fn parse_content_range(value: &str) -> Option<(u64, u64)> {
    let (start, end) = value.trim().split_once('-')?;
    let (start, end): (u64, u64) = (start.parse().ok()?, end.parse().ok()?);
    (end >= start).then_some((start, end))
}

fn reply(status: StatusCode, body: &str) -> Reply {
    let mut response = Response::new(Full::new(Bytes::copy_from_slice(body.as_bytes())));
    *response.status_mut() = status;
    response
}

fn with_header(mut response: Reply, name: &'static str, value: &str) -> Reply {
    if let Ok(value) = http::HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
    response
}
