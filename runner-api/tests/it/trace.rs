//! Vectors 29–45: trace PATCHes, keep-alive, final update and cancellation.

use std::time::Duration;

use bytes::Bytes;
use runner_api::fake::{Endpoint, FakeConfig, FakeCoordinator, Fault};
use runner_api::{
    FinalOutcome, JobResponse, JobResult, JobTrace, PatchOutcome, Token, TraceOptions,
    trace_checksum,
};
use tokio::sync::mpsc;

use crate::support::*;

async fn job(fake: &FakeCoordinator, payload: serde_json::Value) -> JobResponse {
    let job_id = fake.enqueue_job(payload);
    JobResponse::from_json(&serde_json::to_vec(&fake.job(job_id).unwrap().payload).unwrap())
        .unwrap()
}

fn start(
    fake: &FakeCoordinator,
    job: &JobResponse,
    options: TraceOptions,
) -> (mpsc::Sender<Bytes>, JobTrace) {
    let (client, _) = client(fake);
    let (output, receiver) = mpsc::channel(16);
    (
        output,
        JobTrace::start(client, job, info(), receiver, options),
    )
}

fn ranges(fake: &FakeCoordinator) -> Vec<String> {
    fake.requests_to(Endpoint::PatchTrace)
        .iter()
        .map(|request| {
            request.headers["content-range"]
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn vector_29_patch_headers() {
    let fake = fake().await;
    let job = job(&fake, serde_json::json!({})).await;
    let (client, _) = client(&fake);
    let response = client
        .patch_trace(
            job.id,
            &job.token,
            0,
            Bytes::from_static(b"17 bytes of text\n"),
            false,
        )
        .await
        .unwrap();
    assert_eq!(response.outcome, PatchOutcome::Accepted { next_offset: 17 });
    let patch = &fake.requests_to(Endpoint::PatchTrace)[0];
    assert_eq!(
        patch.path_and_query,
        format!("/api/v4/jobs/{}/trace?debug_trace=false", job.id)
    );
    assert_eq!(patch.headers["content-range"], "0-16");
    assert_eq!(patch.headers["content-length"], "17");
    assert_eq!(patch.headers["content-type"], "text/plain");
    assert_eq!(patch.headers["job-token"], job.token.expose());
}

#[tokio::test(start_paused = true)]
async fn vector_30_debug_trace_variable_sets_the_query() {
    let fake = fake().await;
    let job = job(&fake, serde_json::json!({"variables": [{"key": "CI_DEBUG_TRACE", "value": "true", "public": true}]})).await;
    let (output, trace) = start(&fake, &job, TraceOptions::default());
    output.send(Bytes::from_static(b"x")).await.unwrap();
    drop(output);
    trace.finish(JobResult::success()).await.unwrap();
    assert!(
        fake.requests_to(Endpoint::PatchTrace)[0]
            .path_and_query
            .ends_with("?debug_trace=true")
    );
}

#[tokio::test]
async fn vectors_31_to_33_patch_offsets() {
    let fake = fake().await;
    let job = job(&fake, serde_json::json!({})).await;
    let (client, _) = client(&fake);
    let slice = Bytes::from_static(b"17 bytes of text\n");
    fake.inject_fault(
        Endpoint::PatchTrace,
        1,
        Fault::status(202).header("Range", "0-99"),
    );
    let accepted = client
        .patch_trace(job.id, &job.token, 0, slice.clone(), false)
        .await
        .unwrap();
    assert_eq!(accepted.outcome, PatchOutcome::Accepted { next_offset: 17 });
    fake.inject_fault(
        Endpoint::PatchTrace,
        1,
        Fault::status(416).header("Range", "0-1234"),
    );
    let mismatch = client
        .patch_trace(job.id, &job.token, 17, slice.clone(), false)
        .await
        .unwrap();
    assert_eq!(
        mismatch.outcome,
        PatchOutcome::RangeMismatch { resume_at: 1234 }
    );
    fake.inject_fault(Endpoint::PatchTrace, 1, Fault::status(416));
    let no_range = client
        .patch_trace(job.id, &job.token, 17, slice, false)
        .await
        .unwrap();
    assert_eq!(
        no_range.outcome,
        PatchOutcome::RangeMismatch { resume_at: 0 }
    );
}

#[tokio::test(start_paused = true)]
async fn vector_32_sender_resumes_from_the_servers_range() {
    let fake = fake().await;
    let job = job(&fake, serde_json::json!({})).await;
    let (output, trace) = start(&fake, &job, TraceOptions::default());
    output.send(Bytes::from_static(b"0123")).await.unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    // The server claims to hold only 2 bytes: the sender rewinds into acknowledged bytes,
    // then the fake's own 416 (it holds 4) moves it forward again.
    fake.inject_fault(
        Endpoint::PatchTrace,
        1,
        Fault::status(416).header("Range", "0-2"),
    );
    output.send(Bytes::from_static(b"456789")).await.unwrap();
    tokio::time::sleep(Duration::from_secs(9)).await;
    drop(output);
    trace.finish(JobResult::success()).await.unwrap();
    assert_eq!(ranges(&fake), vec!["0-3", "4-9", "2-9", "4-9"]);
    assert_eq!(fake.job(job.id).unwrap().trace, b"0123456789");
}

#[tokio::test(start_paused = true)]
async fn vector_34_canceling_fires_the_cancel_token_once() {
    let fake = fake().await;
    let job = job(
        &fake,
        serde_json::json!({"features": {"failure_reasons": ["job_canceled"]}}),
    )
    .await;
    let (output, trace) = start(&fake, &job, TraceOptions::default());
    let cancel = trace.cancel_token();
    let abort = trace.abort_token();
    fake.request_cancel(job.id);
    output.send(Bytes::from_static(b"running\n")).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), cancel.cancelled())
        .await
        .unwrap();
    assert!(!abort.is_cancelled());
    output
        .send(Bytes::from_static(b"after_script\n"))
        .await
        .unwrap();
    drop(output);
    let outcome = trace
        .finish(JobResult::failed("job_canceled", None))
        .await
        .unwrap();
    assert_eq!(outcome, FinalOutcome::Accepted);
    let record = fake.job(job.id).unwrap();
    assert_eq!(record.trace, b"running\nafter_script\n");
    assert_eq!(
        record.last_update().unwrap().failure_reason.as_deref(),
        Some("job_canceled")
    );
}

#[tokio::test(start_paused = true)]
async fn vector_35_canceled_aborts_and_stops_at_the_first_abort_answer() {
    let fake = fake().await;
    let job = job(&fake, serde_json::json!({})).await;
    let (output, trace) = start(&fake, &job, TraceOptions::default());
    let abort = trace.abort_token();
    fake.cancel_job(job.id);
    output.send(Bytes::from_static(b"x")).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), abort.cancelled())
        .await
        .unwrap();
    assert!(trace.cancel_token().is_cancelled());
    let patches_before = fake.request_count(Endpoint::PatchTrace);
    drop(output);
    // vector 43: an abort answer to the final round ends it silently.
    let outcome = trace
        .finish(JobResult::failed("script_failure", Some(1)))
        .await
        .unwrap();
    assert!(matches!(
        outcome,
        FinalOutcome::Aborted | FinalOutcome::Accepted
    ));
    assert!(fake.request_count(Endpoint::PatchTrace) <= patches_before + 1);
    assert!(fake.request_count(Endpoint::UpdateJob) <= 1);
}

#[tokio::test(start_paused = true)]
async fn vector_35_forbidden_patch_aborts() {
    let fake = fake().await;
    let job = job(&fake, serde_json::json!({})).await;
    let (output, trace) = start(&fake, &job, TraceOptions::default());
    fake.inject_fault(Endpoint::PatchTrace, 1, Fault::status(403));
    output.send(Bytes::from_static(b"x")).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), trace.abort_token().cancelled())
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn vector_36_server_interval_spaces_the_ticks() {
    let fake = fake_with(FakeConfig {
        update_interval: Some(10),
        ..FakeConfig::default()
    })
    .await;
    let job = job(&fake, serde_json::json!({})).await;
    let (output, trace) = start(&fake, &job, TraceOptions::default());
    let start = tokio::time::Instant::now();
    for second in 0..25 {
        output
            .send(Bytes::from(format!("{second}\n")))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    drop(output);
    trace.finish(JobResult::success()).await.unwrap();
    let times: Vec<_> = fake
        .requests_to(Endpoint::PatchTrace)
        .iter()
        .map(|request| request.at - start)
        .collect();
    assert_eq!(
        &times[..3],
        &[
            Duration::from_secs(3),
            Duration::from_secs(13),
            Duration::from_secs(23)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn vector_37_keep_alive_without_output() {
    let fake = fake().await;
    let job = job(&fake, serde_json::json!({})).await;
    let (output, trace) = start(&fake, &job, TraceOptions::default());
    let start = tokio::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(70)).await;
    drop(output);
    trace.finish(JobResult::success()).await.unwrap();
    let puts = fake.requests_to(Endpoint::UpdateJob);
    let keep_alives: Vec<_> = puts
        .iter()
        .filter(|put| body_json(put)["state"] == "running")
        .map(|put| put.at - start)
        .collect();
    assert_eq!(
        keep_alives,
        vec![
            Duration::from_secs(3),
            Duration::from_secs(36),
            Duration::from_secs(69)
        ]
    );
    let body = body_json(&puts[0]);
    assert_eq!(
        body["output"],
        serde_json::json!({"checksum": "crc32:00000000"})
    );
    assert_eq!(fake.request_count(Endpoint::PatchTrace), 0);
}

#[tokio::test(start_paused = true)]
async fn vector_38_continuous_output_patches_every_tick_without_keep_alive() {
    let fake = fake().await;
    let job = job(&fake, serde_json::json!({})).await;
    let (output, trace) = start(&fake, &job, TraceOptions::default());
    for second in 0..10 {
        output
            .send(Bytes::from(format!("line {second}\n")))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    let running_puts = fake.requests_to(Endpoint::UpdateJob).len();
    assert_eq!(running_puts, 0);
    assert_eq!(fake.request_count(Endpoint::PatchTrace), 3);
    drop(output);
    trace.finish(JobResult::success()).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn vector_39_large_unsent_log_is_split_into_mebibyte_patches() {
    let fake = fake().await;
    let job = job(&fake, serde_json::json!({})).await;
    let (output, trace) = start(&fake, &job, TraceOptions::default());
    let log: Vec<u8> = (0..2_621_440u32).map(|index| (index % 251) as u8).collect();
    let producer = {
        let log = log.clone();
        tokio::spawn(async move {
            for chunk in log.chunks(64 * 1024) {
                output.send(Bytes::copy_from_slice(chunk)).await.unwrap();
            }
        })
    };
    producer.await.unwrap();
    trace.finish(JobResult::success()).await.unwrap();
    assert_eq!(
        ranges(&fake),
        vec!["0-1048575", "1048576-2097151", "2097152-2621439"]
    );
    let record = fake.job(job.id).unwrap();
    assert_eq!(record.trace, log);
    assert_eq!(
        record.last_update().unwrap().checksum,
        Some(trace_checksum(&log))
    );
}

#[tokio::test(start_paused = true)]
async fn vector_40_accepted_final_update_is_repeated_after_the_interval() {
    let fake = fake().await;
    let job = job(&fake, serde_json::json!({})).await;
    fake.inject_fault(
        Endpoint::UpdateJob,
        2,
        Fault::status(202).header("X-GitLab-Trace-Update-Interval", "5"),
    );
    let (output, trace) = start(&fake, &job, TraceOptions::default());
    drop(output);
    assert_eq!(
        trace.finish(JobResult::success()).await.unwrap(),
        FinalOutcome::Accepted
    );
    let times: Vec<_> = fake
        .requests_to(Endpoint::UpdateJob)
        .iter()
        .map(|put| put.at)
        .collect();
    assert_eq!(times.len(), 3);
    assert_eq!(times[1] - times[0], Duration::from_secs(5));
    assert_eq!(times[2] - times[1], Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn vector_41_trace_validation_failure_resends_from_zero() {
    let fake = fake().await;
    let job = job(&fake, serde_json::json!({})).await;
    fake.inject_fault(Endpoint::UpdateJob, 1, Fault::status(412));
    let (output, trace) = start(&fake, &job, TraceOptions::default());
    output.send(Bytes::from_static(b"hello\n")).await.unwrap();
    drop(output);
    assert_eq!(
        trace.finish(JobResult::success()).await.unwrap(),
        FinalOutcome::Accepted
    );
    let patch_ranges = ranges(&fake);
    assert_eq!(patch_ranges, vec!["0-5", "0-5"]);
    assert_eq!(fake.request_count(Endpoint::UpdateJob), 2);
}

#[tokio::test(start_paused = true)]
async fn vector_42_final_update_gives_up_after_ten_tries() {
    let fake = fake().await;
    let job = job(&fake, serde_json::json!({})).await;
    fake.inject_fault(Endpoint::UpdateJob, 1000, Fault::status(500));
    let (output, trace) = start(&fake, &job, TraceOptions::default());
    drop(output);
    let start = tokio::time::Instant::now();
    let error = trace.finish(JobResult::success()).await.unwrap_err();
    assert_eq!(error.status(), Some(500));
    assert_eq!(fake.request_count(Endpoint::UpdateJob), 50);
    // 511 s of pauses between tries plus one 3 s interval per failed try, plus HTTP backoffs.
    assert!(
        start.elapsed() >= Duration::from_secs(511 + 30),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn vector_44_and_45_final_bodies() {
    let fake = fake().await;
    let success = job(&fake, serde_json::json!({})).await;
    let (output, trace) = start(&fake, &success, TraceOptions::default());
    output.send(Bytes::from_static(b"hello\n")).await.unwrap();
    drop(output);
    trace.finish(JobResult::success()).await.unwrap();
    let body = fake
        .job(success.id)
        .unwrap()
        .last_update()
        .unwrap()
        .body
        .clone();
    assert_eq!(body["state"], "success");
    assert!(body.get("failure_reason").is_none());
    assert!(body.get("exit_code").is_none());
    assert_eq!(
        body["output"],
        serde_json::json!({"checksum": "crc32:363a3020", "bytesize": 6})
    );
    assert_eq!(body["checksum"], "crc32:363a3020");

    let failed = job(&fake, serde_json::json!({})).await;
    let (output, trace) = start(&fake, &failed, TraceOptions::default());
    drop(output);
    trace
        .finish(JobResult::failed("script_failure", Some(2)))
        .await
        .unwrap();
    let body = fake
        .job(failed.id)
        .unwrap()
        .last_update()
        .unwrap()
        .body
        .clone();
    assert_eq!(body["state"], "failed");
    assert_eq!(body["failure_reason"], "script_failure");
    assert_eq!(body["exit_code"], 2);
}

#[tokio::test(start_paused = true)]
async fn backpressure_never_loses_output() {
    let fake = fake().await;
    let job = job(&fake, serde_json::json!({})).await;
    let options = TraceOptions {
        max_patch_size: 1000,
        max_buffered: 4000,
        ..TraceOptions::default()
    };
    fake.inject_fault(Endpoint::PatchTrace, 20, Fault::status(500));
    let (output, trace) = start(&fake, &job, options);
    let mut expected = Vec::new();
    for index in 0..300u32 {
        let line = format!("line {index:05} of a slow coordinator\n");
        expected.extend_from_slice(line.as_bytes());
        output.send(Bytes::from(line)).await.unwrap();
    }
    drop(output);
    trace.finish(JobResult::success()).await.unwrap();
    assert_eq!(fake.job(job.id).unwrap().trace, expected);
}

#[tokio::test]
async fn spill_file_keeps_acknowledged_bytes_for_a_reset() {
    let fake = fake().await;
    let job = job(&fake, serde_json::json!({})).await;
    let directory = tempfile::tempdir().unwrap();
    let options = TraceOptions {
        max_patch_size: 4,
        spill_dir: Some(directory.path().to_owned()),
        ..TraceOptions::default()
    };
    fake.inject_fault(Endpoint::UpdateJob, 1, Fault::status(412));
    let (output, trace) = start(&fake, &job, options);
    output
        .send(Bytes::from_static(b"hello spill\n"))
        .await
        .unwrap();
    drop(output);
    trace.finish(JobResult::success()).await.unwrap();
    assert_eq!(fake.job(job.id).unwrap().trace, b"hello spill\n");
    assert!(
        ranges(&fake)
            .iter()
            .filter(|range| range.starts_with("0-"))
            .count()
            >= 2
    );
    assert_eq!(
        std::fs::read_dir(directory.path()).unwrap().count(),
        0,
        "spill file removed"
    );
}

#[tokio::test]
async fn forbidden_job_token_is_an_abort_not_an_error() {
    let fake = fake().await;
    let job = job(&fake, serde_json::json!({})).await;
    let (client, _) = client(&fake);
    let response = client
        .patch_trace(
            job.id,
            &Token::new("wrong"),
            0,
            Bytes::from_static(b"x"),
            false,
        )
        .await
        .unwrap();
    assert_eq!(response.outcome, PatchOutcome::Abort);
}
