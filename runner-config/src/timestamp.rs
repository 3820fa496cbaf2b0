//! [`Timestamp`]: an instant written as a TOML offset date-time.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use toml::value::{Date, Datetime, Offset, Time};

/// Seconds from 0001-01-01T00:00:00Z (Go's zero time) to the Unix epoch.
const ZERO_TIME_UNIX_SECONDS: i64 = -62_135_596_800;

/// An instant in UTC with nanosecond precision, as used by `token_obtained_at` and
/// `token_expires_at`.
///
/// In the file it is an unquoted RFC 3339 offset date-time (`2026-03-01T10:15:00Z`); any
/// offset is accepted and converted to UTC, and a local date-time without offset is read as
/// UTC. It is written back in UTC with a `Z`. Upstream's zero value
/// `0001-01-01T00:00:00Z` ([`Timestamp::ZERO`], also the default) means "not known" or,
/// for `token_expires_at`, "never expires".
///
/// ```
/// use runner_config::Timestamp;
///
/// let obtained = Timestamp::from_unix(1_772_360_100, 0);
/// assert_eq!(obtained.to_string(), "2026-03-01T10:15:00Z");
/// assert!(Timestamp::ZERO.is_zero());
/// assert_eq!(Timestamp::ZERO.to_string(), "0001-01-01T00:00:00Z");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    unix_seconds: i64,
    nanos: u32,
}

impl Timestamp {
    /// Upstream's zero time, `0001-01-01T00:00:00Z`.
    pub const ZERO: Self = Self {
        unix_seconds: ZERO_TIME_UNIX_SECONDS,
        nanos: 0,
    };

    /// The instant `unix_seconds` (plus `nanos`, clamped below one second) after the Unix
    /// epoch. Instants before year 1 or after year 9999 are clamped to that range, which is
    /// what a TOML date-time can express.
    pub fn from_unix(unix_seconds: i64, nanos: u32) -> Self {
        let min = ZERO_TIME_UNIX_SECONDS;
        let max = days_from_civil(9999, 12, 31) * 86_400 + 86_399;
        Self {
            unix_seconds: unix_seconds.clamp(min, max),
            nanos: nanos.min(999_999_999),
        }
    }

    /// Converts a system time (clamped like [`Timestamp::from_unix`]).
    pub fn from_system_time(time: SystemTime) -> Self {
        match time.duration_since(UNIX_EPOCH) {
            Ok(after) => Self::from_unix(
                i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
                after.subsec_nanos(),
            ),
            Err(before) => {
                let before = before.duration();
                let mut seconds = -i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
                let mut nanos = before.subsec_nanos();
                if nanos > 0 {
                    seconds -= 1;
                    nanos = 1_000_000_000 - nanos;
                }
                Self::from_unix(seconds, nanos)
            }
        }
    }

    /// Whether this is upstream's zero time ("not known" / "never expires").
    pub fn is_zero(self) -> bool {
        self == Self::ZERO
    }

    /// Whole seconds since the Unix epoch (negative before 1970).
    pub fn unix_seconds(self) -> i64 {
        self.unix_seconds
    }

    /// Nanoseconds within the second.
    pub fn subsec_nanos(self) -> u32 {
        self.nanos
    }

    /// The instant as a system time, or `None` for the zero time.
    pub fn to_system_time(self) -> Option<SystemTime> {
        if self.is_zero() {
            return None;
        }
        let nanos = Duration::from_nanos(u64::from(self.nanos));
        match u64::try_from(self.unix_seconds) {
            Ok(seconds) => UNIX_EPOCH.checked_add(Duration::from_secs(seconds) + nanos),
            Err(_) => UNIX_EPOCH
                .checked_sub(Duration::from_secs(self.unix_seconds.unsigned_abs()))
                .and_then(|time| time.checked_add(nanos)),
        }
    }

    /// Reads an RFC 3339 date-time as the coordinator sends it (`token_expires_at`:
    /// `2026-03-31T00:00:00.000Z`, `2026-03-31T02:00:00+02:00`); `None` when it is not one.
    ///
    /// ```
    /// use runner_config::Timestamp;
    /// let time = Timestamp::parse_rfc3339("2026-03-31T02:00:00+02:00").unwrap();
    /// assert_eq!(time, Timestamp::parse_rfc3339("2026-03-31T00:00:00Z").unwrap());
    /// assert!(Timestamp::parse_rfc3339("tomorrow").is_none());
    /// ```
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let datetime: Datetime = text.trim().parse().ok()?;
        // RFC 3339 needs a date, a time and an offset; TOML also has local forms.
        if datetime.date.is_none() || datetime.time.is_none() || datetime.offset.is_none() {
            return None;
        }
        Self::from_toml(&datetime).ok()
    }

    /// The TOML date-time of this instant, in UTC.
    pub(crate) fn to_toml(self) -> Datetime {
        let days = self.unix_seconds.div_euclid(86_400);
        let second_of_day = self.unix_seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Datetime {
            date: Some(Date {
                year: u16::try_from(year).unwrap_or(9999),
                month,
                day,
            }),
            time: Some(Time {
                hour: (second_of_day / 3_600) as u8,
                minute: (second_of_day % 3_600 / 60) as u8,
                second: Some((second_of_day % 60) as u8),
                nanosecond: (self.nanos > 0).then_some(self.nanos),
            }),
            offset: Some(Offset::Z),
        }
    }

    /// Reads a TOML date-time; a date alone means midnight UTC, a time alone is rejected.
    pub(crate) fn from_toml(datetime: &Datetime) -> Result<Self, &'static str> {
        let date = datetime
            .date
            .ok_or("expected a date-time such as 2026-03-01T10:15:00Z, found a time of day")?;
        let time = datetime.time.unwrap_or(Time {
            hour: 0,
            minute: 0,
            second: Some(0),
            nanosecond: None,
        });
        let offset_minutes = match datetime.offset {
            None | Some(Offset::Z) => 0,
            Some(Offset::Custom { minutes }) => i64::from(minutes),
        };
        let days = days_from_civil(i64::from(date.year), date.month, date.day);
        let seconds = days * 86_400
            + i64::from(time.hour) * 3_600
            + i64::from(time.minute) * 60
            + i64::from(time.second.unwrap_or(0))
            - offset_minutes * 60;
        Ok(Self::from_unix(seconds, time.nanosecond.unwrap_or(0)))
    }
}

impl Default for Timestamp {
    /// [`Timestamp::ZERO`].
    fn default() -> Self {
        Self::ZERO
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_toml().fmt(formatter)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_toml().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let datetime = Datetime::deserialize(deserializer)?;
        Self::from_toml(&datetime).map_err(serde::de::Error::custom)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u8;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u8;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_time_round_trips() {
        let datetime: Datetime = "0001-01-01T00:00:00Z".parse().unwrap();
        let timestamp = Timestamp::from_toml(&datetime).unwrap();
        assert!(timestamp.is_zero());
        assert_eq!(timestamp.to_string(), "0001-01-01T00:00:00Z");
        assert_eq!(timestamp.to_system_time(), None);
    }

    #[test]
    fn offsets_are_converted_to_utc() {
        let datetime: Datetime = "2026-03-01T12:15:00+02:00".parse().unwrap();
        let timestamp = Timestamp::from_toml(&datetime).unwrap();
        assert_eq!(timestamp.to_string(), "2026-03-01T10:15:00Z");
        assert_eq!(timestamp.unix_seconds(), 1_772_360_100);
    }

    #[test]
    fn fractional_seconds_survive() {
        let datetime: Datetime = "2026-02-10T08:00:00.25Z".parse().unwrap();
        let timestamp = Timestamp::from_toml(&datetime).unwrap();
        assert_eq!(timestamp.subsec_nanos(), 250_000_000);
        assert_eq!(timestamp.to_string(), "2026-02-10T08:00:00.25Z");
    }

    #[test]
    fn civil_conversion_is_consistent() {
        for days in (-719_162..2_932_896).step_by(997) {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days);
        }
    }

    #[test]
    fn system_time_round_trip() {
        let timestamp = Timestamp::from_unix(1_700_000_000, 5);
        let system = timestamp.to_system_time().unwrap();
        assert_eq!(Timestamp::from_system_time(system), timestamp);
        let old = Timestamp::from_unix(-1_000, 5);
        assert_eq!(
            Timestamp::from_system_time(old.to_system_time().unwrap()),
            old
        );
    }
}
