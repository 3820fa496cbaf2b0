//! Archive + upload of many artifact files to a loopback coordinator: prints MB/s and the
//! process's peak RSS (VmHWM). Not a test: nothing is asserted on time.
//!
//! `cargo bench -p runner-artifacts --bench upload` writes 1 GiB in 10,000 files;
//! `ARTIFACTS_BENCH_MIB=256` makes it smaller.

use std::path::Path;
use std::time::{Duration, Instant};

use runner_api::{ClientBuilder, Token};
use runner_artifacts::{
    ArtifactsUpload, ArtifactsUploaded, CompressionLevel, PathSelector, UploadRetry,
    upload_artifacts,
};

mod support;

use support::{Bench, peak_rss};

#[expect(
    clippy::print_stdout,
    reason = "a bench binary reports its figures on stdout"
)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Bench {
        work,
        project,
        bytes_written,
        runtime,
    } = support::prepare()?;
    let staging = work.path().join("staging");
    for level in [CompressionLevel::Fastest, CompressionLevel::Default] {
        let (uploaded, received, elapsed) = runtime.block_on(run(&project, &staging, level))?;
        let ArtifactsUploaded::Uploaded { size } = uploaded else {
            return Err("nothing uploaded".into());
        };
        println!(
            "{level:?}: archive {:.1} MiB, body {:.1} MiB received, {:.2} s, {:.1} MB/s of input, VmHWM {}",
            size as f64 / 1048576.0,
            received as f64 / 1048576.0,
            elapsed.as_secs_f64(),
            bytes_written as f64 / 1e6 / elapsed.as_secs_f64(),
            peak_rss()
        );
    }
    Ok(())
}

async fn run(
    project: &Path,
    staging: &Path,
    level: CompressionLevel,
) -> Result<(ArtifactsUploaded, u64, Duration), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(support::count_uploaded_bytes(listener, 201));
    let client = ClientBuilder::new(format!("http://{address}/")).build()?;
    let request = ArtifactsUpload {
        project_dir: project.to_path_buf(),
        job_id: 1,
        job_token: Token::new("bench-token"),
        selector: PathSelector {
            paths: vec!["out/".into()],
            ..PathSelector::default()
        },
        name: "bench".into(),
        format: String::new(),
        artifact_type: "archive".into(),
        expire_in: String::new(),
        compression: level,
        staging_dir: staging.to_path_buf(),
        retry: UploadRetry::default(),
    };
    let started = Instant::now();
    let uploaded = upload_artifacts(&client, &request).await?;
    let elapsed = started.elapsed();
    drop(client);
    let received = server.await?;
    Ok((uploaded, received, elapsed))
}
