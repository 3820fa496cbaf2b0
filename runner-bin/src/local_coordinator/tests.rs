//! The local coordinator driven by the real `runner_api::Client`.

use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use runner_api::{ArtifactUpload, ClientBuilder, CommitOutcome, PatchOutcome, Token};
use runner_config::RunnerConfig;

use super::output::plain;
use super::*;

/// A `Write` whose bytes the test can read back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

async fn start(raw: bool) -> (LocalCoordinator, Captured, tempfile::TempDir) {
    let storage = tempfile::tempdir().unwrap();
    let captured = Captured::default();
    let coordinator = LocalCoordinator::start(
        "job-token-1".to_owned(),
        storage.path().to_owned(),
        TraceOutput::new(Box::new(captured.clone()), raw),
    )
    .await
    .unwrap();
    (coordinator, captured, storage)
}

#[tokio::test]
async fn a_job_life_is_recorded_and_its_trace_printed_line_by_line() {
    let (coordinator, captured, _storage) = start(false).await;
    coordinator.add_job(1);
    let client = ClientBuilder::new(coordinator.url()).build().unwrap();
    let token = Token::new("job-token-1");
    let info = runner_agent::coordinator::info(&RunnerConfig::default());
    assert_eq!(
        client.commit_job(1, &token, &info).await,
        CommitOutcome::Run
    );
    let first = client
        .patch_trace(
            1,
            &token,
            0,
            Bytes::from_static(b"\x1b[32;1mgreen\x1b[0;m line\npart"),
            false,
        )
        .await
        .unwrap();
    assert_eq!(first.outcome, PatchOutcome::Accepted { next_offset: 27 });
    assert_eq!(captured.text(), "green line\n");
    let wrong_offset = client
        .patch_trace(1, &token, 5, Bytes::from_static(b"x"), false)
        .await
        .unwrap();
    assert_eq!(
        wrong_offset.outcome,
        PatchOutcome::RangeMismatch { resume_at: 27 }
    );
    client
        .patch_trace(1, &token, 27, Bytes::from_static(b"ial"), false)
        .await
        .unwrap();
    let update = runner_api::JobUpdate {
        state: runner_api::JobState::Failed,
        failure_reason: Some("script_failure".to_owned()),
        exit_code: Some(3),
        ..runner_api::JobUpdate::commit(token.clone(), info.clone())
    };
    client.update_job(1, &update).await.unwrap();
    coordinator.flush_trace(1);
    assert_eq!(captured.text(), "green line\npartial\n");
    assert_eq!(
        coordinator.final_state(1),
        Some(FinalState {
            state: "failed".to_owned(),
            failure_reason: Some("script_failure".to_owned()),
            exit_code: Some(3),
        })
    );
    coordinator.shutdown().await;
}

#[tokio::test]
async fn raw_output_keeps_colours_and_partial_lines() {
    let (coordinator, captured, _storage) = start(true).await;
    coordinator.add_job(1);
    let client = ClientBuilder::new(coordinator.url()).build().unwrap();
    let token = Token::new("job-token-1");
    client
        .patch_trace(1, &token, 0, Bytes::from_static(b"\x1b[31mred"), false)
        .await
        .unwrap();
    assert_eq!(captured.text(), "\x1b[31mred");
    coordinator.shutdown().await;
}

#[tokio::test]
async fn artifacts_go_up_and_come_back_with_the_job_token_only() {
    let (coordinator, _captured, storage) = start(false).await;
    coordinator.add_job(1);
    coordinator.add_job(2);
    let client = ClientBuilder::new(coordinator.url()).build().unwrap();
    let token = Token::new("job-token-1");
    let archive = storage.path().join("upload.zip");
    std::fs::write(&archive, b"PK\x03\x04 archive bytes\r\n--not-a-boundary").unwrap();
    let upload = ArtifactUpload {
        path: archive,
        ..ArtifactUpload::default()
    };
    assert!(!coordinator.has_artifacts(1));
    client.upload_artifacts(1, &token, &upload).await.unwrap();
    assert!(coordinator.has_artifacts(1));
    let destination = storage.path().join("download.zip");
    client
        .download_artifacts(1, &token, &destination, false)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(&destination).unwrap(),
        b"PK\x03\x04 archive bytes\r\n--not-a-boundary"
    );
    let missing = client
        .download_artifacts(2, &token, &destination, false)
        .await;
    assert!(missing.is_err(), "job 2 uploaded nothing");
    let wrong_token = client
        .download_artifacts(1, &Token::new("other"), &destination, false)
        .await;
    assert!(wrong_token.is_err(), "a wrong token is refused");
    let unknown_job = client.upload_artifacts(9, &token, &upload).await;
    assert!(unknown_job.is_err(), "job 9 is not part of the pipeline");
    coordinator.shutdown().await;
}

#[test]
fn plain_text_drops_escapes_and_section_markers() {
    let trace = b"section_start:1700000000:prepare\r\x1b[0K\x1b[36;1mPreparing\x1b[0;m\nsection_end:1700000001:prepare\r\x1b[0Kdone\x1b]8;;http://x\x07link\n";
    assert_eq!(
        String::from_utf8_lossy(&plain(trace)),
        "Preparing\ndonelink\n"
    );
}
