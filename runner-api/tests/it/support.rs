//! Shared setup for the integration tests.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use runner_api::fake::{FakeConfig, FakeCoordinator, RecordingClock};
use runner_api::{Client, ClientBuilder, Features, JobRequest, RunnerInfo, Token};

pub(crate) const SYSTEM_ID: &str = "s_0123456789ab";

pub(crate) fn info() -> RunnerInfo {
    RunnerInfo::new(
        "shell",
        "bash",
        Features {
            variables: true,
            refspecs: true,
            ..Features::network_client()
        },
    )
}

pub(crate) async fn fake() -> FakeCoordinator {
    FakeCoordinator::start().await.unwrap()
}

pub(crate) async fn fake_with(config: FakeConfig) -> FakeCoordinator {
    FakeCoordinator::start_with(config).await.unwrap()
}

/// Wall time at which recording clocks start.
pub(crate) fn base_time() -> SystemTime {
    httpdate::parse_http_date("Wed, 21 Oct 2015 07:27:58 GMT").unwrap()
}

pub(crate) fn builder(fake: &FakeCoordinator, clock: &RecordingClock) -> ClientBuilder {
    ClientBuilder::new(fake.url())
        .clock(Arc::new(clock.clone()))
        .jitter(Arc::new(|| 0.5))
}

pub(crate) fn client(fake: &FakeCoordinator) -> (Client, RecordingClock) {
    let clock = RecordingClock::new(base_time());
    (builder(fake, &clock).build().unwrap(), clock)
}

pub(crate) fn job_request(fake: &FakeCoordinator) -> JobRequest {
    JobRequest {
        info: info(),
        token: Token::new(fake.runner_token()),
        system_id: SYSTEM_ID.to_owned(),
        last_update: None,
        session: None,
    }
}

pub(crate) fn millis(values: &[u64]) -> Vec<Duration> {
    values
        .iter()
        .map(|value| Duration::from_millis(*value))
        .collect()
}

pub(crate) fn body_json(request: &runner_api::fake::RecordedRequest) -> serde_json::Value {
    serde_json::from_slice(&request.body).unwrap()
}
