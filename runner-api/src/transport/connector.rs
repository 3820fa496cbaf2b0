//! The connector: TCP (with a connect timeout), an optional proxy (HTTP with `CONNECT` for
//! `https`, or SOCKS5), then TLS for `https`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderValue, Uri};
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::proxy::{SocksV5, Tunnel};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tower_service::Service;

use crate::error::BoxError;
use crate::transport::LazyTls;

/// Connects to the coordinator (or through a proxy) and negotiates TLS.
#[derive(Clone)]
pub(crate) struct Connector {
    http: HttpConnector,
    tls: Arc<LazyTls>,
    proxy: Option<Arc<Matcher>>,
    tls_handshake_timeout: Duration,
}

impl Connector {
    pub(crate) fn new(
        tls: LazyTls,
        proxy: Option<Matcher>,
        connect_timeout: Duration,
        tls_handshake_timeout: Duration,
    ) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(connect_timeout));
        http.set_keepalive(Some(Duration::from_secs(30)));
        http.set_nodelay(true);
        Self {
            http,
            tls: Arc::new(tls),
            proxy: proxy.map(Arc::new),
            tls_handshake_timeout,
        }
    }

    /// `Proxy-Authorization` for a plain-HTTP request sent through a proxy.
    pub(crate) fn proxy_authorization(&self, uri: &Uri) -> Option<HeaderValue> {
        if uri.scheme_str() == Some("https") || is_loopback(uri) {
            return None;
        }
        self.proxy.as_ref()?.intercept(uri)?.basic_auth().cloned()
    }

    async fn connect(mut self, destination: Uri) -> Result<Stream, BoxError> {
        let is_https = destination.scheme_str() == Some("https");
        let intercept = match &self.proxy {
            Some(matcher) if !is_loopback(&destination) => matcher.intercept(&destination),
            _ => None,
        };
        match intercept {
            Some(intercept) if is_socks5(intercept.uri()) => {
                let mut socks =
                    SocksV5::new(socks_proxy_address(intercept.uri())?, self.http.clone());
                if let Some((user, password)) = intercept.raw_auth() {
                    socks = socks.with_auth(user.to_owned(), password.to_owned());
                }
                // The proxy resolves the host name, as Go's SOCKS5 dialer lets it.
                let tcp = socks.call(with_explicit_port(&destination)?).await?;
                if is_https {
                    self.handshake(tcp, &destination).await
                } else {
                    // A SOCKS tunnel is transparent: requests keep their origin form.
                    Ok(Stream::Plain {
                        io: tcp,
                        proxied: false,
                    })
                }
            }
            Some(intercept) => {
                if intercept.uri().scheme_str() != Some("http") {
                    return Err(format!(
                        "proxy scheme {} is not supported (http:// and socks5:// are)",
                        intercept.uri().scheme_str().unwrap_or("")
                    )
                    .into());
                }
                if is_https {
                    let mut tunnel = Tunnel::new(intercept.uri().clone(), self.http.clone());
                    if let Some(authorization) = intercept.basic_auth() {
                        tunnel = tunnel.with_auth(authorization.clone());
                    }
                    std::future::poll_fn(|context| tunnel.poll_ready(context)).await?;
                    let tcp = tunnel.call(destination.clone()).await?;
                    self.handshake(tcp, &destination).await
                } else {
                    let tcp = self.http.call(intercept.uri().clone()).await?;
                    Ok(Stream::Plain {
                        io: tcp,
                        proxied: true,
                    })
                }
            }
            None => {
                let tcp = self.http.call(destination.clone()).await?;
                if is_https {
                    self.handshake(tcp, &destination).await
                } else {
                    Ok(Stream::Plain {
                        io: tcp,
                        proxied: false,
                    })
                }
            }
        }
    }

    async fn handshake(
        &self,
        tcp: TokioIo<TcpStream>,
        destination: &Uri,
    ) -> Result<Stream, BoxError> {
        let host = destination
            .host()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let server_name = ServerName::try_from(host.to_owned())?;
        let connector = TlsConnector::from(self.tls.config()?);
        let handshake = connector.connect(server_name, tcp.into_inner());
        let tls = tokio::time::timeout(self.tls_handshake_timeout, handshake)
            .await
            .map_err(|_| "tls handshake timed out")??;
        Ok(Stream::Tls(Box::new(TokioIo::new(tls))))
    }
}

fn is_socks5(proxy: &Uri) -> bool {
    matches!(proxy.scheme_str(), Some("socks5" | "socks5h"))
}

/// The SOCKS proxy to dial, with Go's default port 1080 when the URL names none.
fn socks_proxy_address(proxy: &Uri) -> Result<Uri, BoxError> {
    let host = proxy.host().ok_or("the proxy URL names no host")?;
    let port = proxy.port_u16().unwrap_or(1080);
    Ok(format!("http://{host}:{port}").parse()?)
}

/// `destination` with its port spelled out (80 or 443 by scheme), which the SOCKS handshake
/// needs and would otherwise guess as 443.
fn with_explicit_port(destination: &Uri) -> Result<Uri, BoxError> {
    let host = destination.host().ok_or("the URL names no host")?;
    let default_port = if destination.scheme_str() == Some("https") {
        443
    } else {
        80
    };
    let port = destination.port_u16().unwrap_or(default_port);
    let scheme = destination.scheme_str().unwrap_or("http");
    Ok(format!("{scheme}://{host}:{port}/").parse()?)
}

fn is_loopback(uri: &Uri) -> bool {
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

impl Service<Uri> for Connector {
    type Response = Stream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Stream, BoxError>> + Send>>;

    fn poll_ready(&mut self, _context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, destination: Uri) -> Self::Future {
        Box::pin(self.clone().connect(destination))
    }
}

/// A plain or TLS connection.
pub(crate) enum Stream {
    Plain {
        io: TokioIo<TcpStream>,
        proxied: bool,
    },
    Tls(Box<TokioIo<TlsStream<TcpStream>>>),
}

impl Read for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain { io, .. } => Pin::new(io).poll_read(context, buffer),
            Self::Tls(io) => Pin::new(io.as_mut()).poll_read(context, buffer),
        }
    }
}

impl Write for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain { io, .. } => Pin::new(io).poll_write(context, buffer),
            Self::Tls(io) => Pin::new(io.as_mut()).poll_write(context, buffer),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain { io, .. } => Pin::new(io).poll_flush(context),
            Self::Tls(io) => Pin::new(io.as_mut()).poll_flush(context),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain { io, .. } => Pin::new(io).poll_shutdown(context),
            Self::Tls(io) => Pin::new(io.as_mut()).poll_shutdown(context),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain { io, .. } => io.is_write_vectored(),
            Self::Tls(io) => io.is_write_vectored(),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffers: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain { io, .. } => Pin::new(io).poll_write_vectored(context, buffers),
            Self::Tls(io) => Pin::new(io.as_mut()).poll_write_vectored(context, buffers),
        }
    }
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        match self {
            Self::Plain { io, proxied } => io.inner().connected().proxy(*proxied),
            Self::Tls(io) => io.inner().get_ref().0.connected(),
        }
    }
}
