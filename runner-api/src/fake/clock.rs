//! A clock for tests that records every requested sleep and follows tokio's (paused) time.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::clock::{Clock, Sleep};

/// Records each sleep; sleeps with tokio timers (instant under a paused clock); wall time
/// is `base` plus the tokio time elapsed since creation.
#[derive(Debug, Clone)]
pub struct RecordingClock {
    base: SystemTime,
    start: tokio::time::Instant,
    sleeps: Arc<Mutex<Vec<Duration>>>,
}

impl RecordingClock {
    /// A clock whose wall time starts at `base`.
    pub fn new(base: SystemTime) -> Self {
        Self {
            base,
            start: tokio::time::Instant::now(),
            sleeps: Arc::default(),
        }
    }

    /// Every sleep requested so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps
            .lock()
            .map(|sleeps| sleeps.clone())
            .unwrap_or_default()
    }
}

impl Clock for RecordingClock {
    fn now_system(&self) -> SystemTime {
        self.base + self.start.elapsed()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        if let Ok(mut sleeps) = self.sleeps.lock() {
            sleeps.push(duration);
        }
        Box::pin(tokio::time::sleep(duration))
    }
}
