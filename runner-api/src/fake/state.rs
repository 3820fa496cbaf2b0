//! What the fake coordinator records and the faults it replays.

use std::collections::{BTreeMap, HashMap, VecDeque};

use bytes::Bytes;

/// Endpoints the fake distinguishes (for counts and fault injection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// `POST runners`.
    Register,
    /// `POST runners/verify`.
    Verify,
    /// `DELETE runners`.
    UnregisterRunner,
    /// `DELETE runners/managers`.
    UnregisterManager,
    /// `POST runners/reset_authentication_token`.
    ResetToken,
    /// `POST jobs/request`.
    RequestJob,
    /// `PUT jobs/:id`.
    UpdateJob,
    /// `PATCH jobs/:id/trace`.
    PatchTrace,
    /// `POST jobs/:id/artifacts`.
    UploadArtifacts,
    /// `GET jobs/:id/artifacts`.
    DownloadArtifacts,
    /// `GET /repo/...` static files.
    Repo,
    /// Anything else (answered 404).
    Other,
}

/// A scripted response replacing the normal handling of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// Status code.
    pub status: u16,
    /// Response headers.
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: String,
}

impl Fault {
    /// A fault answering `status` with no headers and an empty body.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    /// Adds a response header.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets a JSON body (and `Content-Type: application/json`).
    #[must_use]
    pub fn json(mut self, body: &serde_json::Value) -> Self {
        self.body = body.to_string();
        self.header("content-type", "application/json")
    }
}

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Which endpoint it hit.
    pub endpoint: Endpoint,
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path_and_query: String,
    /// Request headers.
    pub headers: http::HeaderMap,
    /// Request body (empty for trace PATCHes, whose bytes go to [`JobRecord::trace`]).
    pub body: Bytes,
    /// When it arrived, on tokio's clock (paused in tests).
    pub at: tokio::time::Instant,
}

/// Whether a test cancelled a job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CancelState {
    /// Running normally.
    #[default]
    None,
    /// Graceful cancel requested: answers carry `Job-Status: canceling`.
    Canceling,
    /// Hard cancel: answers carry `Job-Status: canceled`.
    Canceled,
}

/// One `PUT jobs/:id` the fake accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct JobUpdateRecord {
    /// `running`, `success`, `failed`.
    pub state: String,
    /// Failure reason, if sent.
    pub failure_reason: Option<String>,
    /// Exit code, if sent.
    pub exit_code: Option<i64>,
    /// `output.checksum`, if sent.
    pub checksum: Option<String>,
    /// `output.bytesize`, if sent.
    pub bytesize: Option<u64>,
    /// The whole body.
    pub body: serde_json::Value,
}

/// An uploaded artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredArtifact {
    /// Multipart file name.
    pub filename: String,
    /// File bytes.
    pub data: Bytes,
    /// Query parameters (`artifact_format`, `artifact_type`, `expire_in`).
    pub query: BTreeMap<String, String>,
}

/// Everything the fake knows about one job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobRecord {
    /// Job id.
    pub id: u64,
    /// Job token.
    pub token: String,
    /// The payload served.
    pub payload: serde_json::Value,
    /// Bytes served instead of `payload`, for payloads JSON cannot hold (invalid UTF-8).
    pub raw_payload: Option<Vec<u8>>,
    /// Accepted job updates, in order.
    pub updates: Vec<JobUpdateRecord>,
    /// The log assembled from PATCHes.
    pub trace: Vec<u8>,
    /// `Content-Range` of each accepted PATCH.
    pub patches: Vec<(u64, u64)>,
    /// Cancellation requested by the test.
    pub cancel: CancelState,
    /// `success` or `failed` once the final update arrived.
    pub final_state: Option<String>,
    /// Uploaded artifacts.
    pub artifacts: Vec<StoredArtifact>,
}

impl JobRecord {
    /// The last update received.
    pub fn last_update(&self) -> Option<&JobUpdateRecord> {
        self.updates.last()
    }
}

/// Mutable state behind the fake's lock.
#[derive(Debug, Default)]
pub(crate) struct Data {
    pub(crate) runner_token: String,
    pub(crate) next_job_id: u64,
    pub(crate) queue: VecDeque<u64>,
    pub(crate) queue_version: u64,
    pub(crate) jobs: BTreeMap<u64, JobRecord>,
    pub(crate) faults: HashMap<Endpoint, VecDeque<Fault>>,
    pub(crate) counts: HashMap<Endpoint, usize>,
    pub(crate) requests: Vec<RecordedRequest>,
    pub(crate) rotations: u64,
    /// Assembled logs as received chunks (no copy); `JobRecord::trace` is filled on snapshot.
    pub(crate) traces: HashMap<u64, Vec<Bytes>>,
    /// `jobs/request` calls waiting in their long poll right now.
    pub(crate) waiting_job_requests: usize,
}

impl Data {
    /// The bytes of the log stored for `job_id`.
    pub(crate) fn trace_len(&self, job_id: u64) -> u64 {
        self.traces.get(&job_id).map_or(0, |chunks| {
            chunks.iter().map(|chunk| chunk.len() as u64).sum()
        })
    }

    /// A copy of a job's record with its log assembled.
    pub(crate) fn snapshot(&self, job_id: u64) -> Option<JobRecord> {
        let mut record = self.jobs.get(&job_id)?.clone();
        record.trace = self
            .traces
            .get(&job_id)
            .map(|chunks| chunks.concat())
            .unwrap_or_default();
        Some(record)
    }
}
