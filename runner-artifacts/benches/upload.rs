//! Archive + upload of many artifact files to a loopback coordinator: prints MB/s and the
//! process's peak RSS (VmHWM). Not a test: nothing is asserted on time.
//!
//! `cargo bench -p runner-artifacts --bench upload` writes 1 GiB in 10,000 files;
//! `ARTIFACTS_BENCH_MIB=256` makes it smaller.

use std::convert::Infallible;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use runner_api::{ClientBuilder, Token};
use runner_artifacts::{
    ArtifactsUpload, ArtifactsUploaded, CompressionLevel, PathSelector, UploadRetry,
    upload_artifacts,
};

const FILES: u64 = 10_000;

#[expect(
    clippy::print_stdout,
    reason = "a bench binary reports its figures on stdout"
)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total_mib: u64 = std::env::var("ARTIFACTS_BENCH_MIB")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(1024);
    let work = tempfile::tempdir()?;
    let project = work.path().join("project");
    let staging = work.path().join("staging");
    let bytes_written = write_tree(&project, total_mib * 1024 * 1024)?;
    println!(
        "tree: {FILES} files, {:.1} MiB, semi-compressible data",
        bytes_written as f64 / 1048576.0
    );
    println!("VmHWM before: {}", peak_rss());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
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
    let server = tokio::spawn(async move {
        let Ok((stream, _)) = listener.accept().await else {
            return 0u64;
        };
        let received = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = received.clone();
        let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
            let counter = counter.clone();
            async move {
                let chunked = request
                    .headers()
                    .contains_key(http::header::TRANSFER_ENCODING);
                let mut body = request.into_body();
                while let Some(Ok(frame)) = body.frame().await {
                    if let Ok(data) = frame.into_data() {
                        counter.fetch_add(data.len() as u64, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                let status = if chunked { 411 } else { 201 };
                Ok::<_, Infallible>(
                    http::Response::builder()
                        .status(status)
                        .body(Full::new(Bytes::from_static(b"{}")))
                        .unwrap_or_default(),
                )
            }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .await;
        received.load(std::sync::atomic::Ordering::Relaxed)
    });
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

/// Writes `FILES` files of about `total / FILES` bytes: half pseudo-random, half repeated text.
fn write_tree(project: &Path, total: u64) -> std::io::Result<u64> {
    let per_file = total / FILES;
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut written = 0;
    let mut buffer = vec![0u8; usize::try_from(per_file).unwrap_or(0)];
    for index in 0..FILES {
        let directory = project.join(format!("out/d{:03}", index / 100));
        std::fs::create_dir_all(&directory)?;
        for (position, byte) in buffer.iter_mut().enumerate() {
            if position % 64 < 32 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *byte = state as u8;
            } else {
                *byte = b"artifact payload line "[position % 22];
            }
        }
        let mut file = std::fs::File::create(directory.join(format!("f{index:05}.bin")))?;
        file.write_all(&buffer)?;
        written += per_file;
    }
    Ok(written)
}

fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .map(|line| line["VmHWM:".len()..].trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}
