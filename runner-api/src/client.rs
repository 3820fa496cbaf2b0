//! [`ClientBuilder`] and [`Client`]: one connection pool per coordinator URL and TLS files.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::HeaderValue;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::clock::{Clock, TokioClock};
use crate::error::{Error, Result};
use crate::transport::{Pool, PoolSettings, ProxySettings, TlsFiles};

/// The reference's `connection_max_age` when the config names none.
const DEFAULT_CONNECTION_MAX_AGE: Duration = Duration::from_secs(15 * 60);

/// One HTTP exchange seen by the client, reported to the observer set with
/// [`ClientBuilder::on_response`] (for example to count requests in metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseEvent {
    /// Endpoint name: `request_job`, `update_job`, `patch_trace`, `register_runner`,
    /// `verify_runner`, `unregister_runner`, `unregister_manager`, `reset_token`,
    /// `upload_artifacts`, `download_artifacts`.
    pub endpoint: &'static str,
    /// HTTP method.
    pub method: &'static str,
    /// Status code; `None` when no response arrived (connection failure, timeout).
    pub status: Option<u16>,
    /// 1 for the first attempt, 2 for the first retry, ...
    pub attempt: u32,
    /// Time from sending the request to its response headers (or the failure).
    pub elapsed: Duration,
}

/// Receives a [`ResponseEvent`] after every attempt.
pub type ResponseObserver = Arc<dyn Fn(&ResponseEvent) + Send + Sync>;

/// A source of jitter in `[0, 1)` for the retry backoff.
pub type JitterSource = Arc<dyn Fn() -> f64 + Send + Sync>;

/// Timeouts applied to every request (C9).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub(crate) request: Duration,
    pub(crate) long_poll: Duration,
    pub(crate) transfer: Duration,
}

/// Builds a [`Client`].
#[must_use]
pub struct ClientBuilder {
    url: String,
    tls: TlsFiles,
    proxy: ProxySettings,
    connect_timeout: Duration,
    tls_handshake_timeout: Duration,
    connection_max_age: Option<Duration>,
    timeouts: Timeouts,
    user_agent: String,
    clock: Arc<dyn Clock>,
    jitter: JitterSource,
    observer: Option<ResponseObserver>,
    shutdown: CancellationToken,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ClientBuilder")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// A builder for the coordinator at `url` (the `url` of a `[[runners]]` entry).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            tls: TlsFiles::default(),
            proxy: ProxySettings::default(),
            connect_timeout: Duration::from_secs(30),
            tls_handshake_timeout: Duration::from_secs(10),
            connection_max_age: Some(DEFAULT_CONNECTION_MAX_AGE),
            timeouts: Timeouts {
                request: Duration::from_secs(120),
                long_poll: Duration::from_secs(600),
                transfer: Duration::from_secs(3600),
            },
            user_agent: crate::identity::user_agent(),
            clock: Arc::new(TokioClock),
            jitter: Arc::new(rand::random::<f64>),
            observer: None,
            shutdown: CancellationToken::new(),
        }
    }

    /// A PEM bundle added to the system roots (`tls-ca-file`); a missing file is ignored.
    pub fn tls_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.ca_file = Some(path.into());
        self
    }

    /// Client certificate chain for mutual TLS (`tls-cert-file`), used with [`Self::tls_key_file`].
    pub fn tls_cert_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.cert_file = Some(path.into());
        self
    }

    /// Client private key for mutual TLS (`tls-key-file`).
    pub fn tls_key_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.key_file = Some(path.into());
        self
    }

    /// Proxy settings resolved by the caller (see [`ProxySettings::from_lookup`]).
    pub fn proxy(mut self, proxy: ProxySettings) -> Self {
        self.proxy = proxy;
        self
    }

    /// TCP connect timeout (default 30 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long connections are reused before the pool is renewed (`connection_max_age`,
    /// default 15 min); `None` keeps them as long as they last.
    pub fn connection_max_age(mut self, max_age: Option<Duration>) -> Self {
        self.connection_max_age = max_age;
        self
    }

    /// Per-attempt timeout of ordinary requests, body included (default 120 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.request = timeout;
        self
    }

    /// Per-attempt timeout of `jobs/request`, which the server may hold ~50 s (default 10 min).
    pub fn long_poll_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.long_poll = timeout;
        self
    }

    /// Per-attempt timeout of artifact uploads and downloads (default 1 h).
    pub fn transfer_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.transfer = timeout;
        self
    }

    /// Overrides the User-Agent (default [`crate::user_agent`]).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// The clock used for retry waits (default [`TokioClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The jitter source of the retry backoff (default `rand`).
    pub fn jitter(mut self, jitter: JitterSource) -> Self {
        self.jitter = jitter;
        self
    }

    /// Called after every HTTP attempt (for request metrics).
    pub fn on_response(mut self, observer: ResponseObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// A token that, once cancelled, ends retry waits with [`Error::Cancelled`].
    pub fn shutdown(mut self, token: CancellationToken) -> Self {
        self.shutdown = token;
        self
    }

    /// Validates the URL, loads TLS files and builds the client. No I/O to the coordinator.
    pub fn build(self) -> Result<Client> {
        let base = normalize_base_url(&self.url)?;
        let pool = Pool::new(
            PoolSettings {
                tls: self.tls.clone(),
                proxy: self.proxy.clone(),
                connect_timeout: self.connect_timeout,
                tls_handshake_timeout: self.tls_handshake_timeout,
                max_age: self.connection_max_age,
            },
            self.clock.now(),
        )?;
        let user_agent =
            HeaderValue::from_str(&self.user_agent).map_err(|_| Error::InvalidUrl {
                url: self.url.clone(),
                reason: "user agent is not a valid header value".to_owned(),
            })?;
        Ok(Client {
            inner: Arc::new(ClientInner {
                base,
                pool,
                user_agent,
                timeouts: self.timeouts,
                clock: self.clock,
                jitter: self.jitter,
                observer: self.observer,
                shutdown: self.shutdown,
                last_update: Mutex::new(HashMap::new()),
            }),
        })
    }
}

/// A client for one coordinator. Cheap to clone; clones share the connection pool.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<ClientInner>,
}

pub(crate) struct ClientInner {
    pub(crate) base: Url,
    pub(crate) pool: Pool,
    pub(crate) user_agent: HeaderValue,
    pub(crate) timeouts: Timeouts,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) jitter: JitterSource,
    pub(crate) observer: Option<ResponseObserver>,
    pub(crate) shutdown: CancellationToken,
    /// Last `X-GitLab-Last-Update` per runner token (§5.4).
    pub(crate) last_update: Mutex<HashMap<String, String>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Client")
            .field("base_url", &self.inner.base.as_str())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// The API base, e.g. `https://gitlab.example.com/api/v4/`.
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// `path` resolved against the API base.
    pub(crate) fn endpoint_url(&self, path: &str) -> Result<Url> {
        self.inner
            .base
            .join(path)
            .map_err(|error| Error::InvalidUrl {
                url: format!("{}{path}", self.inner.base),
                reason: error.to_string(),
            })
    }
}

/// Normalises the configured URL (§1.1): trailing `/` removed, one trailing `/ci`
/// removed, `/api/v4/` appended; only http and https.
pub(crate) fn normalize_base_url(configured: &str) -> Result<Url> {
    let invalid = |reason: &str| Error::InvalidUrl {
        url: configured.to_owned(),
        reason: reason.to_owned(),
    };
    let mut parsed = Url::parse(configured).map_err(|error| invalid(&error.to_string()))?;
    if parsed.scheme() != "http" && parsed.scheme() != "https" {
        return Err(invalid("only http or https scheme supported"));
    }
    let mut path = parsed.path().trim_end_matches('/').to_owned();
    if let Some(stripped) = path.strip_suffix("/ci") {
        path = stripped.to_owned();
    }
    parsed.set_path(&format!("{path}/api/v4/"));
    parsed.set_query(None);
    parsed.set_fragment(None);
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(configured: &str, expected: &str) {
        assert_eq!(
            normalize_base_url(configured).unwrap().as_str(),
            expected,
            "{configured}"
        );
    }

    #[test]
    fn base_url_is_normalised() {
        check(
            "https://gitlab.example.com/ci///",
            "https://gitlab.example.com/api/v4/",
        );
        check(
            "https://gitlab.example.com/",
            "https://gitlab.example.com/api/v4/",
        );
        check(
            "https://gitlab.example.com",
            "https://gitlab.example.com/api/v4/",
        );
        check(
            "https://example.com/gitlab/ci",
            "https://example.com/gitlab/api/v4/",
        );
    }

    #[test]
    fn vector_02_ftp_is_a_client_error() {
        let error = normalize_base_url("ftp://gitlab.example.com").unwrap_err();
        assert!(error.is_client_error());
        assert!(
            error
                .to_string()
                .contains("only http or https scheme supported")
        );
    }
}
