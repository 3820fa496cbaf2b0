//! One JSON request to Vault: a fresh HTTP/1.1 connection (hyper over tokio, rustls with the
//! system roots, webpki's when the system has none, plus an optional CA bundle), as upstream
//! builds a new client for every secret. Errors are plain text without the request body.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use url::Url;

/// A request: method, URL, headers and an optional JSON body.
pub(crate) struct Request<'a> {
    pub(crate) method: http::Method,
    pub(crate) url: &'a Url,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Option<Vec<u8>>,
}

/// Sends `request`; the status and body, or a transport failure's text.
pub(crate) async fn send(
    request: Request<'_>,
    timeout: Duration,
    extra_ca_pem: Option<&[u8]>,
) -> Result<(u16, Bytes), String> {
    let target = format!("{} {}", request.method, without_query(request.url));
    match tokio::time::timeout(timeout, exchange(request, extra_ca_pem)).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(reason)) => Err(format!("{target}: {reason}")),
        Err(_) => Err(format!("{target}: context deadline exceeded")),
    }
}

async fn exchange(
    request: Request<'_>,
    extra_ca_pem: Option<&[u8]>,
) -> Result<(u16, Bytes), String> {
    let url = request.url;
    let host = url.host_str().ok_or("no host in URL")?.to_owned();
    let port = url.port_or_known_default().ok_or("no port in URL")?;
    let tcp =
        tokio::net::TcpStream::connect((host.trim_start_matches('[').trim_end_matches(']'), port))
            .await
            .map_err(|error| error.to_string())?;
    let _ = tcp.set_nodelay(true);
    let path_and_query = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let host_header = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.clone(),
    };
    let mut builder = http::Request::builder()
        .method(request.method)
        .uri(path_and_query)
        .header(http::header::HOST, host_header)
        .header(http::header::ACCEPT, "application/json");
    for (name, value) in &request.headers {
        builder = builder.header(*name, value.as_str());
    }
    let body = match request.body {
        Some(body) => {
            builder = builder.header(http::header::CONTENT_TYPE, "application/json");
            Full::new(Bytes::from(body))
        }
        None => Full::new(Bytes::new()),
    };
    let http_request = builder.body(body).map_err(|error| error.to_string())?;
    match url.scheme() {
        "http" => round_trip(tcp, http_request).await,
        "https" => {
            let connector = tls_connector(extra_ca_pem)?;
            let server_name =
                rustls::pki_types::ServerName::try_from(host).map_err(|error| error.to_string())?;
            let stream = connector
                .connect(server_name, tcp)
                .await
                .map_err(|error| error.to_string())?;
            round_trip(stream, http_request).await
        }
        other => Err(format!("unsupported protocol scheme {other:?}")),
    }
}

async fn round_trip<S>(
    stream: S,
    request: http::Request<Full<Bytes>>,
) -> Result<(u16, Bytes), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| error.to_string())?;
    let driver = tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "vault connection failed");
        }
    });
    let outcome = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| error.to_string())?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|error| error.to_string())?
            .to_bytes();
        Ok((status, body))
    }
    .await;
    drop(sender);
    if let Err(error) = driver.await {
        tracing::debug!(%error, "vault connection task ended abnormally");
    }
    outcome
}

fn tls_connector(extra_ca_pem: Option<&[u8]>) -> Result<tokio_rustls::TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(native.certs);
    if added == 0 {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if let Some(pem) = extra_ca_pem {
        let mut reader = pem;
        for certificate in rustls_pemfile::certs(&mut reader) {
            let certificate = certificate.map_err(|error| error.to_string())?;
            roots.add(certificate).map_err(|error| error.to_string())?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|error| error.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

fn without_query(url: &Url) -> String {
    let mut cleaned = url.clone();
    cleaned.set_query(None);
    cleaned.set_fragment(None);
    let _ = cleaned.set_password(None);
    let _ = cleaned.set_username("");
    cleaned.to_string()
}
