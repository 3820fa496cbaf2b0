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
            Some(intercept) if intercept.uri().scheme_str() == Some("https") => {
                let proxy = intercept.uri().clone();
                if is_https {
                    // CONNECT inside TLS to the proxy, then TLS to the coordinator inside that.
                    let mut tunnel = Tunnel::new(proxy, TlsToProxy(self.clone()));
                    if let Some(authorization) = intercept.basic_auth() {
                        tunnel = tunnel.with_auth(authorization.clone());
                    }
                    std::future::poll_fn(|context| tunnel.poll_ready(context)).await?;
                    let tunneled = tunnel.call(destination.clone()).await?.into_inner();
                    let tls = self.tls_handshake(tunneled, &destination).await?;
                    Ok(Stream::TlsInTls(Box::new(TokioIo::new(tls))))
                } else {
                    // Plain requests, in absolute form, inside TLS to the proxy.
                    let io = self.tls_to_proxy(&proxy).await?;
                    Ok(Stream::Tls {
                        io: Box::new(io),
                        proxied: true,
                    })
                }
            }
            Some(intercept) => {
                if intercept.uri().scheme_str() != Some("http") {
                    return Err(format!(
                        "proxy scheme {} is not supported (http://, https:// and socks5:// are)",
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
        let tls = self.tls_handshake(tcp.into_inner(), destination).await?;
        Ok(Stream::Tls {
            io: Box::new(TokioIo::new(tls)),
            proxied: false,
        })
    }

    /// TLS over `io` to the host of `destination`, within the handshake timeout.
    async fn tls_handshake<IO>(&self, io: IO, destination: &Uri) -> Result<TlsStream<IO>, BoxError>
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let host = destination
            .host()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let server_name = ServerName::try_from(host.to_owned())?;
        let connector = TlsConnector::from(self.tls.config()?);
        let handshake = connector.connect(server_name, io);
        let tls = tokio::time::timeout(self.tls_handshake_timeout, handshake)
            .await
            .map_err(|_| "tls handshake timed out")??;
        Ok(tls)
    }

    /// A TLS connection to an `https://` proxy (port 443 unless the URL names one), checked
    /// against the same roots as the coordinator.
    async fn tls_to_proxy(&self, proxy: &Uri) -> Result<TokioIo<TlsStream<TcpStream>>, BoxError> {
        let host = proxy.host().ok_or("the proxy URL names no host")?;
        let port = proxy.port_u16().unwrap_or(443);
        let address: Uri = format!("http://{host}:{port}").parse()?;
        let tcp = self.http.clone().call(address).await?;
        let tls = self.tls_handshake(tcp.into_inner(), proxy).await?;
        Ok(TokioIo::new(tls))
    }
}

/// Connects to an `https://` proxy for [`Tunnel`], which then sends `CONNECT` inside.
#[derive(Clone)]
struct TlsToProxy(Connector);

impl Service<Uri> for TlsToProxy {
    type Response = TokioIo<TlsStream<TcpStream>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, proxy: Uri) -> Self::Future {
        let connector = self.0.clone();
        Box::pin(async move { connector.tls_to_proxy(&proxy).await })
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

/// A plain or TLS connection (TLS in TLS through an `https://` proxy).
pub(crate) enum Stream {
    Plain {
        io: TokioIo<TcpStream>,
        proxied: bool,
    },
    Tls {
        io: Box<TokioIo<TlsStream<TcpStream>>>,
        /// TLS to an `https://` proxy that takes absolute-form requests.
        proxied: bool,
    },
    TlsInTls(Box<TokioIo<TlsStream<TlsStream<TcpStream>>>>),
}

/// Applies `$action` to whichever connection `$stream` holds, pinned.
macro_rules! with_io {
    ($stream:expr, $io:ident => $action:expr) => {
        match $stream {
            Stream::Plain { io: $io, .. } => {
                let $io = Pin::new($io);
                $action
            }
            Stream::Tls { io, .. } => {
                let $io = Pin::new(io.as_mut());
                $action
            }
            Stream::TlsInTls(io) => {
                let $io = Pin::new(io.as_mut());
                $action
            }
        }
    };
}

impl Read for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        with_io!(self.get_mut(), io => io.poll_read(context, buffer))
    }
}

impl Write for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<io::Result<usize>> {
        with_io!(self.get_mut(), io => io.poll_write(context, buffer))
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        with_io!(self.get_mut(), io => io.poll_flush(context))
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        with_io!(self.get_mut(), io => io.poll_shutdown(context))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain { io, .. } => io.is_write_vectored(),
            Self::Tls { io, .. } => io.is_write_vectored(),
            Self::TlsInTls(io) => io.is_write_vectored(),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffers: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        with_io!(self.get_mut(), io => io.poll_write_vectored(context, buffers))
    }
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        match self {
            Self::Plain { io, proxied } => io.inner().connected().proxy(*proxied),
            Self::Tls { io, proxied } => io.inner().get_ref().0.connected().proxy(*proxied),
            Self::TlsInTls(io) => io.inner().get_ref().0.get_ref().0.connected(),
        }
    }
}
