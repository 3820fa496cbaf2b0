//! [`MetricsServer`]: the HTTP(S) listener on `listen_address`, its connections, graceful
//! shutdown and re-binding on a changed address.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::address::{ListenAddress, is_exposed};
use crate::error::{Error, Result};
use crate::routes::{self, ServerState};
use crate::tls::TlsOptions;

/// A client must send its request headers within this time.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// A TLS handshake must finish within this time.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The running metrics server. Dropping it cancels it; [`shutdown`](Self::shutdown) also
/// waits for open connections to finish.
#[derive(Debug)]
pub struct MetricsServer {
    address: ListenAddress,
    tls: Option<TlsOptions>,
    state: ServerState,
    parent: CancellationToken,
    running: Running,
}

#[derive(Debug)]
struct Running {
    local_addr: SocketAddr,
    cancel: CancellationToken,
    accept_loop: JoinHandle<()>,
    connections: TaskTracker,
}

impl MetricsServer {
    /// Binds `address` and serves `state` until `shutdown` is cancelled (or the server is shut
    /// down). With `tls`, connections are HTTPS and, when a client CA is set, must present a
    /// client certificate signed by it. Logs a warning when the socket is reachable from other
    /// machines without client-certificate authentication.
    pub async fn start(
        address: &ListenAddress,
        tls: Option<&TlsOptions>,
        state: ServerState,
        shutdown: CancellationToken,
    ) -> Result<Self> {
        let running = Running::start(address, tls, &state, &shutdown).await?;
        Ok(Self {
            address: address.clone(),
            tls: tls.cloned(),
            state,
            parent: shutdown,
            running,
        })
    }

    /// The bound socket address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.running.local_addr
    }

    /// The configured address.
    pub fn address(&self) -> &ListenAddress {
        &self.address
    }

    /// Applies a changed `listen_address` or TLS setting (seed M6): binds the new socket, then
    /// stops the old one. When the new socket conflicts with the old one (same port, e.g.
    /// `:9252` to `127.0.0.1:9252`), the old one is closed first and re-bound if the new bind
    /// fails. Unchanged settings are a no-op. On error the server keeps serving on its
    /// previous address.
    pub async fn rebind(
        &mut self,
        address: &ListenAddress,
        tls: Option<&TlsOptions>,
    ) -> Result<()> {
        if *address == self.address && tls == self.tls.as_ref() {
            return Ok(());
        }
        let started = Running::start(address, tls, &self.state, &self.parent).await;
        let next = match started {
            Ok(next) => {
                std::mem::replace(&mut self.running, next).stop().await;
                self.address = address.clone();
                self.tls = tls.cloned();
                return Ok(());
            }
            // Only our own socket can be in the way when the port stays the same.
            Err(Error::Bind { source, .. })
                if source.kind() == std::io::ErrorKind::AddrInUse
                    && address.port() == self.running.local_addr.port() =>
            {
                self.running.cancel.cancel();
                self.running.wait().await;
                Running::start(address, tls, &self.state, &self.parent).await
            }
            Err(error) => return Err(error),
        };
        match next {
            Ok(next) => {
                self.running = next;
                self.address = address.clone();
                self.tls = tls.cloned();
                Ok(())
            }
            Err(error) => {
                let old_tls = self.tls.clone();
                self.running =
                    Running::start(&self.address, old_tls.as_ref(), &self.state, &self.parent)
                        .await?;
                Err(error)
            }
        }
    }

    /// Stops accepting, lets open connections finish their current request, and waits for
    /// every task of the server.
    pub async fn shutdown(mut self) {
        self.running.cancel.cancel();
        self.running.wait().await;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl Running {
    async fn start(
        address: &ListenAddress,
        tls: Option<&TlsOptions>,
        state: &ServerState,
        parent: &CancellationToken,
    ) -> Result<Self> {
        let acceptor = tls
            .map(|options| options.load().map(TlsAcceptor::from))
            .transpose()?;
        let listener = bind(address).await?;
        let local_addr = listener.local_addr().map_err(|source| Error::Bind {
            address: address.to_string(),
            source,
        })?;
        if let Some(reason) = exposure_warning(local_addr, tls) {
            tracing::warn!(address = %local_addr, "{reason}");
        }
        tracing::info!(address = %local_addr, tls = acceptor.is_some(), "Metrics server listening");
        let cancel = parent.child_token();
        let connections = TaskTracker::new();
        let accept_loop = tokio::spawn(accept_loop(
            listener,
            acceptor,
            state.clone(),
            cancel.clone(),
            connections.clone(),
        ));
        Ok(Self {
            local_addr,
            cancel,
            accept_loop,
            connections,
        })
    }

    async fn stop(mut self) {
        self.cancel.cancel();
        self.wait().await;
    }

    async fn wait(&mut self) {
        if let Err(error) = (&mut self.accept_loop).await {
            tracing::error!(error = %error, "metrics server accept loop failed");
        }
        self.connections.close();
        self.connections.wait().await;
    }
}

/// Why binding to `local_addr` deserves a warning, if it does: the socket is reachable from
/// other machines and scrapers are not authenticated by client certificates.
pub(crate) fn exposure_warning(
    local_addr: SocketAddr,
    tls: Option<&TlsOptions>,
) -> Option<&'static str> {
    let authenticated = tls.is_some_and(|tls| tls.client_ca_file.is_some());
    (is_exposed(local_addr.ip()) && !authenticated).then_some(
        "metrics server listens on a non-loopback address without authentication; \
         restrict access with a firewall or configure TLS with client certificates",
    )
}

async fn bind(address: &ListenAddress) -> Result<TcpListener> {
    let candidates = address.resolve().await.map_err(|source| Error::Resolve {
        address: address.to_string(),
        source,
    })?;
    let mut last_error = None;
    for candidate in candidates {
        match TcpListener::bind(candidate).await {
            Ok(listener) => return Ok(listener),
            Err(error) => last_error = Some(error),
        }
    }
    Err(Error::Bind {
        address: address.to_string(),
        source: last_error.unwrap_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the host resolved to no address",
            )
        }),
    })
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    state: ServerState,
    cancel: CancellationToken,
    connections: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, _peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Running out of file descriptors must not spin the loop.
                tracing::warn!(error = %error, "metrics server could not accept a connection");
                tokio::select! {
                    biased;
                    () = cancel.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                }
            }
        };
        let connection = serve_stream(stream, acceptor.clone(), state.clone(), cancel.clone());
        connections.spawn(connection);
    }
}

async fn serve_stream(
    stream: TcpStream,
    acceptor: Option<TlsAcceptor>,
    state: ServerState,
    cancel: CancellationToken,
) {
    // Small responses should not wait for Nagle's algorithm.
    let _ = stream.set_nodelay(true);
    let Some(acceptor) = acceptor else {
        return serve_http(stream, state, cancel).await;
    };
    let handshake = tokio::select! {
        biased;
        () = cancel.cancelled() => return,
        handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)) => handshake,
    };
    match handshake {
        Ok(Ok(tls_stream)) => serve_http(tls_stream, state, cancel).await,
        Ok(Err(error)) => tracing::debug!(error = %error, "metrics TLS handshake failed"),
        Err(_) => tracing::debug!("metrics TLS handshake timed out"),
    }
}

async fn serve_http<S>(stream: S, state: ServerState, cancel: CancellationToken)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let request_cancel = cancel.clone();
    let state = Arc::new(state);
    let service = service_fn(move |request| {
        let state = Arc::clone(&state);
        let cancel = request_cancel.clone();
        async move { Ok::<_, Infallible>(routes::handle(request, &state, &cancel).await) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    let result = tokio::select! {
        biased;
        () = cancel.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
        result = connection.as_mut() => result,
    };
    if let Err(error) = result {
        tracing::debug!(error = %error, "metrics connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn tls(client_ca: bool) -> TlsOptions {
        TlsOptions {
            cert_file: PathBuf::from("c.pem"),
            key_file: PathBuf::from("k.pem"),
            client_ca_file: client_ca.then(|| PathBuf::from("ca.pem")),
        }
    }

    #[test]
    fn warns_only_for_exposed_unauthenticated_sockets() {
        let public: SocketAddr = "0.0.0.0:9252".parse().unwrap();
        let any_v6: SocketAddr = "[::]:9252".parse().unwrap();
        let loopback: SocketAddr = "127.0.0.1:9252".parse().unwrap();
        assert!(exposure_warning(public, None).is_some());
        assert!(exposure_warning(any_v6, None).is_some());
        assert!(exposure_warning(public, Some(&tls(false))).is_some());
        assert!(exposure_warning(public, Some(&tls(true))).is_none());
        assert!(exposure_warning(loopback, None).is_none());
    }
}
