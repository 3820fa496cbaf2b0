//! A fake Kubernetes API server for tests (feature `test-util`): real HTTP/1.1 on `127.0.0.1:0`,
//! reached by kube through an ordinary kubeconfig ([`FakeCluster::write_kubeconfig`]), and
//! WebSocket exec (`v5.channel.k8s.io`, or `v4` on request) that runs the exec'd command as a
//! real local process, so stage scripts really run and their exit codes are real.
//!
//! Pods, secrets and service accounts live in memory as k8s-openapi values. Every body the runner
//! sends is decoded into its k8s-openapi type and must survive a round trip unchanged (so a
//! misspelled or unknown field fails the request with 422, as a malformed manifest should), and
//! pods are checked like the API server would (DNS-1123 names, unique containers, images,
//! `restartPolicy: Never`, mounts naming defined volumes). Pods go `Pending` → `Running` on the
//! second GET, or follow a [`Scenario`]; [`Fault`]s answer chosen requests with a `Status`, a
//! delay or a dropped connection.

mod exec;
mod http;
mod pods;
mod query;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Pod, Secret};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How the next pods behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scenario {
    /// `Pending` on the first GET, `Running` (all containers ready) from the second on.
    #[default]
    Normal,
    /// Stays `Pending` with `PodScheduled=False` (`Unschedulable`): exercises `poll_timeout`.
    NeverScheduled,
    /// Runs normally until the first exec starts, then is evicted: `DisruptionTarget` condition
    /// (`EvictionByEvictionAPI`), phase `Failed`, and the exec'd process is killed.
    EvictOnExec,
}

/// What a matching request gets instead of normal handling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    /// An error answer with a `Status` body.
    Status {
        /// HTTP status and `code`.
        code: u16,
        /// `reason`, e.g. `InternalError`.
        reason: String,
        /// `message`, e.g. `etcdserver: request timed out`.
        message: String,
    },
    /// Wait this long, then handle the request normally.
    Delay(Duration),
    /// Close the connection without answering.
    Drop,
}

/// A fault rule: method and a path substring select requests; `times` limits how often it fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Substring of the path (without query), e.g. `/pods`.
    pub path_contains: String,
    /// What happens.
    pub action: FaultAction,
    /// How many matching requests it applies to; `None` = all.
    pub times: Option<usize>,
}

impl Fault {
    /// A fault answering every `method` request whose path contains `path` with a Status.
    pub fn status(method: &str, path: &str, code: u16, reason: &str, message: &str) -> Self {
        Self {
            method: method.to_owned(),
            path_contains: path.to_owned(),
            action: FaultAction::Status {
                code,
                reason: reason.to_owned(),
                message: message.to_owned(),
            },
            times: None,
        }
    }

    /// A fault delaying every `method` request whose path contains `path`.
    pub fn delay(method: &str, path: &str, delay: Duration) -> Self {
        Self {
            method: method.to_owned(),
            path_contains: path.to_owned(),
            action: FaultAction::Delay(delay),
            times: None,
        }
    }
}

/// One request as the fake received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// Method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Raw query string.
    pub query: String,
    /// Body bytes as text.
    pub body: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Inner {
    pub(crate) pods: BTreeMap<(String, String), StoredPod>,
    pub(crate) created_pods: Vec<Pod>,
    pub(crate) secrets: BTreeMap<(String, String), Secret>,
    pub(crate) created_secrets: Vec<Secret>,
    /// Namespaces created through the API (others, such as `default`, exist implicitly).
    pub(crate) namespaces: BTreeMap<String, Namespace>,
    pub(crate) requests: Vec<RecordedRequest>,
    pub(crate) faults: Vec<Fault>,
    pub(crate) scenario: Scenario,
    pub(crate) resource_version: u64,
    pub(crate) force_v4: bool,
    pub(crate) drop_exec_status: bool,
    pub(crate) exec_bytes: u64,
}

#[derive(Debug)]
pub(crate) struct StoredPod {
    pub(crate) pod: Pod,
    pub(crate) scenario: Scenario,
    pub(crate) gets: u32,
    /// Every init container has succeeded (or there are none): the pod may run.
    pub(crate) init_done: bool,
    /// Fired when the pod is deleted or evicted: running execs are killed.
    pub(crate) killed: CancellationToken,
}

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) inner: Mutex<Inner>,
    pub(crate) work_dir: PathBuf,
    pub(crate) sessions: Mutex<tokio::task::JoinSet<()>>,
}

impl State {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running fake API server; dropping it stops the server and every connection and exec.
#[derive(Debug)]
pub struct FakeCluster {
    state: Arc<State>,
    address: SocketAddr,
    server: JoinHandle<()>,
}

impl FakeCluster {
    /// Starts a server on `127.0.0.1:0`; exec'd processes run in `work_dir`.
    pub async fn start(work_dir: &Path) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let state = Arc::new(State {
            inner: Mutex::new(Inner::default()),
            work_dir: work_dir.to_owned(),
            sessions: Mutex::new(tokio::task::JoinSet::new()),
        });
        let server = tokio::spawn(http::serve(listener, Arc::clone(&state)));
        Ok(Self {
            state,
            address,
            server,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Writes a kubeconfig pointing at this server (namespace `default`, no auth).
    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: \"{}\"\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: default\ncurrent-context: fake\nusers:\n- name: fake\n  user: {{}}\n",
            self.url()
        );
        std::fs::write(path, text)
    }

    /// Scenario for pods created from now on.
    pub fn set_scenario(&self, scenario: Scenario) {
        self.state.lock().scenario = scenario;
    }

    /// Answer exec upgrades with `v4.channel.k8s.io` even when v5 is offered.
    pub fn force_v4(&self, enabled: bool) {
        self.state.lock().force_v4 = enabled;
    }

    /// End exec sessions without their channel-3 status (a connection lost at the end), to
    /// check that such a session never counts as success.
    pub fn drop_exec_status(&self, enabled: bool) {
        self.state.lock().drop_exec_status = enabled;
    }

    /// Adds a fault rule (checked in insertion order).
    pub fn add_fault(&self, fault: Fault) {
        self.state.lock().faults.push(fault);
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.lock().requests.clone()
    }

    /// Pods currently stored.
    pub fn pods(&self) -> Vec<Pod> {
        self.state
            .lock()
            .pods
            .values()
            .map(|p| p.pod.clone())
            .collect()
    }

    /// Every pod ever created, as decoded from the request.
    pub fn created_pods(&self) -> Vec<Pod> {
        self.state.lock().created_pods.clone()
    }

    /// Secrets currently stored.
    pub fn secrets(&self) -> Vec<Secret> {
        self.state.lock().secrets.values().cloned().collect()
    }

    /// Names of the namespaces created through the API and not deleted.
    pub fn namespaces(&self) -> Vec<String> {
        self.state.lock().namespaces.keys().cloned().collect()
    }

    /// Every secret ever created, as decoded from the request.
    pub fn created_secrets(&self) -> Vec<Secret> {
        self.state.lock().created_secrets.clone()
    }

    /// Bytes of stdout/stderr sent over exec sessions so far.
    pub fn exec_output_bytes(&self) -> u64 {
        self.state.lock().exec_bytes
    }

    /// Stops the server and every open connection and exec: new requests are refused
    /// (`connection refused`), as when the API server is down.
    pub fn stop(&self) {
        self.server.abort();
        self.state
            .sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .abort_all();
    }

    /// Evicts a stored pod now (as [`Scenario::EvictOnExec`] does at the first exec).
    pub fn evict(&self, namespace: &str, name: &str) {
        let mut inner = self.state.lock();
        if let Some(stored) = inner.pods.get_mut(&(namespace.to_owned(), name.to_owned())) {
            pods::evict(stored);
        }
    }
}

impl Drop for FakeCluster {
    fn drop(&mut self) {
        self.server.abort();
        self.state
            .sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .abort_all();
    }
}
