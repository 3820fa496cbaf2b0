//! Integer time keys (`check_interval`, `shutdown_timeout`, `poll_timeout`, ...) as
//! [`Duration`]s, with a ceiling.
//!
//! Upstream stores these as Go `int` seconds, so the file may hold anything up to
//! `i64::MAX`. `Duration::from_secs` takes that, but `Instant + Duration` panics once the
//! sum leaves the clock's range (about 292 billion years of seconds on Linux, far less on
//! other clocks), and every one of these values ends up added to an `Instant` somewhere (a
//! sleep, a deadline). Nothing is meant to wait longer than a century, so larger values
//! are read as a century: the file still loads, and no deadline can overflow.

use std::time::Duration;

/// The longest wait an integer-seconds key is read as: 100 years.
pub(crate) const MAX_SECONDS: u64 = 100 * 365 * 24 * 60 * 60;

/// The longest wait an integer-milliseconds key is read as: the same 100 years.
pub(crate) const MAX_MILLIS: u64 = MAX_SECONDS * 1000;

/// `seconds` as a duration of at most [`MAX_SECONDS`]; `None` when zero or negative
/// (upstream's "unset", each caller has its default).
pub(crate) fn positive_seconds(seconds: i64) -> Option<Duration> {
    u64::try_from(seconds)
        .ok()
        .filter(|seconds| *seconds > 0)
        .map(|seconds| Duration::from_secs(seconds.min(MAX_SECONDS)))
}

/// `millis` as a duration of at most [`MAX_MILLIS`]; `None` when zero or negative.
pub(crate) fn positive_millis(millis: i64) -> Option<Duration> {
    u64::try_from(millis)
        .ok()
        .filter(|millis| *millis > 0)
        .map(|millis| Duration::from_millis(millis.min(MAX_MILLIS)))
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn zero_and_negative_are_unset() {
        assert_eq!(positive_seconds(0), None);
        assert_eq!(positive_seconds(-5), None);
        assert_eq!(positive_millis(0), None);
        assert_eq!(positive_millis(i64::MIN), None);
        assert_eq!(positive_seconds(90), Some(Duration::from_secs(90)));
        assert_eq!(positive_millis(1500), Some(Duration::from_millis(1500)));
    }

    #[test]
    fn huge_values_are_a_century_and_can_be_added_to_an_instant() {
        let longest = positive_seconds(i64::MAX).unwrap();
        assert_eq!(longest, Duration::from_secs(MAX_SECONDS));
        assert_eq!(positive_millis(i64::MAX).unwrap(), longest);
        // Without the ceiling this addition panics ("overflow when adding duration to instant").
        assert!(Instant::now().checked_add(longest).is_some());
        assert!(
            Instant::now()
                .checked_add(Duration::from_secs(i64::MAX as u64))
                .is_none()
        );
    }
}
