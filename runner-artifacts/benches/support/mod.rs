//! What the archive benches share: the file tree they archive, a loopback server that
//! counts the bytes it receives, and the process's peak RSS.

use std::convert::Infallible;
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// Files in the tree.
const FILES: u64 = 10_000;

/// Where both benches start: the tree in `project/` of a work directory, and a runtime with
/// two workers.
pub(crate) struct Bench {
    pub(crate) work: tempfile::TempDir,
    pub(crate) project: PathBuf,
    /// The tree's size in bytes.
    pub(crate) bytes_written: u64,
    pub(crate) runtime: tokio::runtime::Runtime,
}

/// Writes the tree (its size from `ARTIFACTS_BENCH_MIB`), prints it and the peak RSS so far.
#[expect(
    clippy::print_stdout,
    reason = "a bench binary reports its figures on stdout"
)]
pub(crate) fn prepare() -> Result<Bench, Box<dyn std::error::Error>> {
    let work = tempfile::tempdir()?;
    let project = work.path().join("project");
    let bytes_written = write_tree(&project, total_mib() * 1024 * 1024)?;
    println!(
        "tree: {FILES} files, {:.1} MiB, semi-compressible data",
        bytes_written as f64 / 1048576.0
    );
    println!("VmHWM before: {}", peak_rss());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    Ok(Bench {
        work,
        project,
        bytes_written,
        runtime,
    })
}

/// The tree's size from `ARTIFACTS_BENCH_MIB` (default 1 GiB), in MiB.
fn total_mib() -> u64 {
    std::env::var("ARTIFACTS_BENCH_MIB")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(1024)
}

/// Serves one connection on `listener`, answering every request with `status` (411 to a
/// chunked body: uploads must announce their length); returns the body bytes received.
pub(crate) async fn count_uploaded_bytes(listener: tokio::net::TcpListener, status: u16) -> u64 {
    let Ok((stream, _)) = listener.accept().await else {
        return 0;
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
            let status = if chunked { 411 } else { status };
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
}

/// Writes `FILES` files under `project/out` of about `total / FILES` bytes: half pseudo-random, half repeated text.
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

pub(crate) fn peak_rss() -> String {
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
