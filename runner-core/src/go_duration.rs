//! Go durations (`1h30m`, `1.5s`, `-1m`): one parser and one formatter for the whole runner,
//! exact in integer nanoseconds as Go's `time.Duration`.

const NANOS_PER_MICRO: u64 = 1_000;
const NANOS_PER_MILLI: u64 = 1_000_000;
const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// Go's `time.ParseDuration`, computed exactly in integers: the signed number of
/// nanoseconds, or why the text is not a duration. Decimal numbers each with a unit among
/// `ns`, `us` (`µs`), `ms`, `s`, `m`, `h`, optionally signed, or `0`.
///
/// ```
/// assert_eq!(runner_core::parse_go_duration("1h30m"), Ok(5_400_000_000_000));
/// assert_eq!(runner_core::format_go_duration(5_400_000_000_000), "1h30m0s");
/// assert!(runner_core::parse_go_duration("1h30min").is_err());
/// ```
pub fn parse_go_duration(input: &str) -> Result<i64, &'static str> {
    let (negative, mut rest) = match input.as_bytes().first() {
        Some(b'-') => (true, &input[1..]),
        Some(b'+') => (false, &input[1..]),
        _ => (false, input),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err("empty duration");
    }
    // The largest magnitude: i64::MAX, or one more for a negative value.
    let limit: u128 = if negative { 1 << 63 } else { (1 << 63) - 1 };
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let integer_digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (integer, after_integer) = rest.split_at(integer_digits);
        let (fraction, after_number) = match after_integer.strip_prefix('.') {
            Some(after_dot) => {
                let fraction_digits = after_dot.bytes().take_while(u8::is_ascii_digit).count();
                after_dot.split_at(fraction_digits)
            }
            None => ("", after_integer),
        };
        if integer.is_empty() && fraction.is_empty() {
            return Err("expected a number");
        }
        let unit_len = after_number
            .char_indices()
            .find(|(_, character)| character.is_ascii_digit() || *character == '.')
            .map_or(after_number.len(), |(index, _)| index);
        let (unit, after_unit) = after_number.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => u128::from(NANOS_PER_MICRO),
            "ms" => u128::from(NANOS_PER_MILLI),
            "s" => u128::from(NANOS_PER_SECOND),
            "m" => 60 * u128::from(NANOS_PER_SECOND),
            "h" => 3_600 * u128::from(NANOS_PER_SECOND),
            "" => return Err("missing unit (valid units are ns, us, µs, ms, s, m, h)"),
            _ => return Err("unknown unit (valid units are ns, us, µs, ms, s, m, h)"),
        };
        let whole = digits_value(integer).ok_or("number out of range")?;
        let mut component = whole.checked_mul(unit_nanos).ok_or("number out of range")?;
        // Only the first 19 fraction digits matter: beyond that they are below a nanosecond
        // even for hours.
        let fraction = &fraction[..fraction.len().min(19)];
        if !fraction.is_empty() {
            let numerator = digits_value(fraction).ok_or("number out of range")?;
            let scale = 10u128.pow(u32::try_from(fraction.len()).unwrap_or(19));
            component += numerator * unit_nanos / scale;
        }
        total = total.checked_add(component).ok_or("number out of range")?;
        if total > limit {
            return Err("number out of range");
        }
        rest = after_unit;
    }
    let magnitude = i128::try_from(total).map_err(|_| "number out of range")?;
    let signed = if negative { -magnitude } else { magnitude };
    i64::try_from(signed).map_err(|_| "number out of range")
}

fn digits_value(digits: &str) -> Option<u128> {
    digits.bytes().try_fold(0u128, |value, digit| {
        value.checked_mul(10)?.checked_add(u128::from(digit - b'0'))
    })
}

/// Go's `Duration.String()` of `nanos` nanoseconds: `1h30m0s`, `1.5s`, `250ms`, `-1m0s`, `0s`.
pub fn format_go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_owned();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let magnitude = nanos.unsigned_abs();
    if magnitude < NANOS_PER_SECOND {
        let (precision, unit) = if magnitude < NANOS_PER_MICRO {
            (0, "ns")
        } else if magnitude < NANOS_PER_MILLI {
            (3, "µs")
        } else {
            (6, "ms")
        };
        let divisor = 10u64.pow(precision);
        let fraction = fraction_text(magnitude % divisor, precision);
        return format!("{sign}{}{fraction}{unit}", magnitude / divisor);
    }
    let seconds = magnitude / NANOS_PER_SECOND;
    let fraction = fraction_text(magnitude % NANOS_PER_SECOND, 9);
    let minutes = seconds / 60;
    let mut text = String::from(sign);
    if minutes > 0 {
        let hours = minutes / 60;
        if hours > 0 {
            text.push_str(&format!("{hours}h"));
        }
        text.push_str(&format!("{}m", minutes % 60));
    }
    text.push_str(&format!("{}{fraction}s", seconds % 60));
    text
}

/// The digits of a fraction of `precision` digits, without trailing zeros, after a dot.
fn fraction_text(value: u64, precision: u32) -> String {
    if value == 0 {
        return String::new();
    }
    let digits = format!("{value:0width$}", width = precision as usize);
    format!(".{}", digits.trim_end_matches('0'))
}
