//! Request handling of the fake coordinator.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

use crate::fake::server::Shared;
use crate::fake::state::{CancelState, Endpoint, JobUpdateRecord, RecordedRequest, StoredArtifact};

type Reply = Response<Full<Bytes>>;

pub(crate) async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Reply, Infallible> {
    let (parts, mut incoming) = request.into_parts();
    let mut frames = Vec::new();
    while let Some(Ok(frame)) = incoming.frame().await {
        if let Ok(data) = frame.into_data() {
            frames.push(data);
        }
    }
    let path = parts.uri.path().to_owned();
    let endpoint = classify(&parts.method, &path);
    // Trace bytes are kept as received frames so large logs are not copied again.
    let body = if endpoint == Endpoint::PatchTrace {
        Bytes::new()
    } else {
        Bytes::from(frames.concat())
    };
    let fault = {
        let mut data = shared.data();
        *data.counts.entry(endpoint).or_default() += 1;
        data.requests.push(RecordedRequest {
            endpoint,
            method: parts.method.to_string(),
            path_and_query: parts
                .uri
                .path_and_query()
                .map(ToString::to_string)
                .unwrap_or_default(),
            headers: parts.headers.clone(),
            body: body.clone(),
            at: tokio::time::Instant::now(),
        });
        data.faults
            .get_mut(&endpoint)
            .and_then(std::collections::VecDeque::pop_front)
    };
    shared.changed.notify_waiters();
    if let Some(fault) = fault {
        let mut response = Response::builder().status(fault.status);
        for (name, value) in &fault.headers {
            response = response.header(name, value);
        }
        return Ok(response
            .body(Full::new(Bytes::from(fault.body)))
            .unwrap_or_else(|_| reply(500, "")));
    }
    let context = Context {
        shared: &shared,
        headers: &parts.headers,
        body: &body,
        frames,
        path: &path,
    };
    let answer = match endpoint {
        Endpoint::Register => context.register(),
        Endpoint::Verify => context.verify(),
        Endpoint::UnregisterRunner | Endpoint::UnregisterManager => context.unregister(endpoint),
        Endpoint::ResetToken => context.reset_token(),
        Endpoint::RequestJob => context.request_job().await,
        Endpoint::UpdateJob => context.update_job(),
        Endpoint::PatchTrace => context.patch_trace(),
        Endpoint::UploadArtifacts => context.upload_artifacts(parts.uri.query().unwrap_or("")),
        Endpoint::DownloadArtifacts => context.download_artifacts(),
        Endpoint::Repo => context.static_file().await,
        Endpoint::Other => reply(404, ""),
    };
    shared.changed.notify_waiters();
    Ok(answer)
}

fn classify(method: &Method, path: &str) -> Endpoint {
    let job_path: Vec<&str> = path
        .strip_prefix("/api/v4/jobs/")
        .map(|rest| rest.split('/').collect())
        .unwrap_or_default();
    let is_job_id = job_path.first().is_some_and(|id| id.parse::<u64>().is_ok());
    match (method, path) {
        (&Method::POST, "/api/v4/runners") => Endpoint::Register,
        (&Method::POST, "/api/v4/runners/verify") => Endpoint::Verify,
        (&Method::DELETE, "/api/v4/runners") => Endpoint::UnregisterRunner,
        (&Method::DELETE, "/api/v4/runners/managers") => Endpoint::UnregisterManager,
        (&Method::POST, "/api/v4/runners/reset_authentication_token") => Endpoint::ResetToken,
        (&Method::POST, "/api/v4/jobs/request") => Endpoint::RequestJob,
        (&Method::GET, _) if path.starts_with("/repo/") => Endpoint::Repo,
        _ if is_job_id => match (method, job_path.as_slice()) {
            (&Method::PUT, [_]) => Endpoint::UpdateJob,
            (&Method::PATCH, [_, "trace"]) => Endpoint::PatchTrace,
            (&Method::POST, [_, "artifacts"]) => Endpoint::UploadArtifacts,
            (&Method::GET, [_, "artifacts"]) => Endpoint::DownloadArtifacts,
            _ => Endpoint::Other,
        },
        _ => Endpoint::Other,
    }
}

fn reply(status: u16, body: &str) -> Reply {
    bytes_reply(status, body.as_bytes().to_vec())
}

fn bytes_reply(status: u16, body: Vec<u8>) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
}

fn json_reply(status: u16, value: &serde_json::Value) -> Reply {
    json_bytes_reply(status, value.to_string().into_bytes())
}

fn json_bytes_reply(status: u16, body: Vec<u8>) -> Reply {
    let mut response = bytes_reply(status, body);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

fn with_header(mut response: Reply, name: &'static str, value: &str) -> Reply {
    if let Ok(value) = http::HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
    response
}

struct Context<'a> {
    shared: &'a Shared,
    headers: &'a HeaderMap,
    body: &'a Bytes,
    /// The body as received, for trace PATCHes.
    frames: Vec<Bytes>,
    path: &'a str,
}

impl Context<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    fn is_json(&self) -> bool {
        self.header("content-type")
            .is_some_and(|value| value.split(';').next() == Some("application/json"))
    }

    /// The JSON body, or a 400/415 answer when the body or its content type is wrong.
    fn json_body(&self) -> Result<serde_json::Value, Box<Reply>> {
        if !self.is_json() {
            return Err(Box::new(reply(
                415,
                "content type must be application/json",
            )));
        }
        serde_json::from_slice(self.body).map_err(|_| Box::new(reply(400, "invalid json")))
    }

    fn body_str(body: &serde_json::Value, key: &str) -> String {
        body.get(key)
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
            .to_owned()
    }

    /// Checks `RUNNER-TOKEN` and body `token` against the runner token.
    fn runner_authorized(&self, body: &serde_json::Value) -> bool {
        let expected = self.shared.data().runner_token.clone();
        self.header("runner-token") == Some(expected.as_str())
            && Self::body_str(body, "token") == expected
    }

    fn register(&self) -> Reply {
        let body = match self.json_body() {
            Ok(body) => body,
            Err(answer) => return *answer,
        };
        let expected = &self.shared.config.registration_token;
        if self.header("runner-token") != Some(expected.as_str())
            || Self::body_str(&body, "token") != *expected
        {
            return json_reply(403, &serde_json::json!({"message": "403 Forbidden"}));
        }
        let token = self.shared.data().runner_token.clone();
        json_reply(
            201,
            &serde_json::json!({"id": self.shared.config.runner_id, "token": token, "token_expires_at": null}),
        )
    }

    fn verify(&self) -> Reply {
        let body = match self.json_body() {
            Ok(body) => body,
            Err(answer) => return *answer,
        };
        if !self.runner_authorized(&body) {
            return json_reply(403, &serde_json::json!({"message": "403 Forbidden"}));
        }
        if Self::body_str(&body, "system_id").is_empty() || body.get("info").is_none() {
            return reply(400, "system_id and info are required");
        }
        let token = self.shared.data().runner_token.clone();
        json_reply(
            200,
            &serde_json::json!({"id": self.shared.config.runner_id, "token": token, "token_expires_at": null}),
        )
    }

    fn unregister(&self, endpoint: Endpoint) -> Reply {
        let body = match self.json_body() {
            Ok(body) => body,
            Err(answer) => return *answer,
        };
        if !self.runner_authorized(&body) {
            return reply(403, "");
        }
        if endpoint == Endpoint::UnregisterManager && body.get("system_id").is_none() {
            return reply(400, "system_id is required");
        }
        reply(204, "")
    }

    fn reset_token(&self) -> Reply {
        let body = match self.json_body() {
            Ok(body) => body,
            Err(answer) => return *answer,
        };
        let mut data = self.shared.data();
        if Self::body_str(&body, "token") != data.runner_token {
            return reply(403, "");
        }
        data.rotations += 1;
        data.runner_token = format!("glrt-fake-rotated-{}", data.rotations);
        json_reply(
            201,
            &serde_json::json!({"token": data.runner_token, "token_expires_at": null}),
        )
    }

    async fn request_job(&self) -> Reply {
        let body = match self.json_body() {
            Ok(body) => body,
            Err(answer) => return *answer,
        };
        if !self.runner_authorized(&body) {
            return reply(403, "");
        }
        if Self::body_str(&body, "system_id").is_empty() || body.get("info").is_none() {
            return reply(400, "system_id and info are required");
        }
        let deadline = tokio::time::Instant::now() + self.shared.config.long_poll;
        let _waiting = WaitingJobRequest::new(self.shared);
        loop {
            let notified = self.shared.queue_changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (job, version) = {
                let mut data = self.shared.data();
                let job = data.queue.pop_front().and_then(|id| {
                    data.jobs.get(&id).map(|job| match &job.raw_payload {
                        Some(raw) => raw.clone(),
                        None => job.payload.to_string().into_bytes(),
                    })
                });
                (job, data.queue_version)
            };
            if let Some(payload) = job {
                return json_bytes_reply(201, payload);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return with_header(
                    reply(204, ""),
                    "x-gitlab-last-update",
                    &format!("v{version}"),
                );
            }
        }
    }

    fn job_id(&self) -> u64 {
        self.path
            .trim_start_matches("/api/v4/jobs/")
            .split('/')
            .next()
            .and_then(|id| id.parse().ok())
            .unwrap_or(0)
    }

    fn with_job_headers(&self, response: Reply, job_status: &str) -> Reply {
        let response = with_header(response, "job-status", job_status);
        match self.shared.config.update_interval {
            Some(interval) => with_header(
                response,
                "x-gitlab-trace-update-interval",
                &interval.to_string(),
            ),
            None => response,
        }
    }

    fn update_job(&self) -> Reply {
        let body = match self.json_body() {
            Ok(body) => body,
            Err(answer) => return *answer,
        };
        let mut data = self.shared.data();
        let Some(job) = data.jobs.get_mut(&self.job_id()) else {
            return reply(404, "");
        };
        if self.header("job-token") != Some(job.token.as_str())
            || Self::body_str(&body, "token") != job.token
        {
            return reply(403, "");
        }
        if job.final_state.is_some() {
            return reply(403, "");
        }
        let state = Self::body_str(&body, "state");
        let output = body.get("output");
        job.updates.push(JobUpdateRecord {
            state: state.clone(),
            failure_reason: body
                .get("failure_reason")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
            exit_code: body.get("exit_code").and_then(serde_json::Value::as_i64),
            checksum: output
                .and_then(|output| output.get("checksum"))
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
            bytesize: output
                .and_then(|output| output.get("bytesize"))
                .and_then(serde_json::Value::as_u64),
            body: body.clone(),
        });
        let job_status = match job.cancel {
            CancelState::Canceled => "canceled",
            CancelState::Canceling if state == "running" => "canceling",
            _ => state.as_str(),
        };
        let job_status = job_status.to_owned();
        if state == "success" || state == "failed" {
            job.final_state = Some(state);
        }
        self.with_job_headers(reply(200, ""), &job_status)
    }

    fn patch_trace(self) -> Reply {
        if self
            .header("content-type")
            .map(|value| value.split(';').next())
            != Some(Some("text/plain"))
        {
            return reply(415, "content type must be text/plain");
        }
        let Some((start, end)) = self.header("content-range").and_then(parse_content_range) else {
            return reply(400, "Missing or invalid header Content-Range");
        };
        let length: u64 = self.frames.iter().map(|frame| frame.len() as u64).sum();
        if end + 1 - start != length {
            return reply(400, "Content-Range does not match the body length");
        }
        let job_id = self.job_id();
        let mut data = self.shared.data();
        let stored = data.trace_len(job_id);
        let Some(job) = data.jobs.get_mut(&job_id) else {
            return reply(404, "");
        };
        if self.header("job-token") != Some(job.token.as_str()) || job.final_state.is_some() {
            return reply(403, "");
        }
        if job.cancel == CancelState::Canceled {
            return self.with_job_headers(reply(202, ""), "canceled");
        }
        if start != stored {
            return with_header(reply(416, ""), "range", &format!("0-{stored}"));
        }
        job.patches.push((start, end));
        let status = if job.cancel == CancelState::Canceling {
            "canceling"
        } else {
            "running"
        };
        data.traces
            .entry(job_id)
            .or_default()
            .extend(self.frames.iter().cloned());
        drop(data);
        let response = with_header(reply(202, ""), "range", &format!("0-{}", stored + length));
        self.with_job_headers(response, status)
    }

    fn upload_artifacts(&self, query: &str) -> Reply {
        let is_chunked = self
            .header("transfer-encoding")
            .is_some_and(|value| value.to_ascii_lowercase().contains("chunked"));
        if is_chunked || self.header("content-length").is_none() {
            return reply(411, "411 Length Required");
        }
        let Some(crate::multipart::FilePart { filename, data }) = self
            .header("content-type")
            .and_then(|content_type| crate::multipart::file_part(content_type, self.body))
        else {
            return reply(400, "missing multipart part file");
        };
        let mut state = self.shared.data();
        let Some(job) = state.jobs.get_mut(&self.job_id()) else {
            return reply(404, "");
        };
        if self.header("job-token") != Some(job.token.as_str()) {
            return reply(403, "");
        }
        let query = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        job.artifacts.push(StoredArtifact {
            filename: filename.to_owned(),
            data: Bytes::copy_from_slice(data),
            query,
        });
        json_reply(201, &serde_json::json!({}))
    }

    fn download_artifacts(&self) -> Reply {
        let data = self.shared.data();
        let Some(job) = data.jobs.get(&self.job_id()) else {
            return reply(404, "");
        };
        if self.header("job-token") != Some(job.token.as_str()) {
            return reply(403, "");
        }
        match job.artifacts.last() {
            Some(artifact) => Response::new(Full::new(artifact.data.clone())),
            None => reply(404, ""),
        }
    }

    async fn static_file(&self) -> Reply {
        let Some(root) = &self.shared.config.static_dir else {
            return reply(404, "");
        };
        let relative = self.path.trim_start_matches("/repo/");
        if relative.split('/').any(|segment| {
            segment == ".." || segment.starts_with('.') && segment.len() > 1 && segment != ".git"
        }) {
            return reply(404, "");
        }
        match tokio::fs::read(root.join(relative)).await {
            Ok(bytes) => Response::new(Full::new(Bytes::from(bytes))),
            Err(_) => reply(404, ""),
        }
    }
}

/// Strict `<start>-<end>` (digits only, inclusive, `end >= start`).
fn parse_content_range(value: &str) -> Option<(u64, u64)> {
    let (start, end) = value.split_once('-')?;
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    if !digits(start) || !digits(end) {
        return None;
    }
    let (start, end) = (start.parse().ok()?, end.parse().ok()?);
    (end >= start).then_some((start, end))
}

/// Counts a `jobs/request` while its handler lives: until it answers, or until hyper drops it
/// because the runner hung up. A job popped by a handler whose runner is gone is lost, as with
/// GitLab; tests wait for this count to reach zero before queueing for a new runner process.
struct WaitingJobRequest<'a>(&'a Shared);

impl<'a> WaitingJobRequest<'a> {
    fn new(shared: &'a Shared) -> Self {
        shared.data().waiting_job_requests += 1;
        Self(shared)
    }
}

impl Drop for WaitingJobRequest<'_> {
    fn drop(&mut self) {
        let mut data = self.0.data();
        data.waiting_job_requests = data.waiting_job_requests.saturating_sub(1);
        drop(data);
        self.0.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_is_strict() {
        assert_eq!(parse_content_range("0-16"), Some((0, 16)));
        assert_eq!(parse_content_range("bytes 0-16"), None);
        assert_eq!(parse_content_range("0-16/17"), None);
        assert_eq!(parse_content_range("5-4"), None);
    }
}
