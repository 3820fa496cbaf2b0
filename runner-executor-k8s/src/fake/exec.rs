//! The exec subresource: the WebSocket upgrade, then a real local process whose stdin, stdout
//! and stderr are channels 0, 1 and 2, ending with the kubelet's channel-3 status.

use std::process::Stdio;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use hyper::HeaderMap;
use hyper::upgrade::OnUpgrade;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_util::sync::CancellationToken;

use super::http::{Answer, status_answer};
use super::{Scenario, State};

/// Checks the request, answers 101 and starts the session in the background.
pub(crate) fn upgrade(
    state: &Arc<State>,
    namespace: &str,
    name: &str,
    query: &str,
    headers: &HeaderMap,
    on_upgrade: OnUpgrade,
) -> Answer {
    let pairs = super::query::parse(query);
    let argv: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "command")
        .map(|(_, v)| v.clone())
        .collect();
    let container = super::query::first(&pairs, "container")
        .unwrap_or("")
        .to_owned();
    let (env, killed, force_v4) = {
        let mut inner = state.lock();
        let force_v4 = inner.force_v4;
        let Some(stored) = inner.pods.get_mut(&(namespace.to_owned(), name.to_owned())) else {
            return status_answer(404, "NotFound", &format!("pods \"{name}\" not found"));
        };
        let phase = stored
            .pod
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        if phase != "Running" {
            return status_answer(
                400,
                "BadRequest",
                &format!("pod {name} is not running; current phase is {phase}"),
            );
        }
        let spec_container = stored
            .pod
            .spec
            .iter()
            .flat_map(|s| s.containers.iter())
            .find(|c| c.name == container);
        let Some(spec_container) = spec_container else {
            return status_answer(
                400,
                "BadRequest",
                &format!("container {container} is not valid for pod {name}"),
            );
        };
        let env: Vec<(String, String)> = spec_container
            .env
            .iter()
            .flatten()
            .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
            .collect();
        if stored.scenario == Scenario::EvictOnExec {
            super::pods::evict(stored);
        }
        (env, stored.killed.clone(), force_v4)
    };
    if argv.is_empty() {
        return status_answer(400, "BadRequest", "you must specify at least 1 command");
    }
    let offered = headers
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let protocol = if offered.contains("v5.channel.k8s.io") && !force_v4 {
        "v5.channel.k8s.io"
    } else {
        "v4.channel.k8s.io"
    };
    let Some(key) = headers.get("sec-websocket-key") else {
        return status_answer(400, "BadRequest", "missing Sec-WebSocket-Key");
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let session_state = Arc::clone(state);
    let work_dir = state.work_dir.clone();
    let v5 = protocol.starts_with("v5");
    state
        .sessions
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .spawn(async move {
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            let socket = WebSocketStream::from_raw_socket(
                hyper_util::rt::TokioIo::new(upgraded),
                Role::Server,
                None,
            )
            .await;
            run_session(socket, argv, env, work_dir, killed, v5, session_state).await;
        });
    let mut answer = Answer::new(Default::default());
    *answer.status_mut() = hyper::StatusCode::SWITCHING_PROTOCOLS;
    let headers = answer.headers_mut();
    headers.insert(
        "upgrade",
        hyper::header::HeaderValue::from_static("websocket"),
    );
    headers.insert(
        "connection",
        hyper::header::HeaderValue::from_static("Upgrade"),
    );
    if let Ok(value) = hyper::header::HeaderValue::from_str(&accept) {
        headers.insert("sec-websocket-accept", value);
    }
    headers.insert(
        "sec-websocket-protocol",
        hyper::header::HeaderValue::from_static(protocol),
    );
    answer
}

async fn run_session<S>(
    socket: WebSocketStream<S>,
    argv: Vec<String>,
    env: Vec<(String, String)>,
    work_dir: std::path::PathBuf,
    killed: CancellationToken,
    v5: bool,
    state: Arc<State>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut sink, mut incoming) = socket.split();
    let spawned = container_command(&argv, env, &work_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => {
            let status = internal_error(&format!("error executing command in container: {error}"));
            let _sent = sink
                .send(Message::binary(channel(3, status.as_bytes())))
                .await;
            let _closed = sink.close().await;
            return;
        }
    };
    let mut stdin = child.stdin.take();
    let (Some(mut stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return;
    };
    let (mut out_open, mut err_open, mut input_open) = (true, true, true);
    let mut out_buffer = vec![0u8; 32 * 1024];
    let mut err_buffer = vec![0u8; 32 * 1024];
    let mut was_killed = false;
    while out_open || err_open {
        tokio::select! {
            () = killed.cancelled(), if !was_killed => {
                was_killed = true;
                let _killed = child.start_kill();
            }
            message = incoming.next(), if input_open => match message {
                Some(Ok(Message::Binary(data))) if data.first() == Some(&0) => {
                    if let Some(pipe) = stdin.as_mut() {
                        let _written = pipe.write_all(&data[1..]).await;
                    }
                }
                Some(Ok(Message::Binary(data))) if v5 && data.first() == Some(&255) => stdin = None,
                Some(Ok(Message::Binary(_) | Message::Text(_) | Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => {
                    stdin = None;
                    input_open = false;
                }
            },
            read = stdout.read(&mut out_buffer), if out_open => match read {
                Ok(0) | Err(_) => out_open = false,
                Ok(n) => {
                    state.lock().exec_bytes += n as u64;
                    if sink.send(Message::binary(channel(1, &out_buffer[..n]))).await.is_err() { return; }
                }
            },
            read = stderr.read(&mut err_buffer), if err_open => match read {
                Ok(0) | Err(_) => err_open = false,
                Ok(n) => {
                    state.lock().exec_bytes += n as u64;
                    if sink.send(Message::binary(channel(2, &err_buffer[..n]))).await.is_err() { return; }
                }
            },
        }
    }
    drop(stdin);
    let status = match child.wait().await {
        Ok(exit) if exit.success() => r#"{"metadata":{},"status":"Success"}"#.to_owned(),
        Ok(exit) => {
            let code = exit.code().unwrap_or(137);
            serde_json::json!({
                "metadata": {}, "status": "Failure",
                "message": format!("command terminated with non-zero exit code: error executing command [{}], exit code {code}", argv.join(" ")),
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
            })
            .to_string()
        }
        Err(error) => internal_error(&error.to_string()),
    };
    if !state.lock().drop_exec_status {
        let _sent = sink
            .send(Message::binary(channel(3, status.as_bytes())))
            .await;
    }
    let _closed = sink.close().await;
}

/// `argv` as a process of a container: in `work_dir`, with the container's environment and
/// `<work dir>/shims` first on `PATH`, since helper-image programs (`gitlab-runner-helper ...`)
/// do not exist on the host and a test puts shims for them there.
pub(crate) fn container_command(
    argv: &[String],
    env: Vec<(String, String)>,
    work_dir: &std::path::Path,
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(&argv[0]);
    let shims = work_dir.join("shims");
    if shims.is_dir() {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut joined = shims.into_os_string();
        joined.push(":");
        joined.push(path);
        command.env("PATH", joined);
    }
    command.args(&argv[1..]).envs(env).current_dir(work_dir);
    command
}

fn internal_error(message: &str) -> String {
    serde_json::json!({
        "metadata": {}, "status": "Failure", "code": 500, "reason": "InternalError",
        "message": format!("Internal error occurred: {message}"),
        "details": {"causes": [{"message": message}]},
    })
    .to_string()
}

fn channel(id: u8, data: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(data.len() + 1);
    frame.push(id);
    frame.extend_from_slice(data);
    frame
}
