//! Contract tests against gitlab-runner-mock, an independent coordinator mock that checks
//! `system_id`, `Content-Range` and `Content-Type` strictly.

use bytes::Bytes;
use gitlab_runner_mock::{GitlabRunnerMock, MockJobState};
use runner_api::{
    ClientBuilder, CommitOutcome, JobRequestOutcome, JobResult, JobTrace, Token, TraceOptions,
};

use crate::support::*;

fn request(mock: &GitlabRunnerMock) -> runner_api::JobRequest {
    runner_api::JobRequest {
        info: info(),
        token: Token::new(mock.runner_token()),
        system_id: SYSTEM_ID.to_owned(),
        last_update: None,
        session: None,
    }
}

#[tokio::test]
async fn request_job_send_trace_and_finish_against_the_mock() {
    let mock = GitlabRunnerMock::start().await;
    let mock_job = mock.add_dummy_job("contract".to_owned());
    let client = ClientBuilder::new(mock.uri().as_str()).build().unwrap();
    let JobRequestOutcome::Job(job) = client.request_job(request(&mock)).await.unwrap() else {
        panic!("the mock should hand out its job")
    };
    assert_eq!(job.id, mock_job.id());
    assert_eq!(job.job_info.name, "contract");
    assert!(!job.variables.is_empty());
    assert_eq!(
        client.commit_job(job.id, &job.token, &info()).await,
        CommitOutcome::Run
    );

    let (output, receiver) = tokio::sync::mpsc::channel(4);
    let options = TraceOptions {
        max_patch_size: 5,
        ..TraceOptions::default()
    };
    let trace = JobTrace::start(client.clone(), &job, info(), receiver, options);
    output
        .send(Bytes::from_static(b"hello from "))
        .await
        .unwrap();
    output
        .send(Bytes::from_static(b"runner-api\n"))
        .await
        .unwrap();
    drop(output);
    trace.finish(JobResult::success()).await.unwrap();

    let finished = mock.get_job(job.id).unwrap();
    assert_eq!(finished.state(), MockJobState::Success);
    assert_eq!(finished.log(), b"hello from runner-api\n");
    assert!(finished.log_patches() >= 5);
}

#[tokio::test]
async fn mock_reports_no_job_when_the_queue_is_empty() {
    let mock = GitlabRunnerMock::start().await;
    let client = ClientBuilder::new(mock.uri().as_str()).build().unwrap();
    assert!(matches!(
        client.request_job(request(&mock)).await.unwrap(),
        JobRequestOutcome::NoJob
    ));
    let mut wrong = request(&mock);
    wrong.token = Token::new("nope");
    assert!(client.request_job(wrong).await.unwrap_err().is_auth());
}

#[tokio::test]
async fn failed_job_with_exit_code_against_the_mock() {
    let mock = GitlabRunnerMock::start().await;
    mock.add_dummy_job("fails".to_owned());
    let client = ClientBuilder::new(mock.uri().as_str()).build().unwrap();
    let JobRequestOutcome::Job(job) = client.request_job(request(&mock)).await.unwrap() else {
        panic!("expected a job")
    };
    let (output, receiver) = tokio::sync::mpsc::channel(4);
    let trace = JobTrace::start(client, &job, info(), receiver, TraceOptions::default());
    output.send(Bytes::from_static(b"boom\n")).await.unwrap();
    drop(output);
    trace
        .finish(JobResult::failed("script_failure", Some(1)))
        .await
        .unwrap();
    assert_eq!(mock.get_job(job.id).unwrap().state(), MockJobState::Failed);
}
