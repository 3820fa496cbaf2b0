//! The connection pool, renewed once it is older than `connection_max_age` (§1.4): load
//! balancers get to spread connections again, and a rotated CA file or client certificate
//! is read again for the next connection.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::time::Instant;

use crate::error::Result;
use crate::http::RequestBody;
use crate::transport::{Connector, LazyTls, ProxySettings, TlsFiles};

/// What a pool is built from, kept to build the next one.
#[derive(Debug, Clone)]
pub(crate) struct PoolSettings {
    pub(crate) tls: TlsFiles,
    pub(crate) proxy: ProxySettings,
    pub(crate) connect_timeout: Duration,
    pub(crate) tls_handshake_timeout: Duration,
    /// `None`: keep connections as long as they last.
    pub(crate) max_age: Option<Duration>,
}

/// A hyper client with its connector (the connector also answers proxy questions).
#[derive(Clone)]
pub(crate) struct Connections {
    pub(crate) http: HyperClient<Connector, RequestBody>,
    pub(crate) connector: Connector,
}

/// The current pool and when it was built.
pub(crate) struct Pool {
    settings: PoolSettings,
    current: Mutex<(Instant, Connections)>,
}

impl Pool {
    /// Builds the first pool; a TLS file that cannot be read is an error here.
    pub(crate) fn new(settings: PoolSettings, now: Instant) -> Result<Self> {
        let connections = build(&settings)?;
        Ok(Self {
            settings,
            current: Mutex::new((now, connections)),
        })
    }

    /// The pool to send a request through at `now`: a new one when the current one is older
    /// than the maximum age. Requests still running on the old pool finish there; its idle
    /// connections close when the last of them ends.
    pub(crate) fn connections(&self, now: Instant) -> Connections {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        let (built, _) = &*current;
        if let Some(max_age) = self.settings.max_age
            && now.saturating_duration_since(*built) > max_age
        {
            match build(&self.settings) {
                Ok(fresh) => {
                    tracing::debug!(?max_age, "renewing the connections to the coordinator");
                    *current = (now, fresh);
                }
                Err(error) => {
                    // Keep what works; try again after another max age.
                    tracing::warn!(%error, "renewing the connections to the coordinator failed; keeping the current ones");
                    current.0 = now;
                }
            }
        }
        current.1.clone()
    }
}

fn build(settings: &PoolSettings) -> Result<Connections> {
    let tls = LazyTls::new(settings.tls.clone())?;
    let matcher: Option<Matcher> = (!settings.proxy.is_empty()).then(|| settings.proxy.matcher());
    let connector = Connector::new(
        tls,
        matcher,
        settings.connect_timeout,
        settings.tls_handshake_timeout,
    );
    let http = HyperClient::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(100)
        .http1_title_case_headers(true)
        .build(connector.clone());
    Ok(Connections { http, connector })
}
