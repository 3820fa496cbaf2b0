//! A real git server for the tests: `git http-backend` (git's own smart-HTTP CGI program)
//! behind a small hyper server on loopback, so clones, fetches, shallow depths and refspecs
//! go through the same protocol as against GitLab.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::task::JoinHandle;

/// Serves the bare repositories under `root` as `http://127.0.0.1:<port>/<name>.git`.
#[derive(Debug)]
pub struct GitServer {
    address: SocketAddr,
    task: JoinHandle<()>,
}

impl GitServer {
    /// Starts serving `root` (a directory of bare repositories).
    pub async fn start(root: &Path) -> GitServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let address = listener.local_addr().expect("local address");
        let root = root.to_path_buf();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let root = root.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| handle(root.clone(), request));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        GitServer { address, task }
    }

    /// The clone URL of repository `name` with the job token as credentials, as GitLab
    /// sends it in `git_info.repo_url`.
    pub fn repo_url(&self, name: &str, job_token: &str) -> String {
        format!(
            "http://gitlab-ci-token:{job_token}@{}/{name}.git",
            self.address
        )
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    root: PathBuf,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(match run_cgi(&root, request).await {
        Ok(response) => response,
        Err(message) => Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .body(Full::new(Bytes::from(message)))
            .unwrap_or_default(),
    })
}

/// Runs one request through `git http-backend` following the CGI convention.
async fn run_cgi(root: &Path, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, String> {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    let content_type = header(&request, "content-type");
    let encoding = header(&request, "content-encoding");
    let git_protocol = header(&request, "git-protocol");
    let body = request
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let mut child = Command::new("git")
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", &path)
        .env("QUERY_STRING", &query)
        .env("CONTENT_TYPE", &content_type)
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", &encoding)
        .env("GIT_PROTOCOL", &git_protocol)
        .env("REMOTE_USER", "gitlab-ci-token")
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("git http-backend: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&body).await;
    });
    let output = child.wait_with_output().await.map_err(|e| e.to_string())?;
    let _ = writer.await;
    parse_cgi_output(&output.stdout)
}

fn header(request: &Request<Incoming>, name: &str) -> String {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// Splits CGI output into headers (with `Status:`) and body.
fn parse_cgi_output(output: &[u8]) -> Result<Response<Full<Bytes>>, String> {
    let split = output
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|at| (at, 4))
        .or_else(|| {
            output
                .windows(2)
                .position(|window| window == b"\n\n")
                .map(|at| (at, 2))
        })
        .ok_or("git http-backend printed no headers")?;
    let head = String::from_utf8_lossy(&output[..split.0]).into_owned();
    let body = Bytes::copy_from_slice(&output[split.0 + split.1..]);
    let mut builder = Response::builder();
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value
                .split_whitespace()
                .next()
                .and_then(|c| c.parse::<u16>().ok())
                .unwrap_or(500);
            builder = builder.status(code);
        } else {
            builder = builder.header(name, value);
        }
    }
    builder.body(Full::new(body)).map_err(|e| e.to_string())
}
