//! Human durations as GitLab accepts them for `timeout` (`1h 30m`, `2 hours`, `90 minutes`,
//! `3600`), converted to whole seconds.

/// Parses a human duration into seconds; a bare number is seconds.
pub(crate) fn parse_seconds(text: &str) -> Option<u64> {
    let text = text.trim().to_ascii_lowercase();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(seconds);
    }
    let mut total: u64 = 0;
    let mut seen_any = false;
    let mut rest = text.as_str();
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        rest = rest.strip_prefix("and ").unwrap_or(rest);
        if rest.is_empty() {
            break;
        }
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let amount: f64 = rest[..digits].parse().ok()?;
        rest = rest[digits..].trim_start();
        let unit_length = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_length];
        rest = &rest[unit_length..];
        let factor: u64 = match unit {
            "s" | "sec" | "secs" | "second" | "seconds" => 1,
            "m" | "min" | "mins" | "minute" | "minutes" => 60,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3600,
            "d" | "day" | "days" => 86_400,
            "w" | "wk" | "wks" | "week" | "weeks" => 604_800,
            // A bare trailing number after other parts counts as seconds ("1m 30").
            "" => 1,
            _ => return None,
        };
        let seconds = (amount * factor as f64).round();
        if !seconds.is_finite() || seconds < 0.0 {
            return None;
        }
        total = total.checked_add(seconds as u64)?;
        seen_any = true;
    }
    seen_any.then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Option<u64>) {
        assert_eq!(parse_seconds(input), expected, "{input}");
    }

    #[test]
    fn human_durations() {
        check("3600", Some(3600));
        check("1h 30m", Some(5400));
        check("1h30m", Some(5400));
        check("2 hours", Some(7200));
        check("90 minutes", Some(5400));
        check("1 hour and 5 minutes", Some(3900));
        check("1h, 10s", Some(3610));
        check("1.5h", Some(5400));
        check("3 days", Some(259_200));
        check("1 week", Some(604_800));
        check("10 mins 30 sec", Some(630));
        check("", None);
        check("soon", None);
        check("5 fortnights", None);
    }
}
