//! Plain HTTP(S) GET and PUT of cache archives on pre-signed URLs: one connection per
//! request (hyper HTTP/1 over tokio, rustls with the webpki roots), bodies streamed from and
//! to disk, an exact `Content-Length` on uploads. URLs are logged without their query, so
//! signatures never reach a log.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::TryStreamExt;
use http_body_util::{BodyExt, Empty, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use url::Url;

use crate::error::{BoxError, Error, Result};

type Body = UnsyncBoxBody<Bytes, BoxError>;

/// The URL without query and fragment, for logs and errors.
pub(crate) fn clean_url(url: &Url) -> String {
    let mut cleaned = url.clone();
    cleaned.set_query(None);
    cleaned.set_fragment(None);
    let _ = cleaned.set_password(None);
    let _ = cleaned.set_username("");
    cleaned.to_string()
}

/// The outcome of a conditional download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Download {
    /// The object was written to the destination.
    Written(u64),
    /// The local copy is not older than the remote object.
    UpToDate,
    /// The server answered 404.
    NotFound,
}

/// GETs `url` into `destination` (via a temp file and rename) unless the local file is at
/// least as new as the remote `Last-Modified`.
pub(crate) async fn download(url: &Url, destination: &Path, timeout: Duration) -> Result<Download> {
    let cleaned = clean_url(url);
    let work = async {
        let (response, connection) = send("GET", url, &[], empty_body(), None).await?;
        let status = response.status().as_u16();
        if status == 404 {
            return Ok(Download::NotFound);
        }
        if !(200..300).contains(&status) {
            return Err(Error::Status {
                method: "GET",
                url: cleaned.clone(),
                status,
            });
        }
        let remote_modified = response
            .headers()
            .get(http::header::LAST_MODIFIED)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| httpdate::parse_http_date(value).ok());
        let local_modified = std::fs::metadata(destination)
            .and_then(|metadata| metadata.modified())
            .ok();
        if let (Some(remote), Some(local)) = (remote_modified, local_modified) {
            if remote <= local {
                return Ok(Download::UpToDate);
            }
        }
        let directory = destination.parent().unwrap_or(Path::new("."));
        tokio::fs::create_dir_all(directory)
            .await
            .map_err(Error::io(directory))?;
        let temporary = tempfile::Builder::new()
            .prefix("cache")
            .tempfile_in(directory)
            .map_err(Error::io(directory))?;
        let (file, temporary_path) = temporary.into_parts();
        let mut file = tokio::fs::File::from_std(file);
        let mut body = response.into_body();
        let mut written = 0u64;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|source| Error::Transfer {
                method: "GET",
                url: cleaned.clone(),
                source: Box::new(source),
            })?;
            if let Ok(data) = frame.into_data() {
                file.write_all(&data)
                    .await
                    .map_err(Error::io(destination))?;
                written += data.len() as u64;
            }
        }
        file.flush().await.map_err(Error::io(destination))?;
        let file = file.into_std().await;
        if let Some(remote) = remote_modified {
            file.set_modified(remote).map_err(Error::io(destination))?;
        }
        drop(file);
        temporary_path
            .persist(destination)
            .map_err(|error| Error::Io {
                path: destination.to_owned(),
                source: error.error,
            })?;
        finish(connection).await;
        Ok(Download::Written(written))
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| Error::Timeout {
            method: "GET",
            url: clean_url(url),
        })?
}

/// PUTs the file at `path` to `url` with its exact length and `headers`.
pub(crate) async fn upload(
    url: &Url,
    headers: &[(String, String)],
    path: &Path,
    timeout: Duration,
) -> Result<()> {
    let cleaned = clean_url(url);
    let work = async {
        let file = tokio::fs::File::open(path).await.map_err(Error::io(path))?;
        let length = file.metadata().await.map_err(Error::io(path))?.len();
        let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024)
            .map_ok(Frame::data)
            .map_err(|error| Box::new(error) as BoxError);
        let body = StreamBody::new(stream).boxed_unsync();
        let (response, connection) = send("PUT", url, headers, body, Some(length)).await?;
        let status = response.status().as_u16();
        let _ = response.into_body().collect().await;
        finish(connection).await;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(Error::Status {
                method: "PUT",
                url: cleaned.clone(),
                status,
            })
        }
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| Error::Timeout {
            method: "PUT",
            url: clean_url(url),
        })?
}

fn empty_body() -> Body {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// The task driving the connection; awaited once the response body is consumed.
type Connection = tokio::task::JoinHandle<()>;

pub(crate) async fn finish(connection: Connection) {
    if let Err(error) = connection.await {
        tracing::debug!(%error, "connection task ended abnormally");
    }
}

pub(crate) async fn send(
    method: &'static str,
    url: &Url,
    headers: &[(String, String)],
    body: Body,
    length: Option<u64>,
) -> Result<(http::Response<Incoming>, Connection)> {
    let cleaned = clean_url(url);
    let transfer_error = |source: BoxError| Error::Transfer {
        method,
        url: cleaned.clone(),
        source,
    };
    let invalid = |reason: &str| Error::InvalidUrl {
        url: cleaned.clone(),
        reason: reason.to_owned(),
    };
    let host = url.host_str().ok_or_else(|| invalid("no host"))?.to_owned();
    let port = url
        .port_or_known_default()
        .ok_or_else(|| invalid("no port"))?;
    let tcp =
        tokio::net::TcpStream::connect((host.trim_start_matches('[').trim_end_matches(']'), port))
            .await
            .map_err(|error| transfer_error(Box::new(error)))?;
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
        .method(method)
        .uri(path_and_query)
        .header(http::header::HOST, host_header);
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if let Some(length) = length {
        builder = builder.header(http::header::CONTENT_LENGTH, length);
    }
    let request = builder.body(body).map_err(|_| invalid("invalid request"))?;
    match url.scheme() {
        "http" => exchange(tcp, request).await.map_err(transfer_error),
        "https" => {
            let tls = tls_connector().map_err(transfer_error)?;
            let server_name = rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|_| invalid("invalid host name"))?;
            let stream = tls
                .connect(server_name, tcp)
                .await
                .map_err(|error| transfer_error(Box::new(error)))?;
            exchange(stream, request).await.map_err(transfer_error)
        }
        _ => Err(invalid("only http or https scheme supported")),
    }
}

async fn exchange<S>(
    stream: S,
    request: http::Request<Body>,
) -> Result<(http::Response<Incoming>, Connection), BoxError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let driver = tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "cache transfer connection failed");
        }
    });
    let response = sender.send_request(request).await;
    drop(sender);
    match response {
        Ok(response) => Ok((response, driver)),
        Err(error) => {
            finish(driver).await;
            Err(Box::new(error))
        }
    }
}

fn tls_connector() -> Result<tokio_rustls::TlsConnector, BoxError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}
