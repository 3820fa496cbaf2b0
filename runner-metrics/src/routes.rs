//! Request routing of the metrics server: upstream's paths, bodies and status codes.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, VARY};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::exposition::{self, Format};
use crate::job_tracker::{self, JobLister};
use crate::metrics::Metrics;
use crate::process_state::Lifecycle;
use crate::profile::{self, MAX_SECONDS, ProfileError};

const TEXT: &str = "text/plain; charset=utf-8";

/// What the server's endpoints read: the registry, the running jobs and the lifecycle.
/// Cloning is cheap; a re-bound server keeps serving the same state.
#[derive(Clone)]
pub struct ServerState {
    registry: Arc<Registry>,
    jobs: Arc<dyn JobLister>,
    lifecycle: Arc<Lifecycle>,
    /// Held while a CPU profile runs; the profiler is process-wide.
    profiling: Arc<tokio::sync::Mutex<()>>,
}

impl ServerState {
    /// Serves `registry` (filled by [`Metrics::new`]) with the jobs, process state and
    /// readiness recorded through `metrics`.
    pub fn new(registry: Registry, metrics: &Metrics) -> Self {
        Self {
            registry: Arc::new(registry),
            jobs: Arc::new(metrics.clone()),
            lifecycle: metrics.lifecycle(),
            profiling: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Replaces the source of `/debug/jobs/list`.
    #[must_use]
    pub fn with_job_lister(mut self, jobs: impl JobLister) -> Self {
        self.jobs = Arc::new(jobs);
        self
    }

    /// The served registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

impl std::fmt::Debug for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerState")
            .field("registry", &self.registry)
            .field("lifecycle", &self.lifecycle)
            .finish_non_exhaustive()
    }
}

/// Answers one request.
pub(crate) async fn handle<B>(
    request: Request<B>,
    state: &ServerState,
    cancel: &CancellationToken,
) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    match path {
        "/metrics" => metrics(&request, state),
        "/debug/jobs/list" => {
            let body = job_tracker::render_list(&state.jobs.list_jobs());
            let mut response = text(StatusCode::OK, body);
            response
                .headers_mut()
                .insert("X-List-Version", HeaderValue::from_static("2"));
            response
        }
        "/debug/process/state" => text(
            StatusCode::OK,
            format!("{}\n", state.lifecycle.state().as_str()),
        ),
        "/health/ready" if state.lifecycle.is_ready() => text(StatusCode::OK, "ready\n"),
        "/health/ready" => text(StatusCode::SERVICE_UNAVAILABLE, "boot-verify pending\n"),
        "/debug/pprof" | "/debug/pprof/" => pprof_index(),
        "/debug/pprof/profile" => cpu_profile(request.uri().query(), state, cancel).await,
        _ => text(StatusCode::NOT_FOUND, "404 page not found\n"),
    }
}

fn metrics<B>(request: &Request<B>, state: &ServerState) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    }
    let header = |name| request.headers().get(name).and_then(|v| v.to_str().ok());
    let format = Format::negotiate(header(ACCEPT));
    let body = match exposition::encode(&state.registry, format) {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(error = %error, "could not encode metrics");
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "could not encode metrics\n",
            );
        }
    };
    let gzip = header(ACCEPT_ENCODING).is_some_and(accepts_gzip);
    let (body, encoding) = match gzip.then(|| gzip_bytes(body.as_bytes())) {
        Some(Ok(compressed)) => (Bytes::from(compressed), Some("gzip")),
        _ => (Bytes::from(body), None),
    };
    let mut response = Response::new(Full::new(body));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert(VARY, HeaderValue::from_static("Accept, Accept-Encoding"));
    if let Some(encoding) = encoding {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    response
}

fn pprof_index() -> Response<Full<Bytes>> {
    let body = "<html><head><title>/debug/pprof/</title></head><body>\n\
                <p>Profiles of the gitlab-runner-rs process:</p>\n\
                <ul><li><a href=\"profile?seconds=30\">profile</a>: CPU profile \
                (gzipped profile.proto; <code>seconds</code> = 1..300, default 30), \
                readable with <code>go tool pprof</code>.</li></ul>\n\
                <p>The Go-specific profiles (goroutine, heap, allocs, block, mutex, \
                threadcreate, trace) do not exist in this runner.</p>\n</body></html>\n";
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

async fn cpu_profile(
    query: Option<&str>,
    state: &ServerState,
    cancel: &CancellationToken,
) -> Response<Full<Bytes>> {
    let seconds = match profile_seconds(query) {
        Ok(seconds) => seconds,
        Err(message) => return text(StatusCode::BAD_REQUEST, message),
    };
    let Ok(_busy) = state.profiling.try_lock() else {
        return text(
            StatusCode::CONFLICT,
            "a CPU profile is already being taken\n",
        );
    };
    match profile::cpu_profile(Duration::from_secs(seconds), cancel.clone()).await {
        Ok(bytes) => {
            let mut response = Response::new(Full::new(Bytes::from(bytes)));
            let headers = response.headers_mut();
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            headers.insert(
                "Content-Disposition",
                HeaderValue::from_static("attachment; filename=\"profile\""),
            );
            response
        }
        Err(ProfileError::Cancelled) => text(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n"),
        Err(error) => {
            tracing::warn!(error = %error, "cpu profile failed");
            text(StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n"))
        }
    }
}

/// `seconds` of the query string: default 30, 1..=300.
fn profile_seconds(query: Option<&str>) -> Result<u64, String> {
    let value = query
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("seconds="));
    match value {
        None => Ok(30),
        Some(value) => match value.parse::<u64>() {
            Ok(seconds @ 1..=MAX_SECONDS) => Ok(seconds),
            _ => Err(format!(
                "invalid seconds {value:?}: expected a whole number from 1 to {MAX_SECONDS}\n"
            )),
        },
    }
}

/// True when `Accept-Encoding` lists gzip (or `*`) with a non-zero quality.
fn accepts_gzip(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or_default();
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

fn gzip_bytes(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data)?;
    encoder.finish()
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(TEXT));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("deflate, gzip;q=1.0, *;q=0.5"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("identity"));
    }

    #[test]
    fn profile_seconds_bounds() {
        assert_eq!(profile_seconds(None), Ok(30));
        assert_eq!(profile_seconds(Some("debug=1&seconds=5")), Ok(5));
        assert!(profile_seconds(Some("seconds=0")).is_err());
        assert!(profile_seconds(Some("seconds=301")).is_err());
        assert!(profile_seconds(Some("seconds=abc")).is_err());
    }
}
