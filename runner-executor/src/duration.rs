//! Go duration strings: parsing (`RUNNER_SCRIPT_TIMEOUT=1h30m`) and formatting (`1h0m0s`).

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

/// Parses `[-+]?([0-9]*(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+` or `0`; `None` when malformed.
pub(crate) fn parse_go_duration(text: &str) -> Option<GoDuration> {
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Some(GoDuration {
            negative,
            duration: Duration::ZERO,
        });
    }
    if rest.is_empty() {
        return None;
    }
    let mut total_nanos: f64 = 0.0;
    while !rest.is_empty() {
        let number_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        if number_len == 0 {
            return None;
        }
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total_nanos += number * scale;
    }
    if !total_nanos.is_finite() || total_nanos > u64::MAX as f64 {
        return None;
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "range checked above"
    )]
    let nanos = total_nanos.round() as u64;
    Some(GoDuration {
        negative,
        duration: Duration::from_nanos(nanos),
    })
}

/// Formats like Go's `time.Duration.String()`: `1h0m0s`, `1m30s`, `5s`, `1.5s`, `250ms`.
pub(crate) fn format_go_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < 1_000_000_000 {
        let (value, unit) = if nanos < 1_000 {
            (nanos.to_string(), "ns")
        } else if nanos < 1_000_000 {
            (fraction(nanos, 1_000), "µs")
        } else {
            (fraction(nanos, 1_000_000), "ms")
        };
        return format!("{value}{unit}");
    }
    let seconds_total = nanos / 1_000_000_000;
    let sub = nanos % 1_000_000_000;
    let hours = seconds_total / 3600;
    let minutes = (seconds_total % 3600) / 60;
    let seconds = fraction((seconds_total % 60) * 1_000_000_000 + sub, 1_000_000_000);
    if hours > 0 {
        format!("{hours}h{minutes}m{seconds}s")
    } else if minutes > 0 {
        format!("{minutes}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

/// `value / unit` with the fraction's trailing zeros removed.
fn fraction(value: u128, unit: u128) -> String {
    let whole = value / unit;
    let rest = value % unit;
    if rest == 0 {
        return whole.to_string();
    }
    let width = unit.to_string().len() - 1;
    let digits = format!("{rest:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
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
