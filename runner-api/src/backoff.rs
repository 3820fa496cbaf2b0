//! The exponential backoff used between HTTP attempts: a pure, saturating function.

use std::time::Duration;

/// Exponential backoff with full jitter between `base` and the current step.
///
/// The n-th wait (n = 0, 1, 2, …) lies in `[base, min(base × factor^n, max))`,
/// so the first wait is exactly `base` (§13.1: 100 ms, 100–200 ms, 100–400 ms…).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    factor: u32,
}

impl Backoff {
    /// The coordinator client's backoff: base 100 ms, factor 2, cap 60 s.
    pub const HTTP: Backoff = Backoff {
        base: Duration::from_millis(100),
        max: Duration::from_secs(60),
        factor: 2,
    };

    /// A backoff; `max` is raised to `base` and `factor` to 1 if smaller.
    pub fn new(base: Duration, max: Duration, factor: u32) -> Self {
        Self {
            base,
            max: max.max(base),
            factor: factor.max(1),
        }
    }

    /// A backoff usable in constants; `max` must be ≥ `base` and `factor` ≥ 1.
    pub(crate) const fn new_const(base: Duration, max: Duration, factor: u32) -> Self {
        Self { base, max, factor }
    }

    /// The wait before the retry that follows the `attempt`-th backoff-derived
    /// wait, given `jitter` in `[0, 1)` (values outside are clamped).
    ///
    /// Never below `base`, never above `max`, never overflows.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let ceiling = self.ceiling(attempt);
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let spread = ceiling.saturating_sub(self.base);
        let extra = spread.mul_f64(jitter);
        self.base.saturating_add(extra).min(ceiling).min(self.max)
    }

    /// `min(base × factor^attempt, max)`, saturating.
    fn ceiling(&self, attempt: u32) -> Duration {
        let multiplier = self.factor.checked_pow(attempt).unwrap_or(u32::MAX);
        self.base.saturating_mul(multiplier).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn first_wait_is_exactly_the_base() {
        assert_eq!(Backoff::HTTP.delay(0, 0.99), Duration::from_millis(100));
        assert_eq!(Backoff::HTTP.delay(1, 0.0), Duration::from_millis(100));
        assert_eq!(Backoff::HTTP.delay(1, 0.5), Duration::from_millis(150));
        assert_eq!(Backoff::HTTP.delay(2, 0.5), Duration::from_millis(250));
        assert_eq!(Backoff::HTTP.delay(u32::MAX, 1.0), Duration::from_secs(60));
    }

    proptest! {
        #[test]
        fn delay_stays_within_bounds(attempt in any::<u32>(), jitter in any::<f64>(),
                base_ms in 0u64..10_000, max_ms in 0u64..1_000_000, factor in any::<u32>()) {
            let backoff = Backoff::new(Duration::from_millis(base_ms), Duration::from_millis(max_ms), factor);
            let delay = backoff.delay(attempt, jitter);
            prop_assert!(delay >= Duration::from_millis(base_ms));
            prop_assert!(delay <= Duration::from_millis(max_ms.max(base_ms)));
        }

        #[test]
        fn http_delay_is_below_its_step(attempt in 0u32..20, jitter in 0.0f64..1.0) {
            let delay = Backoff::HTTP.delay(attempt, jitter);
            let step = Duration::from_millis(100).saturating_mul(2u32.saturating_pow(attempt)).min(Duration::from_secs(60));
            prop_assert!(delay >= Duration::from_millis(100));
            prop_assert!(delay < step || (attempt == 0 && delay == step) || delay == Duration::from_secs(60) || jitter == 0.0);
        }
    }
}
