//! Vectors 5–18: the HTTP retry layer. Waits are recorded by the injected clock and the
//! request times by the fake, both on tokio's paused clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use runner_api::fake::{Endpoint, Fault};
use runner_api::wire::{JobState, JobUpdate, OutputInfo};
use runner_api::{ClientBuilder, Error, JobRequestOutcome, ResponseEvent, Token};

use crate::support::*;

fn date(offset_seconds: u64) -> String {
    httpdate::fmt_http_date(base_time() + Duration::from_secs(offset_seconds))
}

async fn poll_after(
    faults: Vec<Fault>,
) -> (
    Result<JobRequestOutcome, Error>,
    Vec<Duration>,
    Vec<tokio::time::Instant>,
) {
    let fake = fake().await;
    for fault in faults {
        fake.inject_fault(Endpoint::RequestJob, 1, fault);
    }
    let (client, clock) = client(&fake);
    let result = client.request_job(job_request(&fake)).await;
    let times = fake
        .requests_to(Endpoint::RequestJob)
        .iter()
        .map(|request| request.at)
        .collect();
    (result, clock.sleeps(), times)
}

#[tokio::test(start_paused = true)]
async fn vector_05_future_reset_time_is_waited_for() {
    let (result, sleeps, times) = poll_after(vec![
        Fault::status(429).header("RateLimit-ResetTime", &date(2)),
    ])
    .await;
    assert!(matches!(result, Ok(JobRequestOutcome::NoJob)));
    assert_eq!(sleeps, vec![Duration::from_secs(2)]);
    assert_eq!(times.len(), 2);
    assert_eq!(times[1] - times[0], Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn vector_06_past_reset_time_falls_back_to_retry_after() {
    let fault = Fault::status(429)
        .header("RateLimit-ResetTime", "Wed, 21 Oct 2015 07:28:00 GMT")
        .header("Retry-After", "3");
    let fake = fake().await;
    fake.inject_fault(Endpoint::RequestJob, 1, fault);
    // The clock's wall time is one hour after the reset time.
    let clock = runner_api::fake::RecordingClock::new(base_time() + Duration::from_secs(3600));
    let client = builder(&fake, &clock).build().unwrap();
    client.request_job(job_request(&fake)).await.unwrap();
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(3)]);
}

#[tokio::test(start_paused = true)]
async fn vector_07_past_reset_time_without_retry_after_uses_the_backoff() {
    let (_, sleeps, _) = poll_after(vec![
        Fault::status(429).header("RateLimit-ResetTime", "Wed, 21 Oct 2015 07:00:00 GMT"),
    ])
    .await;
    assert_eq!(sleeps, millis(&[100]));
}

#[tokio::test(start_paused = true)]
async fn vector_08_invalid_reset_time_falls_back_to_retry_after() {
    let (_, sleeps, _) = poll_after(vec![
        Fault::status(429)
            .header("RateLimit-ResetTime", "invalid")
            .header("Retry-After", "30"),
    ])
    .await;
    assert_eq!(sleeps, vec![Duration::from_secs(30)]);
}

#[tokio::test(start_paused = true)]
async fn vector_09_numeric_zone_is_unparsable() {
    let fault = Fault::status(429).header("ratelimit-resettime", "Wed, 21 Oct 2015 07:28:00 +0000");
    let (_, sleeps, _) = poll_after(vec![fault]).await;
    assert_eq!(sleeps, millis(&[100]));
}

#[tokio::test(start_paused = true)]
async fn vector_10_retry_after_date_is_unparsable() {
    let (_, sleeps, _) = poll_after(vec![
        Fault::status(429).header("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"),
    ])
    .await;
    assert_eq!(sleeps, millis(&[100]));
}

#[tokio::test(start_paused = true)]
async fn vector_11_retry_after_zero_uses_the_backoff() {
    let (_, sleeps, _) = poll_after(vec![Fault::status(429).header("RETRY-AFTER", "0")]).await;
    assert_eq!(sleeps, millis(&[100]));
}

#[tokio::test(start_paused = true)]
async fn vector_12_backoff_schedule_with_jitter() {
    let (result, sleeps, times) = poll_after(vec![Fault::status(429); 3]).await;
    assert!(result.is_ok());
    // Jitter 0.5: 100 ms, then in [100, 200), then in [100, 400).
    assert_eq!(sleeps, millis(&[100, 150, 250]));
    assert_eq!(times.len(), 4);
    assert_eq!(times[3] - times[0], Duration::from_millis(500));
}

#[tokio::test(start_paused = true)]
async fn vector_13_rate_limited_poll_is_retried_five_times_then_fails() {
    // Seed C3 wins over the reference: the first attempt plus at most 5 retries.
    let (result, sleeps, times) = poll_after(vec![Fault::status(429); 10]).await;
    assert_eq!(times.len(), 6);
    assert_eq!(sleeps.len(), 5);
    let error = result.unwrap_err();
    assert_eq!(error.status(), Some(429));
    assert!(
        error.to_string().contains("429 Too Many Requests"),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn vector_14_unavailable_is_retried_five_attempts() {
    let (result, sleeps, times) =
        poll_after(vec![Fault::status(503).header("Retry-After", "1"); 10]).await;
    assert_eq!(times.len(), 5);
    assert_eq!(sleeps, vec![Duration::from_secs(1); 4]);
    assert_eq!(times[4] - times[0], Duration::from_secs(4));
    assert!(result.unwrap_err().is_unavailable());
}

#[tokio::test(start_paused = true)]
async fn vector_15_final_put_is_retried_with_identical_bodies() {
    let fake = fake().await;
    let job_id = fake.enqueue_job(serde_json::json!({}));
    let token = Token::new(fake.job(job_id).unwrap().token);
    fake.inject_fault(Endpoint::UpdateJob, 2, Fault::status(500));
    let (client, _) = client(&fake);
    let update = JobUpdate {
        state: JobState::Success,
        checksum: Some("crc32:363a3020".to_owned()),
        output: OutputInfo {
            checksum: "crc32:363a3020".to_owned(),
            bytesize: 6,
        },
        ..JobUpdate::commit(token, info())
    };
    let response = client.update_job(job_id, &update).await.unwrap();
    assert_eq!(response.outcome, runner_api::UpdateOutcome::Ok);
    let puts = fake.requests_to(Endpoint::UpdateJob);
    assert_eq!(puts.len(), 3);
    assert!(puts.iter().all(|put| put.body == puts[0].body));
    assert_eq!(
        fake.job(job_id).unwrap().final_state.as_deref(),
        Some("success")
    );
}

#[tokio::test(start_paused = true)]
async fn vector_16_which_statuses_are_retried() {
    let (result, _, times) = poll_after(vec![Fault::status(515)]).await;
    assert!(result.is_ok());
    assert_eq!(times.len(), 2);
    for status in [501, 400, 401, 403, 404, 409, 413, 416] {
        let (result, sleeps, times) = poll_after(vec![Fault::status(status); 2]).await;
        assert_eq!(times.len(), 1, "status {status}");
        assert!(sleeps.is_empty());
        assert_eq!(result.unwrap_err().status(), Some(status));
    }
}

#[tokio::test]
async fn vector_17_connection_refused_is_one_attempt() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let events = Arc::new(Mutex::new(Vec::<ResponseEvent>::new()));
    let recorded = events.clone();
    let client = ClientBuilder::new(format!("http://{address}/"))
        .on_response(Arc::new(move |event: &ResponseEvent| {
            recorded.lock().unwrap().push(event.clone())
        }))
        .build()
        .unwrap();
    let fake = fake().await;
    let error = client.request_job(job_request(&fake)).await.unwrap_err();
    assert!(
        error.to_string().starts_with(&format!(
            "couldn't execute POST against http://{address}/api/v4/jobs/request"
        )),
        "{error}"
    );
    assert!(error.is_retryable());
    let events = events.lock().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0],
        ResponseEvent {
            endpoint: "request_job",
            method: "POST",
            status: None,
            attempt: 1,
            // Latency is real time; copy it so the comparison covers every other field.
            elapsed: events[0].elapsed,
        }
    );
}

/// A clock whose sleeps never end: only shutdown can end a wait.
struct StuckClock;

impl runner_api::Clock for StuckClock {
    fn now_system(&self) -> std::time::SystemTime {
        base_time()
    }

    fn sleep(&self, _duration: Duration) -> runner_api::Sleep {
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn vector_18_shutdown_ends_a_rate_limit_wait() {
    let fake = fake().await;
    fake.inject_fault(
        Endpoint::RequestJob,
        1,
        Fault::status(429).header("RateLimit-ResetTime", &date(600)),
    );
    let shutdown = tokio_util::sync::CancellationToken::new();
    let client = ClientBuilder::new(fake.url())
        .clock(Arc::new(StuckClock))
        .shutdown(shutdown.clone())
        .build()
        .unwrap();
    let request = job_request(&fake);
    let poll = tokio::spawn(async move { client.request_job(request).await });
    assert!(
        fake.wait_for_requests(Endpoint::RequestJob, 1, Duration::from_secs(10))
            .await
    );
    shutdown.cancel();
    let error = poll.await.unwrap().unwrap_err();
    assert!(error.is_cancelled(), "{error}");
    assert_eq!(fake.request_count(Endpoint::RequestJob), 1);
}

#[tokio::test(start_paused = true)]
async fn observer_sees_every_attempt_with_its_status() {
    let fake = fake().await;
    fake.inject_fault(Endpoint::RequestJob, 1, Fault::status(502));
    let events = Arc::new(Mutex::new(Vec::<ResponseEvent>::new()));
    let recorded = events.clone();
    let clock = runner_api::fake::RecordingClock::new(base_time());
    let client = builder(&fake, &clock)
        .on_response(Arc::new(move |event: &ResponseEvent| {
            recorded.lock().unwrap().push(event.clone())
        }))
        .build()
        .unwrap();
    client.request_job(job_request(&fake)).await.unwrap();
    let statuses: Vec<_> = events
        .lock()
        .unwrap()
        .iter()
        .map(|event| (event.endpoint, event.status, event.attempt))
        .collect();
    assert_eq!(
        statuses,
        vec![("request_job", Some(502), 1), ("request_job", Some(204), 2)]
    );
}
