//! Parsing of Docker's resource strings: memory sizes (`512m`) and CPU counts (`1.5`, `3/2`).

use crate::error::{Error, Result};

/// Bytes of a Docker memory string: a number with an optional `b`, `k`, `m`, `g`, `t`, `p`
/// suffix (case-insensitive, an extra trailing `b` allowed: `512mb`), binary multiples.
pub(crate) fn parse_memory(value: &str) -> Result<i64> {
    let invalid = || {
        Error::config(format!(
            "Error parsing docker memory: invalid size: '{value}'"
        ))
    };
    let trimmed = value.trim();
    let lower = trimmed.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(split);
    let number: f64 = number.parse().map_err(|_| invalid())?;
    let unit = unit.trim();
    let unit = if unit.len() == 2 {
        unit.strip_suffix('b').ok_or_else(invalid)?
    } else {
        unit
    };
    let multiplier: f64 = match unit {
        "" | "b" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0_f64.powi(4),
        "p" => 1024.0_f64.powi(5),
        _ => return Err(invalid()),
    };
    let bytes = number * multiplier;
    if !bytes.is_finite() || bytes < 0.0 || bytes > i64::MAX as f64 {
        return Err(invalid());
    }
    #[expect(clippy::cast_possible_truncation, reason = "range checked just above")]
    Ok(bytes as i64)
}

/// `NanoCPUs` of a `cpus` string: a decimal (`1.5`) or a rational (`3/2`).
pub(crate) fn parse_cpus(value: &str) -> Result<i64> {
    let invalid = || Error::config(format!("failed to parse {value} as a rational number"));
    let trimmed = value.trim();
    let cpus = if let Some((numerator, denominator)) = trimmed.split_once('/') {
        let numerator: f64 = numerator.trim().parse().map_err(|_| invalid())?;
        let denominator: f64 = denominator.trim().parse().map_err(|_| invalid())?;
        if denominator == 0.0 {
            return Err(invalid());
        }
        numerator / denominator
    } else {
        trimmed.parse::<f64>().map_err(|_| invalid())?
    };
    let nano = (cpus * 1e9).round();
    if !nano.is_finite() || nano < 0.0 || nano > i64::MAX as f64 {
        return Err(invalid());
    }
    #[expect(clippy::cast_possible_truncation, reason = "range checked just above")]
    Ok(nano as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory(input: &str, expected: i64) {
        assert_eq!(parse_memory(input).unwrap(), expected, "{input}");
    }

    #[test]
    fn memory_units() {
        memory("512", 512);
        memory("64m", 64 * 1024 * 1024);
        memory("64MB", 64 * 1024 * 1024);
        memory("1g", 1024 * 1024 * 1024);
        memory("1.5k", 1536);
        assert!(matches!(parse_memory("lots"), Err(Error::Config { .. })));
        assert!(matches!(parse_memory("12x"), Err(Error::Config { .. })));
    }

    #[test]
    fn cpus_decimal_and_rational() {
        assert_eq!(parse_cpus("1.5").unwrap(), 1_500_000_000);
        assert_eq!(parse_cpus("3/2").unwrap(), 1_500_000_000);
        assert_eq!(
            parse_cpus("two").unwrap_err().to_string(),
            "failed to parse two as a rational number"
        );
        assert!(parse_cpus("1/0").is_err());
    }
}
