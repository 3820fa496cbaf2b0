//! One coordinator request: headers, body, per-attempt timeout and the retry loop (§13.1).

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use futures_util::TryStreamExt;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use http_body_util::{BodyExt, Full, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::{Frame, Incoming};
use url::Url;

use crate::backoff::Backoff;
use crate::client::{Client, ResponseEvent};
use crate::error::{BoxError, Error, Result, status_line};
use crate::retry::{MAX_ATTEMPTS, MAX_ATTEMPTS_RATE_LIMITED, is_retriable_status, server_wait};

/// The body type handed to hyper.
pub(crate) type RequestBody = UnsyncBoxBody<Bytes, BoxError>;

/// A request body that can be re-created for every attempt.
#[derive(Debug, Clone)]
pub(crate) enum BodySource {
    Empty,
    Bytes(Bytes),
    /// Several buffers sent back to back with a `Content-Length` (no copy into one buffer).
    Chunks(Vec<Bytes>),
    /// A multipart envelope around a file streamed from disk, with an exact length.
    FileBetween {
        prefix: Bytes,
        path: PathBuf,
        file_len: u64,
        suffix: Bytes,
    },
}

impl BodySource {
    pub(crate) fn len(&self) -> u64 {
        match self {
            Self::Empty => 0,
            Self::Bytes(bytes) => bytes.len() as u64,
            Self::Chunks(chunks) => chunks.iter().map(|chunk| chunk.len() as u64).sum(),
            Self::FileBetween {
                prefix,
                file_len,
                suffix,
                ..
            } => prefix.len() as u64 + file_len + suffix.len() as u64,
        }
    }

    async fn to_body(&self) -> Result<RequestBody> {
        Ok(match self {
            Self::Empty => Full::new(Bytes::new())
                .map_err(|never| match never {})
                .boxed_unsync(),
            Self::Bytes(bytes) => Full::new(bytes.clone())
                .map_err(|never| match never {})
                .boxed_unsync(),
            Self::Chunks(chunks) => {
                let frames = chunks
                    .clone()
                    .into_iter()
                    .map(|chunk| Ok::<_, BoxError>(Frame::data(chunk)));
                StreamBody::new(futures_util::stream::iter(frames)).boxed_unsync()
            }
            Self::FileBetween {
                prefix,
                path,
                file_len,
                suffix,
            } => {
                let file = tokio::fs::File::open(path)
                    .await
                    .map_err(|source| Error::Io {
                        path: path.clone(),
                        source,
                    })?;
                let limited = tokio::io::AsyncReadExt::take(file, *file_len);
                let file_stream = tokio_util::io::ReaderStream::with_capacity(limited, 256 * 1024);
                let stream =
                    futures_util::stream::once(std::future::ready(Ok::<Bytes, std::io::Error>(
                        prefix.clone(),
                    )))
                    .chain(file_stream)
                    .chain(futures_util::stream::once(std::future::ready(Ok(
                        suffix.clone()
                    ))))
                    .map_ok(Frame::data)
                    .map_err(|error| Box::new(error) as BoxError);
                StreamBody::new(stream).boxed_unsync()
            }
        })
    }
}

use futures_util::StreamExt as _;

/// A request description, replayed for every attempt.
#[derive(Debug, Clone)]
pub(crate) struct ApiRequest {
    pub(crate) endpoint: &'static str,
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
    pub(crate) body: BodySource,
    pub(crate) timeout: Duration,
    /// Follow `Location` on 301/302/303/307/308 within each attempt, as the reference's
    /// HTTP client does (§1.4); off where the caller handles redirects itself.
    pub(crate) follow_redirects: bool,
}

impl ApiRequest {
    pub(crate) fn new(endpoint: &'static str, method: Method, url: Url, timeout: Duration) -> Self {
        Self {
            endpoint,
            method,
            url,
            headers: HeaderMap::new(),
            body: BodySource::Empty,
            timeout,
            follow_redirects: true,
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: &str) -> Result<Self> {
        let value = HeaderValue::from_str(value).map_err(|_| Error::InvalidUrl {
            url: self.url.to_string(),
            reason: format!("invalid value for header {name}"),
        })?;
        self.headers.insert(HeaderName::from_static(name), value);
        Ok(self)
    }

    /// A secret header (token): marked sensitive so it is never printed.
    pub(crate) fn secret_header(self, name: &'static str, value: &str) -> Result<Self> {
        let mut request = self.header(name, value)?;
        if let Some(value) = request.headers.get_mut(name) {
            value.set_sensitive(true);
        }
        Ok(request)
    }

    pub(crate) fn json(mut self, value: &impl serde::Serialize) -> Result<Self> {
        let bytes = serde_json::to_vec(value).map_err(|source| Error::Decode {
            endpoint: self.endpoint,
            source: Box::new(source),
        })?;
        self.body = BodySource::Bytes(Bytes::from(bytes));
        self.header("content-type", "application/json")
    }
}

/// A response with its whole body.
#[derive(Debug)]
pub(crate) struct ApiResponse {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl ApiResponse {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Whether the media type is exactly `application/json` (parameters allowed).
    pub(crate) fn is_json(&self) -> bool {
        self.header("content-type")
            .and_then(|value| value.split(';').next())
            .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
    }

    pub(crate) fn decode<T: serde::de::DeserializeOwned>(
        &self,
        endpoint: &'static str,
    ) -> Result<T> {
        if !self.is_json() {
            return Err(Error::Decode {
                endpoint,
                source: "response is not application/json".into(),
            });
        }
        serde_json::from_slice(&self.body).map_err(|source| Error::Decode {
            endpoint,
            source: Box::new(source),
        })
    }

    /// The server's message rendered as the reference does (§1.3).
    pub(crate) fn message(&self) -> Option<String> {
        render_message(&self.body, self.status)
    }

    /// An error for an unexpected status.
    pub(crate) fn into_error(self, endpoint: &'static str) -> Error {
        let message = self.message();
        match self.status {
            403 => Error::Forbidden { endpoint, message },
            404 => Error::NotFound { endpoint, message },
            status => Error::Status {
                endpoint,
                status,
                message,
            },
        }
    }
}

/// Renders `{"message": "text" | {field: [values]}}` as `field: v1; v2, field2: v3`;
/// a message equal to the status text is dropped.
pub(crate) fn render_message(body: &[u8], status: u16) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let message = value.get("message")?;
    let text = match message {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Object(fields) => fields
            .iter()
            .map(|(field, values)| {
                let rendered = match values {
                    serde_json::Value::Array(items) => items
                        .iter()
                        .map(|item| {
                            item.as_str()
                                .map_or_else(|| item.to_string(), str::to_owned)
                        })
                        .collect::<Vec<_>>()
                        .join("; "),
                    other => other
                        .as_str()
                        .map_or_else(|| other.to_string(), str::to_owned),
                };
                format!("{field}: {rendered}")
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => return None,
    };
    let status_text = status_line(status);
    (text != status_text
        && Some(text.as_str()) != status_text.split_once(' ').map(|(_, reason)| reason))
    .then_some(text)
}

impl Client {
    /// Sends `request` with retries and reads the whole body.
    pub(crate) async fn send(&self, request: &ApiRequest) -> Result<ApiResponse> {
        let response = self.send_streaming(request, true).await?;
        let (parts, body) = response.into_parts();
        let collected = tokio::time::timeout(request.timeout, body.collect())
            .await
            .map_err(|_| self.timeout_error(request))?
            .map_err(|source| self.connect_error(request, Box::new(source)))?;
        Ok(ApiResponse {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: collected.to_bytes(),
        })
    }

    /// Sends `request`, retrying retriable statuses when `retry` is set; the body is left unread.
    pub(crate) async fn send_streaming(
        &self,
        request: &ApiRequest,
        retry: bool,
    ) -> Result<http::Response<Incoming>> {
        let mut backoff_step = 0u32;
        let mut attempt = 1u32;
        loop {
            let response = self.attempt(request, attempt).await?;
            let status = response.status().as_u16();
            let limit = if status == 429 {
                MAX_ATTEMPTS_RATE_LIMITED
            } else {
                MAX_ATTEMPTS
            };
            if !retry || !is_retriable_status(status) {
                return Ok(response);
            }
            if attempt >= limit {
                tracing::warn!(endpoint = request.endpoint, method = %request.method, url = %request.url,
                    status = %status_line(status), attempts = attempt, "giving up: last response still asks to retry");
                return Ok(response);
            }
            let wait = server_wait(response.headers(), self.inner.clock.now_system())
                .unwrap_or_else(|| {
                    let wait = Backoff::HTTP.delay(backoff_step, (self.inner.jitter)());
                    backoff_step = backoff_step.saturating_add(1);
                    wait
                });
            drop(response);
            tracing::info!(context = "ratelimit-requester-gitlab-request", url = %request.url, method = %request.method,
                duration = ?wait, "Waiting before making the next call");
            tokio::select! {
                biased;
                () = self.inner.shutdown.cancelled() => return Err(Error::Cancelled),
                () = self.inner.clock.sleep(wait) => {}
            }
            attempt += 1;
        }
    }

    /// One attempt: the request, then up to [`MAX_REDIRECTS`] redirects (§1.4). A 307/308
    /// re-sends the method and body (every body can be re-created); a 301/302/303 turns a
    /// request other than GET/HEAD into a GET without body. Credentials (`JOB-TOKEN`,
    /// `RUNNER-TOKEN`, `PRIVATE-TOKEN`) are not sent to another host (§18.2 quirk 12, Beyond).
    async fn attempt(
        &self,
        request: &ApiRequest,
        attempt: u32,
    ) -> Result<http::Response<Incoming>> {
        let mut response = self.attempt_once(request, attempt).await?;
        if !request.follow_redirects {
            return Ok(response);
        }
        let mut current = std::borrow::Cow::Borrowed(request);
        for _hop in 0..MAX_REDIRECTS {
            let Some(next) = redirected(&current, &response, &request.url) else {
                return Ok(response);
            };
            drop(response);
            tracing::debug!(endpoint = request.endpoint, from = %current.url, to = %next.url,
                method = %next.method, "following redirect");
            current = std::borrow::Cow::Owned(next);
            response = self.attempt_once(&current, attempt).await?;
        }
        if redirected(&current, &response, &request.url).is_some() {
            return Err(Error::Redirect {
                url: current.url.to_string(),
            });
        }
        Ok(response)
    }

    async fn attempt_once(
        &self,
        request: &ApiRequest,
        attempt: u32,
    ) -> Result<http::Response<Incoming>> {
        let uri: http::Uri = request
            .url
            .as_str()
            .parse()
            .map_err(|_| Error::InvalidUrl {
                url: request.url.to_string(),
                reason: "not a valid request uri".to_owned(),
            })?;
        let mut builder = http::Request::builder()
            .method(request.method.clone())
            .uri(&uri);
        let headers = builder.headers_mut().ok_or_else(|| Error::InvalidUrl {
            url: request.url.to_string(),
            reason: "invalid request".to_owned(),
        })?;
        headers.extend(request.headers.clone());
        headers.insert(http::header::USER_AGENT, self.inner.user_agent.clone());
        headers.insert(HeaderName::from_static("x-request-id"), new_request_id());
        if let BodySource::FileBetween { .. } | BodySource::Chunks(_) = request.body {
            headers.insert(
                http::header::CONTENT_LENGTH,
                HeaderValue::from(request.body.len()),
            );
        }
        let connections = self.inner.pool.connections(self.inner.clock.now());
        if let Some(authorization) = connections.connector.proxy_authorization(&uri) {
            headers.insert(http::header::PROXY_AUTHORIZATION, authorization);
        }
        let body = request.body.to_body().await?;
        let started = std::time::Instant::now();
        let http_request = builder
            .body(body)
            .map_err(|source| self.connect_error(request, Box::new(source)))?;
        let sent =
            tokio::time::timeout(request.timeout, connections.http.request(http_request)).await;
        let outcome = match sent {
            Err(_) => Err(self.timeout_error(request)),
            Ok(Err(source)) => Err(self.connect_error(request, Box::new(source))),
            Ok(Ok(response)) => Ok(response),
        };
        let status = outcome
            .as_ref()
            .ok()
            .map(|response| response.status().as_u16());
        if let Some(observer) = &self.inner.observer {
            observer(&ResponseEvent {
                endpoint: request.endpoint,
                method: method_name(&request.method),
                status,
                attempt,
                elapsed: started.elapsed(),
            });
        }
        if let Ok(response) = &outcome {
            let correlation_id = response
                .headers()
                .get("x-request-id")
                .and_then(|value| value.to_str().ok())
                .unwrap_or("");
            tracing::debug!(endpoint = request.endpoint, method = %request.method, url = %request.url,
                status = %status_line(response.status().as_u16()), correlation_id, attempt, "coordinator response");
        }
        outcome
    }

    fn timeout_error(&self, request: &ApiRequest) -> Error {
        Error::Timeout {
            method: request.method.to_string(),
            url: request.url.to_string(),
            after: request.timeout,
        }
    }

    fn connect_error(&self, request: &ApiRequest, source: BoxError) -> Error {
        Error::Connect {
            method: request.method.to_string(),
            url: request.url.to_string(),
            source,
        }
    }
}

/// How many redirects one attempt follows, as the reference's HTTP client.
const MAX_REDIRECTS: usize = 10;

/// Request headers that carry credentials.
const CREDENTIAL_HEADERS: [&str; 3] = ["job-token", "runner-token", "private-token"];

/// The request to send after `response` to `current`, or `None` when `response` is not a
/// redirect that can be followed (another status, no `Location`, not http(s)).
fn redirected(
    current: &ApiRequest,
    response: &http::Response<Incoming>,
    original: &Url,
) -> Option<ApiRequest> {
    let status = response.status().as_u16();
    if !matches!(status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = response
        .headers()
        .get(http::header::LOCATION)?
        .to_str()
        .ok()?;
    let url = current.url.join(location).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let mut next = current.clone();
    if status != 307 && status != 308 && next.method != Method::GET && next.method != Method::HEAD {
        next.method = Method::GET;
        next.body = BodySource::Empty;
        next.headers.remove(http::header::CONTENT_TYPE);
    }
    // Same host (any scheme or port, so an http -> https upgrade keeps them): credentials
    // stay; another host, e.g. object storage, never sees them.
    let same_host = url
        .host_str()
        .zip(original.host_str())
        .is_some_and(|(to, from)| to.eq_ignore_ascii_case(from));
    if !same_host {
        for name in CREDENTIAL_HEADERS {
            next.headers.remove(name);
        }
    }
    next.url = url;
    Some(next)
}

fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "OTHER",
    }
}

/// A fresh correlation id: 32 lowercase hex digits.
fn new_request_id() -> HeaderValue {
    let value: u128 = rand::random();
    HeaderValue::from_str(&format!("{value:032x}"))
        .unwrap_or_else(|_| HeaderValue::from_static("0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_64_field_messages_are_flattened() {
        let body = br#"{"message":{"runner_projects.base":["Maximum number of ci registered project runners (3) exceeded"]}}"#;
        assert_eq!(
            render_message(body, 400).as_deref(),
            Some(
                "runner_projects.base: Maximum number of ci registered project runners (3) exceeded"
            )
        );
        let error = Error::Status {
            endpoint: "register_runner",
            status: 400,
            message: render_message(body, 400),
        };
        assert_eq!(
            error.to_string(),
            "register_runner: 400 Bad Request (runner_projects.base: Maximum number of ci registered project runners (3) exceeded)"
        );
    }

    #[test]
    fn message_equal_to_status_text_is_dropped() {
        assert_eq!(render_message(br#"{"message":"403 Forbidden"}"#, 403), None);
        assert_eq!(
            render_message(br#"{"message":"duplicate variables"}"#, 400).as_deref(),
            Some("duplicate variables")
        );
        assert_eq!(render_message(b"<html>", 500), None);
    }
}
