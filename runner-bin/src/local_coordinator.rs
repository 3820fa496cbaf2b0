//! The local coordinator of `exec`: a small HTTP server on `127.0.0.1:0`, inside the
//! process, that answers the few job-scoped calls of the runner API a running job makes.
//!
//! `exec` runs every job through the same `job_runner::process` as `run`, which commits
//! the job, streams its trace and reports its end over HTTP. Rather than a second code
//! path that skips the API, this server plays GitLab's part for one pipeline: it records
//! each job's state (`PUT /api/v4/jobs/:id`), prints trace slices as they arrive
//! (`PATCH /api/v4/jobs/:id/trace`) and keeps the artifacts that jobs upload so later jobs
//! can download them (`POST`/`GET /api/v4/jobs/:id/artifacts`). Every call must carry the
//! pipeline's job token; unknown jobs are 404.
//!
//! It does not hand out jobs (`exec` decides the order) and never cancels one: Ctrl-C goes
//! through the runner's abort token, not through `Job-Status`.

mod dotenv;
mod http;
mod output;
mod source;

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub(crate) use output::TraceOutput;
pub(crate) use source::prepare_sources;

/// How a job ended, as its final `PUT` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FinalState {
    /// `success` or `failed`.
    pub(crate) state: String,
    /// The wire failure reason of a failed job.
    pub(crate) failure_reason: Option<String>,
    /// The script's exit code, when the runner reported one.
    pub(crate) exit_code: Option<i64>,
}

/// A running local coordinator; [`LocalCoordinator::shutdown`] stops it.
#[derive(Debug)]
pub(crate) struct LocalCoordinator {
    url: String,
    shared: Arc<Shared>,
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl LocalCoordinator {
    /// Listens on `127.0.0.1:0`. Calls must carry `job_token`; uploaded artifacts are kept
    /// under `storage`; trace bytes go to `output`.
    pub(crate) async fn start(
        job_token: String,
        storage: PathBuf,
        output: TraceOutput,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            job_token,
            storage,
            state: Mutex::new(State {
                jobs: HashMap::new(),
                output,
            }),
        });
        let stop = CancellationToken::new();
        let tasks = TaskTracker::new();
        tasks.spawn(http::serve(
            listener,
            Arc::clone(&shared),
            stop.clone(),
            tasks.clone(),
        ));
        Ok(Self {
            url,
            shared,
            stop,
            tasks,
        })
    }

    /// The base URL (`http://127.0.0.1:<port>`), the runner's `url` and `CI_SERVER_URL`.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Makes job `job_id` known; calls for other ids are answered 404.
    pub(crate) fn add_job(&self, job_id: u64) {
        self.shared
            .state()
            .jobs
            .insert(job_id, JobRecord::default());
    }

    /// The final state the runner reported for `job_id`, if any.
    pub(crate) fn final_state(&self, job_id: u64) -> Option<FinalState> {
        self.shared
            .state()
            .jobs
            .get(&job_id)
            .and_then(|job| job.final_state.clone())
    }

    /// Whether `job_id` uploaded an artifacts archive.
    pub(crate) fn has_artifacts(&self, job_id: u64) -> bool {
        self.shared
            .state()
            .jobs
            .get(&job_id)
            .is_some_and(|job| job.artifacts.is_some())
    }

    /// The `artifacts:reports:dotenv` variables `job_id` uploaded, in file order.
    pub(crate) fn dotenv(&self, job_id: u64) -> Vec<(String, String)> {
        self.shared
            .state()
            .jobs
            .get(&job_id)
            .map(|job| job.dotenv.clone())
            .unwrap_or_default()
    }

    /// Writes out what is left of `job_id`'s trace (a last line without a newline).
    pub(crate) fn flush_trace(&self, job_id: u64) {
        let mut state = self.shared.state();
        let state = &mut *state;
        if let Some(job) = state.jobs.get_mut(&job_id) {
            state.output.finish(&mut job.pending_line);
        }
    }

    /// Stops accepting, lets open connections finish, and waits for every task.
    pub(crate) async fn shutdown(self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

/// What the request handlers share.
#[derive(Debug)]
struct Shared {
    job_token: String,
    storage: PathBuf,
    state: Mutex<State>,
}

impl Shared {
    /// The state; a handler that panicked mid-update leaves data that is still usable.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[derive(Debug)]
struct State {
    jobs: HashMap<u64, JobRecord>,
    output: TraceOutput,
}

#[derive(Debug, Default)]
struct JobRecord {
    /// Trace bytes received so far (the next PATCH must start here).
    trace_len: u64,
    /// The start of a line not yet printed (line-buffered output only).
    pending_line: Vec<u8>,
    final_state: Option<FinalState>,
    /// The uploaded archive on disk.
    artifacts: Option<PathBuf>,
    /// Variables of its `artifacts:reports:dotenv` upload.
    dotenv: Vec<(String, String)>,
}

impl State {
    fn print(&mut self, job_id: u64, bytes: &[u8]) {
        if let Some(job) = self.jobs.get_mut(&job_id) {
            self.output.write(&mut job.pending_line, bytes);
        }
    }
}

/// Flushes `writer`, ignoring a closed terminal: the job must not fail because of it.
fn flush(writer: &mut dyn Write) {
    let _ = writer.flush();
}

#[cfg(test)]
mod tests;
