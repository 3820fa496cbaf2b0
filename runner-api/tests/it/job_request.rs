//! Vectors 19–28: job requests, long polling and the commit.

use std::time::Duration;

use runner_api::fake::{Endpoint, FakeConfig, Fault};
use runner_api::{CommitOutcome, Error, JobRequestOutcome, Token};

use crate::support::*;

#[tokio::test]
async fn vector_19_and_20_last_update_is_echoed_and_kept() {
    let fake = fake().await;
    fake.inject_fault(
        Endpoint::RequestJob,
        1,
        Fault::status(204).header("X-GitLab-Last-Update", "q-17"),
    );
    fake.inject_fault(Endpoint::RequestJob, 1, Fault::status(204));
    let (client, _) = client(&fake);
    for _ in 0..3 {
        client.request_job(job_request(&fake)).await.unwrap();
    }
    let bodies: Vec<_> = fake
        .requests_to(Endpoint::RequestJob)
        .iter()
        .map(body_json)
        .collect();
    assert!(
        bodies[0].get("last_update").is_none(),
        "vector 20: first poll has no last_update"
    );
    assert_eq!(bodies[1]["last_update"], "q-17");
    assert_eq!(bodies[2]["last_update"], "q-17");
    assert_eq!(bodies[0]["system_id"], SYSTEM_ID);
    assert_eq!(bodies[0]["info"]["features"]["two_phase_job_commit"], true);
    assert_eq!(bodies[0]["info"]["features"]["image"], false);
}

#[tokio::test(start_paused = true)]
async fn long_poll_answers_as_soon_as_a_job_is_enqueued() {
    let fake = std::sync::Arc::new(
        fake_with(FakeConfig {
            long_poll: Duration::from_secs(50),
            ..FakeConfig::default()
        })
        .await,
    );
    let (client, _) = client(&fake);
    let request = job_request(&fake);
    let start = tokio::time::Instant::now();
    let poll = tokio::spawn(async move { client.request_job(request).await });
    assert!(
        fake.wait_for_requests(Endpoint::RequestJob, 1, Duration::from_secs(5))
            .await
    );
    tokio::time::sleep(Duration::from_secs(7)).await;
    let job_id = fake.enqueue_job(serde_json::json!({"job_info": {"name": "late"}}));
    let JobRequestOutcome::Job(job) = poll.await.unwrap().unwrap() else {
        panic!("expected a job")
    };
    assert_eq!(job.id, job_id);
    assert_eq!(job.job_info.name, "late");
    assert_eq!(start.elapsed(), Duration::from_secs(7));
}

#[tokio::test(start_paused = true)]
async fn long_poll_times_out_with_no_content() {
    let fake = fake_with(FakeConfig {
        long_poll: Duration::from_secs(50),
        ..FakeConfig::default()
    })
    .await;
    let (client, _) = client(&fake);
    let start = tokio::time::Instant::now();
    assert!(matches!(
        client.request_job(job_request(&fake)).await.unwrap(),
        JobRequestOutcome::NoJob
    ));
    assert_eq!(start.elapsed(), Duration::from_secs(50));
}

#[tokio::test]
async fn invalid_runner_token_reads_as_re_register() {
    let fake = fake().await;
    let (client, _) = client(&fake);
    let mut request = job_request(&fake);
    request.token = Token::new("glrt-wrong");
    let error = client.request_job(request).await.unwrap_err();
    assert!(matches!(
        error,
        Error::InvalidRunnerToken {
            endpoint: "request_job"
        }
    ));
    assert!(error.is_auth());
    assert!(
        error.to_string().contains("re-register the runner"),
        "{error}"
    );
}

#[tokio::test]
async fn vector_22_non_json_201_is_no_job() {
    let fake = fake().await;
    fake.inject_fault(
        Endpoint::RequestJob,
        1,
        Fault::status(201).header("content-type", "text/html"),
    );
    let (client, _) = client(&fake);
    let error = client.request_job(job_request(&fake)).await.unwrap_err();
    assert!(matches!(error, Error::Decode { .. }), "{error}");
    assert_eq!(fake.request_count(Endpoint::UpdateJob), 0);
}

#[tokio::test]
async fn vector_23_undecodable_job_is_reported_failed() {
    let fake = fake().await;
    let job_id = fake.enqueue_job(
        serde_json::json!({"inputs": [{"key": "x", "value": {"type": "string", "content": 1}}]}),
    );
    let (client, _) = client(&fake);
    let JobRequestOutcome::Undecodable(error) =
        client.request_job(job_request(&fake)).await.unwrap()
    else {
        panic!("expected an undecodable job")
    };
    let partial = error.partial.unwrap();
    assert_eq!(partial.id, job_id);
    client.fail_job(&partial, &info(), None).await.unwrap();
    let record = fake.job(job_id).unwrap();
    assert_eq!(record.final_state.as_deref(), Some("failed"));
    assert_eq!(
        record.last_update().unwrap().failure_reason.as_deref(),
        Some("runner_system_failure")
    );
}

#[tokio::test]
async fn vector_24_conflict_is_no_job_without_retry() {
    let fake = fake().await;
    fake.inject_fault(Endpoint::RequestJob, 1, Fault::status(409));
    let (client, _) = client(&fake);
    assert_eq!(
        client
            .request_job(job_request(&fake))
            .await
            .unwrap_err()
            .status(),
        Some(409)
    );
    assert_eq!(fake.request_count(Endpoint::RequestJob), 1);
}

#[tokio::test]
async fn vector_25_unknown_executor_opts_do_not_break_decoding() {
    let fake = fake().await;
    fake.enqueue_job(serde_json::json!({"image": {"name": "alpine", "executor_opts": {"docker": {"blammo": "x"}}}}));
    let (client, _) = client(&fake);
    let JobRequestOutcome::Job(job) = client.request_job(job_request(&fake)).await.unwrap() else {
        panic!("expected a job")
    };
    assert_eq!(job.image.executor_opts["docker"]["blammo"], "x");
}

async fn received_job(
    fake: &runner_api::fake::FakeCoordinator,
    client: &runner_api::Client,
) -> Box<runner_api::JobResponse> {
    match client.request_job(job_request(fake)).await.unwrap() {
        JobRequestOutcome::Job(job) => job,
        other => panic!("expected a job, got {other:?}"),
    }
}

#[tokio::test]
async fn vector_26_commit_sends_running_with_empty_output() {
    let fake = fake().await;
    let job_id = fake.enqueue_job(serde_json::json!({}));
    let (client, _) = client(&fake);
    let job = received_job(&fake, &client).await;
    assert_eq!(
        client.commit_job(job.id, &job.token, &info()).await,
        CommitOutcome::Run
    );
    let put = &fake.requests_to(Endpoint::UpdateJob)[0];
    assert_eq!(put.path_and_query, format!("/api/v4/jobs/{job_id}"));
    assert_eq!(put.headers["job-token"], job.token.expose());
    assert!(put.headers.get("accept").is_none());
    let body = body_json(put);
    assert_eq!(body["state"], "running");
    assert_eq!(body["output"], serde_json::json!({}));
    assert_eq!(body["token"], job.token.expose());
    assert!(body["info"].is_object());
    assert!(body.get("system_id").is_none());
}

#[tokio::test]
async fn vector_27_commit_answered_canceling() {
    let fake = fake().await;
    let job_id = fake.enqueue_job(serde_json::json!({}));
    let (client, _) = client(&fake);
    let job = received_job(&fake, &client).await;
    fake.request_cancel(job_id);
    assert_eq!(
        client.commit_job(job.id, &job.token, &info()).await,
        CommitOutcome::Canceling
    );
}

#[tokio::test]
async fn vector_28_commit_abort_answers() {
    let fake = fake().await;
    let (client, _) = client(&fake);
    fake.enqueue_job(serde_json::json!({}));
    let job = received_job(&fake, &client).await;
    fake.inject_fault(Endpoint::UpdateJob, 1, Fault::status(403));
    assert_eq!(
        client.commit_job(job.id, &job.token, &info()).await,
        CommitOutcome::Abort
    );
    fake.inject_fault(Endpoint::UpdateJob, 1, Fault::status(404));
    assert_eq!(
        client.commit_job(job.id, &job.token, &info()).await,
        CommitOutcome::Abort
    );
    fake.cancel_job(job.id);
    assert_eq!(
        client.commit_job(job.id, &job.token, &info()).await,
        CommitOutcome::Abort
    );
}
