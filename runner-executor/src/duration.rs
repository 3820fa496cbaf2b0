//! Go duration strings (`RUNNER_SCRIPT_TIMEOUT=1h30m`, `1h0m0s`) as `std::time::Duration`s,
//! through `runner-core`'s one parser and formatter, and deadlines that cannot overflow.

use std::time::Duration;

/// The deadline `duration` from now. Durations come from payloads and files (a job timeout
/// of `i64::MAX` seconds was seen), and `Instant + Duration` panics when it overflows: a
/// deadline beyond a century is a century away, which no job reaches.
pub(crate) fn deadline_after(duration: Duration) -> tokio::time::Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    tokio::time::Instant::now() + duration.min(CENTURY)
}

/// A parsed Go duration, which may be negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GoDuration {
    pub(crate) negative: bool,
    pub(crate) duration: Duration,
}

/// Parses a Go duration (`runner_core::parse_go_duration`); `None` when malformed.
pub(crate) fn parse_go_duration(text: &str) -> Option<GoDuration> {
    let nanos = runner_core::parse_go_duration(text).ok()?;
    Some(GoDuration {
        negative: nanos < 0,
        duration: Duration::from_nanos(nanos.unsigned_abs()),
    })
}

/// Formats like Go's `time.Duration.String()`: `1h0m0s`, `1m30s`, `5s`, `1.5s`, `250ms`
/// (saturating at Go's largest duration, about 292 years).
pub(crate) fn format_go_duration(duration: Duration) -> String {
    runner_core::format_go_duration(i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        assert_eq!(format_go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format_go_duration(Duration::from_secs(60)), "1m0s");
        assert_eq!(format_go_duration(Duration::from_secs(5)), "5s");
        assert_eq!(format_go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_go_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_go_duration(Duration::from_secs(7200)), "2h0m0s");
    }

    #[test]
    fn parses_like_go() {
        let parse = |t| parse_go_duration(t).map(|d| (d.negative, d.duration));
        assert_eq!(parse("5s"), Some((false, Duration::from_secs(5))));
        assert_eq!(parse("1h30m"), Some((false, Duration::from_secs(5400))));
        assert_eq!(parse("1.5h"), Some((false, Duration::from_secs(5400))));
        assert_eq!(parse("-3m"), Some((true, Duration::from_secs(180))));
        assert_eq!(parse("0"), Some((false, Duration::ZERO)));
        assert_eq!(parse("abc"), None);
        assert_eq!(parse("5"), None);
        assert_eq!(parse(""), None);
    }
}
