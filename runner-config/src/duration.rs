//! [`GoDuration`]: a duration written with Go's `time.ParseDuration` syntax.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// A signed duration with nanosecond precision, as upstream's Go `time.Duration`.
///
/// In `config.toml` it is a string in Go's syntax: decimal numbers, each with a unit among
/// `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`, optionally signed (`"90s"`, `"1h30m"`,
/// `"2.5h"`, `"-1m"`, `"0"`). There is no `d` and no `min`. A bare TOML integer is accepted
/// too and counts **nanoseconds**, as upstream's decoder does. It is written back in Go's
/// canonical form (`"1h30m0s"`, `"15m0s"`, `"1.5s"`, `"0s"`).
///
/// ```
/// use runner_config::GoDuration;
///
/// let duration: GoDuration = "1h30m".parse()?;
/// assert_eq!(duration.to_string(), "1h30m0s");
/// assert_eq!(duration.to_std(), Some(std::time::Duration::from_secs(5400)));
/// assert!("1h30min".parse::<GoDuration>().is_err());
/// # Ok::<(), runner_config::DurationError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoDuration {
    nanos: i64,
}

/// Why a string is not a Go duration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason}")]
pub struct DurationError {
    input: String,
    reason: &'static str,
}

impl GoDuration {
    /// The zero duration, `"0s"`.
    pub const ZERO: Self = Self { nanos: 0 };

    /// A duration of `nanos` nanoseconds (negative values are allowed, as in Go).
    pub const fn from_nanos(nanos: i64) -> Self {
        Self { nanos }
    }

    /// A duration of whole seconds, saturating at the largest Go duration (about 292 years).
    pub const fn from_secs(seconds: i64) -> Self {
        Self {
            nanos: seconds.saturating_mul(NANOS_PER_SECOND as i64),
        }
    }

    /// A duration of whole minutes, saturating like [`GoDuration::from_secs`].
    pub const fn from_mins(minutes: i64) -> Self {
        Self::from_secs(minutes.saturating_mul(60))
    }

    /// Converts a standard duration, saturating at the largest Go duration.
    pub fn from_std(duration: Duration) -> Self {
        Self {
            nanos: i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX),
        }
    }

    /// The duration in nanoseconds.
    pub const fn as_nanos(self) -> i64 {
        self.nanos
    }

    /// Whether the duration is zero.
    pub const fn is_zero(self) -> bool {
        self.nanos == 0
    }

    /// Whether the duration is below zero (upstream treats most negative values as "unset").
    pub const fn is_negative(self) -> bool {
        self.nanos < 0
    }

    /// The duration as a standard duration, or `None` when it is negative.
    pub fn to_std(self) -> Option<Duration> {
        u64::try_from(self.nanos).ok().map(Duration::from_nanos)
    }
}

impl FromStr for GoDuration {
    type Err = DurationError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        runner_core::parse_go_duration(input)
            .map(GoDuration::from_nanos)
            .map_err(|reason| DurationError {
                input: input.to_owned(),
                reason,
            })
    }
}

impl fmt::Display for GoDuration {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&runner_core::format_go_duration(self.nanos))
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(GoDurationVisitor)
    }
}

struct GoDurationVisitor;

impl Visitor<'_> for GoDurationVisitor {
    type Value = GoDuration;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(
            "a Go duration string such as \"90s\" or \"1h30m\", or an integer of nanoseconds",
        )
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        value.parse().map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(GoDuration::from_nanos(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        i64::try_from(value)
            .map(GoDuration::from_nanos)
            .map_err(|_| E::custom("duration out of range"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, nanos: i64, canonical: &str) {
        let duration: GoDuration = input.parse().unwrap();
        assert_eq!(duration.as_nanos(), nanos, "{input}");
        assert_eq!(duration.to_string(), canonical, "{input}");
        let again: GoDuration = canonical.parse().unwrap();
        assert_eq!(again, duration, "{canonical}");
    }

    #[test]
    fn parses_and_formats_like_go() {
        check("0", 0, "0s");
        check("0s", 0, "0s");
        check("90s", 90_000_000_000, "1m30s");
        check("1h30m", 5_400_000_000_000, "1h30m0s");
        check("15m", 900_000_000_000, "15m0s");
        check("2.5h", 9_000_000_000_000, "2h30m0s");
        check("1.5s", 1_500_000_000, "1.5s");
        check("100ms", 100_000_000, "100ms");
        check("1.5us", 1_500, "1.5µs");
        check("1µs", 1_000, "1µs");
        check("7ns", 7, "7ns");
        check("-1m", -60_000_000_000, "-1m0s");
        check("+5s", 5_000_000_000, "5s");
        check("1h1m1s1ms1us1ns", 3_661_001_001_001, "1h1m1.001001001s");
        check(".5s", 500_000_000, "500ms");
        check("1.s", 1_000_000_000, "1s");
        check(
            "2562047h47m16.854775807s",
            i64::MAX,
            "2562047h47m16.854775807s",
        );
        check(
            "-2562047h47m16.854775808s",
            i64::MIN,
            "-2562047h47m16.854775808s",
        );
    }

    #[test]
    fn rejects_what_go_rejects() {
        for input in [
            "",
            "1",
            "1h30min",
            "1d",
            "h",
            ".s",
            "-",
            "1.5.5s",
            "3 s",
            "2562048h",
            "9223372036854775808ns",
        ] {
            let error = input.parse::<GoDuration>().unwrap_err();
            assert!(
                error.to_string().starts_with("invalid duration"),
                "{input}: {error}"
            );
        }
    }

    #[test]
    fn unknown_unit_message_names_the_input() {
        let error = "1h30min".parse::<GoDuration>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid duration \"1h30min\": unknown unit (valid units are ns, us, µs, ms, s, m, h)"
        );
    }

    #[test]
    fn integers_are_nanoseconds() {
        #[derive(Deserialize)]
        struct Holder {
            value: GoDuration,
        }
        let holder: Holder = toml::from_str("value = 3600").unwrap();
        assert_eq!(holder.value.as_nanos(), 3600);
    }

    #[test]
    fn std_conversion() {
        assert_eq!(
            GoDuration::from_secs(3).to_std(),
            Some(Duration::from_secs(3))
        );
        assert_eq!(GoDuration::from_nanos(-1).to_std(), None);
        assert_eq!(GoDuration::from_std(Duration::MAX).as_nanos(), i64::MAX);
    }
}
