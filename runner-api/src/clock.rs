//! Time, injected so retry waits can be asserted without real waiting.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

/// A boxed sleep future.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The source of time for retry waits.
///
/// The production clock is [`TokioClock`]; tests pass a recording clock
/// (see `fake::RecordingClock` behind the `test-util` feature).
pub trait Clock: Send + Sync {
    /// Wall-clock time, to compare with `RateLimit-ResetTime` dates.
    fn now_system(&self) -> SystemTime;
    /// Waits for `duration`.
    fn sleep(&self, duration: Duration) -> Sleep;
    /// Monotonic time, for ages such as `connection_max_age` (default: tokio's, which
    /// follows a paused clock in tests).
    fn now(&self) -> tokio::time::Instant {
        tokio::time::Instant::now()
    }
}

/// The real clock: tokio timers (which follow tokio's paused clock in tests)
/// and the system wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now_system(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}
