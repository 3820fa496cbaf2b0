//! Routing and the REST handlers of the fake API server.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;

use super::{FaultAction, RecordedRequest, State};

pub(crate) type Answer = Response<Full<Bytes>>;

/// Accepts connections until aborted; connection tasks die with this task's `JoinSet`.
pub(crate) async fn serve(listener: TcpListener, state: Arc<State>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _peer)) = listener.accept().await else {
            continue;
        };
        let state = Arc::clone(&state);
        connections.spawn(async move {
            let service =
                hyper::service::service_fn(move |request| handle(Arc::clone(&state), request));
            let io = hyper_util::rt::TokioIo::new(stream);
            let _closed = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .with_upgrades()
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
}

/// A dropped connection: hyper closes the socket without an answer.
#[derive(Debug)]
pub(crate) struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fault: connection dropped")
    }
}

impl std::error::Error for DropConnection {}

async fn handle(
    state: Arc<State>,
    mut request: Request<Incoming>,
) -> Result<Answer, DropConnection> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    let on_upgrade = hyper::upgrade::on(&mut request);
    let headers = request.headers().clone();
    let body = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let fault = {
        let mut inner = state.lock();
        inner.requests.push(RecordedRequest {
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
            authorization: headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        });
        let found = inner.faults.iter_mut().find(|f| {
            f.method == method.as_str()
                && path.contains(&f.path_contains)
                && f.times.is_none_or(|t| t > 0)
        });
        found.map(|fault| {
            if let Some(times) = fault.times.as_mut() {
                *times -= 1;
            }
            fault.action.clone()
        })
    };
    match fault {
        Some(FaultAction::Status {
            code,
            reason,
            message,
        }) => return Ok(status_answer(code, &reason, &message)),
        Some(FaultAction::Delay(delay)) => tokio::time::sleep(delay).await,
        Some(FaultAction::Drop) => return Err(DropConnection),
        None => {}
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    Ok(match (method.clone(), segments.as_slice()) {
        (Method::POST, ["api", "v1", "namespaces", ns, "pods"]) => {
            super::pods::create_pod(&state, ns, &body)
        }
        (Method::GET, ["api", "v1", "namespaces", ns, "pods", name]) => {
            super::pods::get_pod(&state, ns, name)
        }
        (Method::DELETE, ["api", "v1", "namespaces", ns, "pods", name]) => {
            super::pods::delete_pod(&state, ns, name)
        }
        (Method::GET, ["api", "v1", "namespaces", ns, "pods", name, "exec"]) => {
            super::exec::upgrade(&state, ns, name, &query, &headers, on_upgrade)
        }
        (Method::POST, ["api", "v1", "namespaces"]) => create_namespace(&state, &body),
        (Method::GET, ["api", "v1", "namespaces", name]) => {
            let namespace = state.lock().namespaces.get(*name).cloned();
            namespace.map_or_else(
                || not_found("namespaces", name),
                |n| json(StatusCode::OK, &n),
            )
        }
        (Method::DELETE, ["api", "v1", "namespaces", name]) => delete_namespace(&state, name),
        (Method::POST, ["api", "v1", "namespaces", ns, "secrets"]) => {
            create_secret(&state, ns, &body)
        }
        (Method::GET, ["api", "v1", "namespaces", ns, "secrets", name]) => {
            let secret = state.lock().secrets.get(&key(ns, name)).cloned();
            secret.map_or_else(|| not_found("secrets", name), |s| json(StatusCode::OK, &s))
        }
        (Method::DELETE, ["api", "v1", "namespaces", ns, "secrets", name]) => {
            match state.lock().secrets.remove(&key(ns, name)) {
                Some(_) => status_body(200, "Success", "", ""),
                None => not_found("secrets", name),
            }
        }
        _ => status_answer(
            404,
            "NotFound",
            &format!("the server could not find the requested resource ({method} {path})"),
        ),
    })
}

pub(crate) fn key(namespace: &str, name: &str) -> (String, String) {
    (namespace.to_owned(), name.to_owned())
}

/// Decodes `body` as `T` and checks that nothing was lost in the round trip (unknown fields).
pub(crate) fn decode<T: DeserializeOwned + Serialize>(body: &[u8]) -> Result<T, Box<Answer>> {
    let raw: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        Box::new(status_answer(
            400,
            "BadRequest",
            &format!("invalid JSON: {e}"),
        ))
    })?;
    let typed: T = serde_json::from_value(raw.clone()).map_err(|e| {
        Box::new(status_answer(
            400,
            "BadRequest",
            &format!("decoding body: {e}"),
        ))
    })?;
    let again = serde_json::to_value(&typed)
        .map_err(|e| Box::new(status_answer(500, "InternalError", &e.to_string())))?;
    if strip_nulls(raw) != strip_nulls(again) {
        return Err(Box::new(status_answer(
            422,
            "Invalid",
            "body has unknown or malformed fields",
        )));
    }
    Ok(typed)
}

fn strip_nulls(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(strip_nulls).collect())
        }
        other => other,
    }
}

fn create_secret(state: &State, namespace: &str, body: &[u8]) -> Answer {
    let secret: Secret = match decode(body) {
        Ok(secret) => secret,
        Err(answer) => return *answer,
    };
    let name = secret.metadata.name.clone().unwrap_or_default();
    if let Some(answer) = invalid_name(&name) {
        return answer;
    }
    let mut inner = state.lock();
    if inner.secrets.contains_key(&key(namespace, &name)) {
        return already_exists("secrets", &name);
    }
    inner.created_secrets.push(secret.clone());
    inner.secrets.insert(key(namespace, &name), secret.clone());
    json(StatusCode::CREATED, &secret)
}

pub(crate) fn json<T: Serialize>(code: StatusCode, value: &T) -> Answer {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut answer = Response::new(Full::new(Bytes::from(body)));
    *answer.status_mut() = code;
    answer.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    answer
}

fn create_namespace(state: &State, body: &[u8]) -> Answer {
    let mut namespace: Namespace = match decode(body) {
        Ok(namespace) => namespace,
        Err(answer) => return *answer,
    };
    let name = namespace.metadata.name.clone().unwrap_or_default();
    if let Some(answer) = invalid_name(&name) {
        return answer;
    }
    let mut inner = state.lock();
    if inner.namespaces.contains_key(&name) {
        return already_exists("namespaces", &name);
    }
    inner.resource_version += 1;
    namespace.metadata.resource_version = Some(inner.resource_version.to_string());
    inner.namespaces.insert(name, namespace.clone());
    json(StatusCode::CREATED, &namespace)
}

/// Deletes a namespace with everything in it, as the namespace controller would.
fn delete_namespace(state: &State, name: &str) -> Answer {
    let mut inner = state.lock();
    match inner.namespaces.remove(name) {
        Some(namespace) => {
            inner.pods.retain(|(ns, _), _| ns != name);
            inner.secrets.retain(|(ns, _), _| ns != name);
            json(StatusCode::OK, &namespace)
        }
        None => not_found("namespaces", name),
    }
}

/// 422 for an object name that is not a DNS-1123 label, as the API server words it.
fn invalid_name(name: &str) -> Option<Answer> {
    (!super::pods::is_dns_label(name)).then(|| {
        status_answer(
            422,
            "Invalid",
            &format!("metadata.name: Invalid value: {name:?}"),
        )
    })
}

/// 409 for a create whose name is taken.
pub(crate) fn already_exists(kind: &str, name: &str) -> Answer {
    status_answer(
        409,
        "AlreadyExists",
        &format!("{kind} \"{name}\" already exists"),
    )
}

pub(crate) fn not_found(kind: &str, name: &str) -> Answer {
    status_answer(404, "NotFound", &format!("{kind} \"{name}\" not found"))
}

/// A `Status` answer; `code` is both the HTTP status and the body's `code` (kube reads the body).
pub(crate) fn status_answer(code: u16, reason: &str, message: &str) -> Answer {
    status_body(code, "Failure", reason, message)
}

fn status_body(code: u16, status: &str, reason: &str, message: &str) -> Answer {
    let body = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": status, "message": message, "reason": reason, "code": code,
    });
    json(
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;

    #[test]
    fn unknown_fields_are_rejected() {
        let body = br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"build","image":"a","imagePullPolice":"Always"}]}}"#;
        let answer = decode::<Pod>(body).unwrap_err();
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let good = br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"build","image":"a"}]}}"#;
        assert!(decode::<Pod>(good).is_ok());
    }
}
