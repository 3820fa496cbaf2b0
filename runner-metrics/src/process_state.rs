//! The process lifecycle state (`gitlab_runner_process_state_info`, `/debug/process/state`)
//! and readiness (`/health/ready`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

/// Lifecycle state of the runner process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ProcessState {
    /// Loading configuration, initialising executors.
    #[default]
    Starting,
    /// Requesting and running jobs.
    Running,
    /// Stopped requesting jobs, waiting for running ones (SIGQUIT).
    GracefulShutdown,
    /// Cancelling running jobs (SIGINT/SIGTERM or a second signal).
    ForcefulShutdown,
}

impl ProcessState {
    const ALL: [ProcessState; 4] = [
        Self::Starting,
        Self::Running,
        Self::GracefulShutdown,
        Self::ForcefulShutdown,
    ];

    /// The name upstream prints and puts in the `state` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Running => "running",
            Self::GracefulShutdown => "graceful-shutdown",
            Self::ForcefulShutdown => "forceful-shutdown",
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            Self::Starting => 0,
            Self::Running => 1,
            Self::GracefulShutdown => 2,
            Self::ForcefulShutdown => 3,
        }
    }
}

/// Shared, lock-free holder of the process state and readiness flag.
#[derive(Debug, Default)]
pub(crate) struct Lifecycle {
    state: AtomicU8,
    ready: AtomicBool,
}

impl Lifecycle {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub(crate) fn set_state(&self, state: ProcessState) {
        self.state.store(state.to_u8(), Ordering::Relaxed);
    }

    pub(crate) fn state(&self) -> ProcessState {
        let value = self.state.load(Ordering::Relaxed);
        ProcessState::ALL
            .into_iter()
            .find(|state| state.to_u8() == value)
            .unwrap_or_default()
    }

    pub(crate) fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }
}

impl Collector for Lifecycle {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut metric = encoder.encode_descriptor(
            "gitlab_runner_process_state_info",
            "The current state of the runner process (the series with value 1).",
            None,
            MetricType::Gauge,
        )?;
        let labels = [("state", self.state().as_str())];
        metric.encode_family(&labels)?.encode_gauge(&1_i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_through_the_atomic() {
        let lifecycle = Lifecycle::default();
        assert_eq!(lifecycle.state(), ProcessState::Starting);
        for state in ProcessState::ALL {
            lifecycle.set_state(state);
            assert_eq!(lifecycle.state(), state);
        }
        assert!(!lifecycle.is_ready());
        lifecycle.set_ready(true);
        assert!(lifecycle.is_ready());
    }
}
