//! Cache archive + upload of many files to a loopback object store (a pre-signed PUT), in
//! each cache format: prints MB/s and the process's peak RSS (VmHWM), which must not grow
//! with the cache's size (run with two `ARTIFACTS_BENCH_MIB` values to compare). Not a test:
//! nothing is asserted on time.
//!
//! `cargo bench -p runner-artifacts --bench cache` writes 1 GiB in 10,000 files;
//! `ARTIFACTS_BENCH_MIB=256` makes it smaller.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use runner_artifacts::{
    ArchiveFormat, CacheArchive, CacheArchived, CompressionLevel, PathSelector, RetryPolicy,
    UploadTarget, archive_cache,
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
    for (name, format) in [
        ("zip", ArchiveFormat::Zip),
        ("tarzstd", ArchiveFormat::TarZstd),
    ] {
        let archive = work.path().join(format!("cache-{name}.zip"));
        let (size, received, elapsed) = runtime.block_on(run(&project, &archive, format))?;
        println!(
            "{name} (default level): archive {:.1} MiB, {:.1} MiB uploaded, {:.2} s, {:.1} MB/s of input, VmHWM {}",
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
    archive: &Path,
    format: ArchiveFormat,
) -> Result<(u64, u64, Duration), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(support::count_uploaded_bytes(listener, 200));
    let request = CacheArchive {
        project_dir: project.to_path_buf(),
        file: archive.to_path_buf(),
        selector: PathSelector {
            paths: vec!["out/".into()],
            ..PathSelector::default()
        },
        upload: Some(UploadTarget {
            url: format!("http://{address}/bucket/project/1/bench").parse()?,
            headers: Vec::new(),
        }),
        max_uploaded_archive_size: 0,
        metadata: BTreeMap::new(),
        timeout: Duration::from_secs(600),
        compression: CompressionLevel::Default,
        format,
        retry: RetryPolicy::default(),
    };
    let started = Instant::now();
    let archived = archive_cache(&request).await?;
    let elapsed = started.elapsed();
    let CacheArchived::Created { size, .. } = archived else {
        return Err(format!("no archive was created: {archived:?}").into());
    };
    let received = server.await?;
    Ok((size, received, elapsed))
}
