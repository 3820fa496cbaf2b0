//! A fake Vault on loopback for tests (feature `test-util`): JWT login and KV v1/v2 reads
//! with Vault's request and answer shapes, every request recorded.
//!
//! Shapes, from Vault's API documentation:
//! - `POST` (or `PUT`) `/v1/auth/<mount>/login`, body `{"jwt", "role"}`, answer
//!   `{"auth": {"client_token", "policies", "lease_duration", "renewable"}}`
//!   (<https://developer.hashicorp.com/vault/api-docs/auth/jwt#jwt-login>); an unknown role
//!   is `400 role "<r>" could not be found`, a JWT the role does not accept `403 permission
//!   denied` here.
//! - `GET /v1/<mount>/data/<path>` answers `{"data": {"data": {...}, "metadata": {...}}}`
//!   (<https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2#read-secret-version>);
//!   `GET /v1/<mount>/<path>` of KV v1 answers `{"data": {...}, "lease_duration"}`
//!   (<https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v1#read-secret>).
//! - Reads need `X-Vault-Token` (else `403 permission denied`); an absent secret is
//!   `404 {"errors": []}`; errors are `{"errors": [...]}`
//!   (<https://developer.hashicorp.com/vault/api-docs#error-response>).
//! - With [`FakeVault::require_namespace`], requests without that `X-Vault-Namespace`
//!   find no mount (`400`), as a mount in another namespace is invisible
//!   (<https://developer.hashicorp.com/vault/docs/enterprise/namespaces>).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::task::JoinSet;

/// One request the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `POST`, `PUT`, `GET`.
    pub method: String,
    /// The path, `/v1/...`.
    pub path: String,
    /// `X-Vault-Namespace`, if sent.
    pub namespace: Option<String>,
    /// `X-Vault-Token`, if sent.
    pub vault_token: Option<String>,
    /// The JSON body, if any.
    pub body: Option<Value>,
}

#[derive(Debug, Default)]
struct State {
    /// (auth mount, role) → the JWT it accepts.
    roles: HashMap<(String, String), String>,
    namespace: Option<String>,
    /// API path after `/v1/` → answer body.
    secrets: HashMap<String, Value>,
    tokens: HashSet<String>,
    requests: Vec<RecordedRequest>,
}

/// A Vault server on `127.0.0.1:<free port>`; stops when dropped.
#[derive(Debug)]
pub struct FakeVault {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    _tasks: JoinSet<()>,
}

impl FakeVault {
    /// Starts the server.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let state: Arc<Mutex<State>> = Arc::default();
        let mut tasks = JoinSet::new();
        let shared = state.clone();
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                connections.spawn(async move {
                    let service = service_fn(move |request| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(handle(request, &state).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            address,
            state,
            _tasks: tasks,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Lets `jwt` log in as `role` at the auth mount `mount`.
    pub fn allow_login(&self, mount: &str, role: &str, jwt: &str) {
        self.with_state(|state| {
            state
                .roles
                .insert((mount.to_owned(), role.to_owned()), jwt.to_owned());
        });
    }

    /// Answers only requests carrying `X-Vault-Namespace: namespace`.
    pub fn require_namespace(&self, namespace: &str) {
        self.with_state(|state| state.namespace = Some(namespace.to_owned()));
    }

    /// Stores a KV v2 secret: `GET /v1/<mount>/data/<path>` answers `data`.
    pub fn put_kv2(&self, mount: &str, path: &str, data: Value) {
        let body = json!({
            "request_id": "fake",
            "lease_duration": 0,
            "renewable": false,
            "data": {
                "data": data,
                "metadata": {"created_time": "2026-01-01T00:00:00Z", "deletion_time": "", "destroyed": false, "version": 1}
            }
        });
        self.put_raw(&format!("{mount}/data/{path}"), body);
    }

    /// Stores a KV v1 secret: `GET /v1/<mount>/<path>` answers `data`.
    pub fn put_kv1(&self, mount: &str, path: &str, data: Value) {
        let body = json!({"request_id": "fake", "lease_duration": 2_764_800, "renewable": false, "data": data});
        self.put_raw(&format!("{mount}/{path}"), body);
    }

    /// Answers `GET /v1/<api_path>` with `body` as it is.
    pub fn put_raw(&self, api_path: &str, body: Value) {
        self.with_state(|state| {
            state.secrets.insert(api_path.to_owned(), body);
        });
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.with_state(|state| state.requests.clone())
    }

    fn with_state<T>(&self, work: impl FnOnce(&mut State) -> T) -> T {
        work(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

async fn handle(
    request: http::Request<Incoming>,
    state: &Mutex<State>,
) -> http::Response<Full<Bytes>> {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let namespace = header("x-vault-namespace");
    let vault_token = header("x-vault-token");
    let bytes = request
        .into_body()
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    let body = serde_json::from_slice::<Value>(&bytes).ok();
    let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
    state.requests.push(RecordedRequest {
        method: method.clone(),
        path: path.clone(),
        namespace: namespace.clone(),
        vault_token: vault_token.clone(),
        body: body.clone(),
    });
    let Some(api_path) = path.strip_prefix("/v1/") else {
        return reply(404, json!({"errors": []}));
    };
    if state.namespace.is_some() && state.namespace != namespace {
        return reply(
            400,
            json!({"errors": [format!("no handler for route {api_path:?}. route entry not found.")]}),
        );
    }
    if let Some(mount) = api_path
        .strip_prefix("auth/")
        .and_then(|rest| rest.strip_suffix("/login"))
    {
        if method != "POST" && method != "PUT" {
            return reply(405, json!({"errors": []}));
        }
        return login(&mut state, mount, body.as_ref());
    }
    if method != "GET" {
        return reply(405, json!({"errors": []}));
    }
    if !vault_token.is_some_and(|token| state.tokens.contains(&token)) {
        return reply(403, json!({"errors": ["permission denied"]}));
    }
    match state.secrets.get(api_path) {
        Some(answer) => reply(200, answer.clone()),
        None => reply(404, json!({"errors": []})),
    }
}

fn login(state: &mut State, mount: &str, body: Option<&Value>) -> http::Response<Full<Bytes>> {
    let field = |name: &str| {
        body.and_then(|body| body.get(name))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let (jwt, role) = (field("jwt"), field("role"));
    if jwt.is_empty() {
        return reply(400, json!({"errors": ["missing token"]}));
    }
    let accepted: BTreeMap<&str, &String> = state
        .roles
        .iter()
        .filter(|((role_mount, _), _)| role_mount == mount)
        .map(|((_, role), jwt)| (role.as_str(), jwt))
        .collect();
    let Some(expected) = accepted.get(role.as_str()) else {
        return reply(
            400,
            json!({"errors": [format!("role {role:?} could not be found")]}),
        );
    };
    if **expected != jwt {
        return reply(403, json!({"errors": ["permission denied"]}));
    }
    let token = format!("hvs.fake-token-{}", state.tokens.len() + 1);
    state.tokens.insert(token.clone());
    reply(
        200,
        json!({
            "request_id": "fake",
            "auth": {
                "client_token": token,
                "accessor": "fake-accessor",
                "policies": ["default"],
                "token_policies": ["default"],
                "lease_duration": 3600,
                "renewable": true
            }
        }),
    )
}

fn reply(status: u16, body: Value) -> http::Response<Full<Bytes>> {
    let mut response = http::Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}
