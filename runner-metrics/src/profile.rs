//! CPU profiling for `/debug/pprof/profile`: samples the whole process with pprof-rs and
//! answers gzipped `profile.proto`, the format `go tool pprof` reads.

use std::io::Write;
use std::time::{Duration, Instant};

use pprof::protos::Message;
use tokio_util::sync::CancellationToken;

/// Sampling frequency, as Go's CPU profiler uses (100 Hz, kept off the timer tick).
const FREQUENCY_HZ: i32 = 99;

/// Longest profile a request may ask for.
pub(crate) const MAX_SECONDS: u64 = 300;

/// Why no profile was produced.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProfileError {
    /// pprof-rs failed to start, stop or encode.
    #[error("cpu profiler failed")]
    Profiler(#[source] pprof::Error),
    /// The server shut down while profiling.
    #[error("the metrics server is shutting down")]
    Cancelled,
    /// Compression or a worker thread failed.
    #[error("could not produce the profile")]
    Io(#[source] std::io::Error),
}

/// Profiles for `duration` (cut short by `cancel`) and returns gzipped profile.proto bytes.
/// The profiler is process-wide: callers serialise requests.
pub(crate) async fn cpu_profile(
    duration: Duration,
    cancel: CancellationToken,
) -> Result<Vec<u8>, ProfileError> {
    // The profiler guard is not `Send`, so the whole profile runs on a blocking thread that
    // checks the token between short sleeps.
    tokio::task::spawn_blocking(move || profile_blocking(duration, &cancel))
        .await
        .map_err(|join| ProfileError::Io(std::io::Error::other(join)))?
}

fn profile_blocking(
    duration: Duration,
    cancel: &CancellationToken,
) -> Result<Vec<u8>, ProfileError> {
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(FREQUENCY_HZ)
        .blocklist(&["libc", "libgcc", "pthread", "vdso"])
        .build()
        .map_err(ProfileError::Profiler)?;
    let deadline = Instant::now() + duration;
    loop {
        if cancel.is_cancelled() {
            return Err(ProfileError::Cancelled);
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            break;
        }
        std::thread::sleep(remaining.min(Duration::from_millis(50)));
    }
    let report = guard.report().build().map_err(ProfileError::Profiler)?;
    drop(guard);
    let profile = report.pprof().map_err(ProfileError::Profiler)?;
    let raw = profile.encode_to_vec();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(&raw).map_err(ProfileError::Io)?;
    gzip.finish().map_err(ProfileError::Io)
}
