//! [`FakeCoordinator`]: the listener, its configuration and the test-facing API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::fake::state::{CancelState, Data, Endpoint, Fault, JobRecord, RecordedRequest};

/// Settings of a [`FakeCoordinator`].
#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// The runner token accepted by verify, job requests and unregister.
    pub runner_token: String,
    /// The registration token accepted by `POST runners`.
    pub registration_token: String,
    /// Runner id returned by register and verify.
    pub runner_id: i64,
    /// How long `jobs/request` is held while the queue is empty (0: answer 204 at once).
    pub long_poll: Duration,
    /// `X-GitLab-Trace-Update-Interval` sent on PATCH and PUT answers, if any.
    pub update_interval: Option<u32>,
    /// Directory served under `/repo/` (e.g. a bare repository after `git update-server-info`).
    pub static_dir: Option<PathBuf>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            runner_token: "glrt-fake-runner-token".to_owned(),
            registration_token: "GR1348941fakeregistration".to_owned(),
            runner_id: 12345,
            long_poll: Duration::ZERO,
            update_interval: None,
            static_dir: None,
        }
    }
}

pub(crate) struct Shared {
    pub(crate) config: FakeConfig,
    pub(crate) data: Mutex<Data>,
    /// Woken when a job is enqueued.
    pub(crate) queue_changed: Notify,
    /// Woken on every recorded change.
    pub(crate) changed: Notify,
}

impl Shared {
    pub(crate) fn data(&self) -> MutexGuard<'_, Data> {
        // A test thread that panicked while holding the lock leaves consistent data: recover it.
        self.data
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A fake GitLab coordinator on `127.0.0.1:<random port>`. Stops when dropped.
pub struct FakeCoordinator {
    shared: Arc<Shared>,
    address: SocketAddr,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FakeCoordinator {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("FakeCoordinator")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl FakeCoordinator {
    /// Starts a fake with [`FakeConfig::default`].
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(FakeConfig::default()).await
    }

    /// Starts a fake with `config`.
    pub async fn start_with(config: FakeConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let data = Data {
            runner_token: config.runner_token.clone(),
            next_job_id: 1000,
            ..Data::default()
        };
        let shared = Arc::new(Shared {
            config,
            data: Mutex::new(data),
            queue_changed: Notify::new(),
            changed: Notify::new(),
        });
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(accept_loop(listener, shared.clone(), shutdown.clone()));
        Ok(Self {
            shared,
            address,
            shutdown,
            task: Some(task),
        })
    }

    /// The coordinator URL to configure, e.g. `http://127.0.0.1:41234/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.address)
    }

    /// The listening address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The runner token currently accepted (changes after a token reset).
    pub fn runner_token(&self) -> String {
        self.shared.data().runner_token.clone()
    }

    /// The registration token accepted by `POST runners`.
    pub fn registration_token(&self) -> String {
        self.shared.config.registration_token.clone()
    }

    /// Queues a job payload; `id` and `token` are filled in when absent. Returns the job id.
    pub fn enqueue_job(&self, payload: serde_json::Value) -> u64 {
        self.enqueue(payload, None)
    }

    fn enqueue(&self, mut payload: serde_json::Value, raw_payload: Option<Vec<u8>>) -> u64 {
        let id = {
            let mut data = self.shared.data();
            let id = payload
                .get("id")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or_else(|| {
                    data.next_job_id += 1;
                    data.next_job_id
                });
            if let Some(object) = payload.as_object_mut() {
                object.insert("id".to_owned(), id.into());
                object
                    .entry("token")
                    .or_insert_with(|| format!("glcbt-fake-job-token-{id}").into());
                object
                    .entry("git_info")
                    .or_insert_with(|| serde_json::json!({"repo_url": "", "sha": "", "ref": ""}));
                object
                    .entry("steps")
                    .or_insert_with(|| serde_json::json!([]));
            }
            let token = payload
                .get("token")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("")
                .to_owned();
            data.jobs.insert(
                id,
                JobRecord {
                    id,
                    token,
                    payload,
                    raw_payload,
                    ..JobRecord::default()
                },
            );
            data.queue.push_back(id);
            data.queue_version += 1;
            id
        };
        self.shared.queue_changed.notify_waiters();
        self.shared.changed.notify_waiters();
        id
    }

    /// Queues a job whose served bytes are `raw` (e.g. with invalid UTF-8) while the fake's
    /// records come from `payload`, which must carry the same `id` and `token`.
    pub fn enqueue_raw_job(&self, payload: serde_json::Value, raw: Vec<u8>) -> u64 {
        self.enqueue(payload, Some(raw))
    }

    /// Queues a typed job (see [`Self::enqueue_job`]).
    pub fn enqueue_job_response(&self, job: &crate::wire::JobResponse) -> u64 {
        self.enqueue_job(serde_json::to_value(job).unwrap_or_default())
    }

    /// How far a job got, without copying its log: the number of updates received and the
    /// final state once there (for benches polling jobs with logs of hundreds of MiB).
    pub fn job_progress(&self, job_id: u64) -> Option<(usize, Option<String>)> {
        self.shared
            .data()
            .jobs
            .get(&job_id)
            .map(|job| (job.updates.len(), job.final_state.clone()))
    }

    /// A snapshot of a job's record.
    pub fn job(&self, job_id: u64) -> Option<JobRecord> {
        self.shared.data().snapshot(job_id)
    }

    /// Cancels a job: later PATCH/PUT answers carry `Job-Status: canceled`.
    pub fn cancel_job(&self, job_id: u64) {
        self.set_cancel(job_id, CancelState::Canceled);
    }

    /// Requests a graceful cancel: later answers carry `Job-Status: canceling`.
    pub fn request_cancel(&self, job_id: u64) {
        self.set_cancel(job_id, CancelState::Canceling);
    }

    fn set_cancel(&self, job_id: u64, state: CancelState) {
        if let Some(job) = self.shared.data().jobs.get_mut(&job_id) {
            job.cancel = state;
        }
        self.shared.changed.notify_waiters();
    }

    /// The next `count` requests to `endpoint` are answered with `fault`.
    pub fn inject_fault(&self, endpoint: Endpoint, count: usize, fault: Fault) {
        let mut data = self.shared.data();
        let queue = data.faults.entry(endpoint).or_default();
        queue.extend(std::iter::repeat_n(fault, count));
    }

    /// Requests received by `endpoint` so far.
    pub fn request_count(&self, endpoint: Endpoint) -> usize {
        self.shared
            .data()
            .counts
            .get(&endpoint)
            .copied()
            .unwrap_or(0)
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.data().requests.clone()
    }

    /// Requests received by `endpoint`, in order.
    pub fn requests_to(&self, endpoint: Endpoint) -> Vec<RecordedRequest> {
        self.shared
            .data()
            .requests
            .iter()
            .filter(|request| request.endpoint == endpoint)
            .cloned()
            .collect()
    }

    /// Waits (without polling) until `job_id` has a final state, up to `timeout`.
    pub async fn wait_for_job_final_state(
        &self,
        job_id: u64,
        timeout: Duration,
    ) -> Option<JobRecord> {
        self.wait_until(timeout, |data| {
            data.jobs
                .get(&job_id)
                .filter(|job| job.final_state.is_some())
                .and_then(|_| data.snapshot(job_id))
        })
        .await
    }

    /// Waits until no `jobs/request` is waiting in its long poll, up to `timeout`; `false` if
    /// one still is. After a runner process ended, this is when a newly queued job can only go
    /// to a runner that is still there.
    pub async fn wait_for_no_waiting_job_requests(&self, timeout: Duration) -> bool {
        self.wait_until(timeout, |data| {
            (data.waiting_job_requests == 0).then_some(())
        })
        .await
        .is_some()
    }

    /// Waits until `endpoint` received at least `count` requests, up to `timeout`.
    pub async fn wait_for_requests(
        &self,
        endpoint: Endpoint,
        count: usize,
        timeout: Duration,
    ) -> bool {
        self.wait_until(timeout, |data| {
            (data.counts.get(&endpoint).copied().unwrap_or(0) >= count).then_some(())
        })
        .await
        .is_some()
    }

    async fn wait_until<T>(
        &self,
        timeout: Duration,
        check: impl Fn(&Data) -> Option<T>,
    ) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(found) = check(&self.shared.data()) {
                return Some(found);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return check(&self.shared.data());
            }
        }
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for FakeCoordinator {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = shared.clone();
                connections.spawn(async move {
                    let service = service_fn(move |request| crate::fake::handlers::handle(shared.clone(), request));
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}
