//! Test support: a log capture, a loopback HTTP server with scripted answers, file trees.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::task::JoinSet;

/// Collects formatted log lines of the current thread.
#[derive(Clone, Default)]
pub(crate) struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

thread_local! {
    static CURRENT: std::cell::RefCell<Option<Logs>> = const { std::cell::RefCell::new(None) };
}

/// Writes into the capture of the current thread, if any.
struct ThreadWriter;

impl std::io::Write for ThreadWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CURRENT.with(|current| {
            if let Some(logs) = current.borrow_mut().as_mut() {
                logs.write(buf)
            } else {
                Ok(buf.len())
            }
        })
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Stops capturing when dropped.
pub(crate) struct CaptureGuard;

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        CURRENT.with(|current| current.borrow_mut().take());
    }
}

/// Captures the events of this thread until the guard is dropped. One global subscriber
/// serves every test: per-thread default subscribers race on tracing's callsite cache.
pub(crate) fn capture_logs() -> (Logs, CaptureGuard) {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(|| ThreadWriter)
            .with_ansi(false)
            .without_time()
            .with_max_level(tracing::Level::DEBUG)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
    let logs = Logs::default();
    CURRENT.with(|current| *current.borrow_mut() = Some(logs.clone()));
    (logs, CaptureGuard)
}

/// One request the server saw.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) method: String,
    pub(crate) path_and_query: String,
    pub(crate) headers: http::HeaderMap,
    pub(crate) body_len: u64,
}

/// What the server answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Artifact uploads: 411 for chunked bodies, else `status` after reading the body.
    Coordinator { upload_status: u16 },
    /// An object store: PUT stores the body under the path, GET returns it (404 if absent).
    ObjectStore,
}

/// A loopback HTTP/1 server; stops when dropped.
pub(crate) struct Server {
    pub(crate) address: SocketAddr,
    pub(crate) requests: Arc<Mutex<Vec<Recorded>>>,
    pub(crate) objects: Arc<Mutex<HashMap<String, Bytes>>>,
    _tasks: JoinSet<()>,
}

impl Server {
    pub(crate) async fn start(mode: Mode) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let objects: Arc<Mutex<HashMap<String, Bytes>>> = Arc::default();
        let mut tasks = JoinSet::new();
        let (requests_clone, objects_clone) = (requests.clone(), objects.clone());
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    break;
                };
                let (requests, objects) = (requests_clone.clone(), objects_clone.clone());
                connections.spawn(async move {
                    let service = service_fn(move |request| {
                        handle(mode, request, requests.clone(), objects.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            address,
            requests,
            objects,
            _tasks: tasks,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}/", self.address)
    }

    pub(crate) fn recorded(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

async fn handle(
    mode: Mode,
    request: http::Request<Incoming>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    objects: Arc<Mutex<HashMap<String, Bytes>>>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let (parts, mut body) = request.into_parts();
    let chunked = parts.headers.get(http::header::TRANSFER_ENCODING).is_some();
    let keep_body = matches!(mode, Mode::ObjectStore);
    let mut kept = Vec::new();
    let mut body_len = 0u64;
    if !(chunked && matches!(mode, Mode::Coordinator { .. })) {
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                body_len += data.len() as u64;
                if keep_body {
                    kept.extend_from_slice(&data);
                }
            }
        }
    }
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|value| value.to_string())
        .unwrap_or_default();
    requests.lock().unwrap().push(Recorded {
        method: parts.method.to_string(),
        path_and_query: path_and_query.clone(),
        headers: parts.headers.clone(),
        body_len,
    });
    let respond = |status: u16, body: Bytes| {
        http::Response::builder()
            .status(status)
            .body(Full::new(body))
            .unwrap()
    };
    Ok(match mode {
        Mode::Coordinator { upload_status } => {
            if parts.method == http::Method::POST {
                let declared = parts
                    .headers
                    .get(http::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
                if chunked || declared.is_none() {
                    respond(411, Bytes::from_static(b"<html>411 Length Required</html>"))
                } else if declared != Some(body_len) {
                    respond(
                        400,
                        Bytes::from_static(b"{\"message\":\"length mismatch\"}"),
                    )
                } else {
                    respond(upload_status, Bytes::from_static(b"{}"))
                }
            } else {
                match objects.lock().unwrap().get(parts.uri.path()) {
                    Some(bytes) => respond(200, bytes.clone()),
                    None => respond(404, Bytes::from_static(b"{\"message\":\"404 Not Found\"}")),
                }
            }
        }
        Mode::ObjectStore => {
            let key = parts.uri.path().to_owned();
            match parts.method {
                http::Method::PUT => {
                    objects.lock().unwrap().insert(key, Bytes::from(kept));
                    respond(200, Bytes::new())
                }
                http::Method::GET => match objects.lock().unwrap().get(&key) {
                    Some(bytes) => respond(200, bytes.clone()),
                    None => respond(404, Bytes::new()),
                },
                _ => respond(405, Bytes::new()),
            }
        }
    })
}

/// Writes `content` to `root/relative`, creating parents.
pub(crate) fn write(root: &Path, relative: &str, content: &str) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// Runs git in `dir`, panicking on failure.
pub(crate) fn git(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

/// The selected relative paths as strings.
pub(crate) fn names(selection: &runner_artifacts::Selection) -> Vec<String> {
    selection
        .iter()
        .map(|selected| selected.relative.to_string_lossy().into_owned())
        .collect()
}
