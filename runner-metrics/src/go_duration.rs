//! Go's `time.Duration.String()` format (`1h2m3.5s`, `1.5s`, `250ms`), used by
//! `/debug/jobs/list` so tools written for upstream parse our output.

use std::fmt::Write;
use std::time::Duration;

/// Formats `duration` the way Go prints a `time.Duration`.
pub(crate) fn format(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", fraction(nanos, 1_000));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", fraction(nanos, 1_000_000));
    }
    let total_seconds = nanos / 1_000_000_000;
    let hours = total_seconds / 3600;
    let minutes = (total_seconds % 3600) / 60;
    let seconds = fraction(nanos % 60_000_000_000, 1_000_000_000);
    let mut out = String::new();
    if hours > 0 {
        let _ = write!(out, "{hours}h{minutes}m");
    } else if minutes > 0 {
        let _ = write!(out, "{minutes}m");
    }
    out.push_str(&seconds);
    out.push('s');
    out
}

/// `value / unit` as a decimal with trailing zeros (and a bare point) removed.
fn fraction(value: u128, unit: u128) -> String {
    let whole = value / unit;
    let rest = value % unit;
    if rest == 0 {
        return whole.to_string();
    }
    let width = unit.ilog10() as usize;
    let digits = format!("{rest:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(duration: Duration, expected: &str) {
        assert_eq!(format(duration), expected, "{duration:?}");
    }

    #[test]
    fn matches_go_duration_strings() {
        check(Duration::ZERO, "0s");
        check(Duration::from_nanos(5), "5ns");
        check(Duration::from_nanos(1_500), "1.5µs");
        check(Duration::from_millis(250), "250ms");
        check(Duration::from_millis(1_500), "1.5s");
        check(Duration::from_secs(60), "1m0s");
        check(Duration::from_secs(3723), "1h2m3s");
        check(Duration::from_secs(7200), "2h0m0s");
        check(Duration::new(90, 500_000_000), "1m30.5s");
        check(Duration::new(1, 1), "1.000000001s");
    }
}
