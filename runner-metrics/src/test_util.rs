//! Test utilities (feature `test-util`): a small strict parser of the Prometheus 0.0.4 and
//! OpenMetrics text formats, so tests of this crate and end-to-end tests of the binary check
//! what a scraper would read instead of matching substrings.

use std::collections::BTreeMap;

/// Which text format to expect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// Prometheus text format 0.0.4.
    Prometheus,
    /// OpenMetrics text format 1.0.
    OpenMetrics,
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Sample name (with `_bucket`, `_sum`... suffixes).
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

/// A metric family: its `# TYPE`, `# HELP` and samples.
#[derive(Debug, Clone, Default)]
pub struct Family {
    /// The `# TYPE` (counter, gauge, histogram...).
    pub kind: String,
    /// The `# HELP` text.
    pub help: String,
    /// The samples, in order.
    pub samples: Vec<Sample>,
}

/// A parsed scrape.
#[derive(Debug, Default)]
pub struct Exposition {
    /// Families by name.
    pub families: BTreeMap<String, Family>,
}

impl Exposition {
    /// The family `name`; panics when it is missing (test helper).
    pub fn family(&self, name: &str) -> &Family {
        self.families
            .get(name)
            .unwrap_or_else(|| panic!("family {name} missing"))
    }

    /// Samples named `name` whose labels include every pair of `subset`.
    pub fn samples<'a>(&'a self, name: &'a str, subset: &'a [(&str, &str)]) -> Vec<&'a Sample> {
        self.families
            .values()
            .flat_map(|family| family.samples.iter())
            .filter(|sample| sample.name == name)
            .filter(|sample| {
                subset
                    .iter()
                    .all(|(k, v)| sample.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The single sample named `name` matching `subset`; panics on none or several.
    pub fn value(&self, name: &str, subset: &[(&str, &str)]) -> f64 {
        let found = self.samples(name, subset);
        assert_eq!(found.len(), 1, "{name} {subset:?}: {found:?}");
        found[0].value
    }
}

/// Parses `text` strictly: HELP/TYPE order, names, escaping, cumulative histograms.
pub fn parse(text: &str, dialect: Dialect) -> Result<Exposition, String> {
    let mut exposition = Exposition::default();
    let mut current: Option<String> = None;
    let mut pending_help: Option<(String, String)> = None;
    let mut saw_eof = false;
    for (number, line) in text.lines().enumerate() {
        let err = |message: &str| format!("line {}: {message}: {line:?}", number + 1);
        if saw_eof {
            return Err(err("content after # EOF"));
        }
        if line == "# EOF" && dialect == Dialect::OpenMetrics {
            saw_eof = true;
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').ok_or_else(|| err("bad HELP"))?;
            check_name(name).map_err(|e| err(&e))?;
            pending_help = Some((name.to_owned(), help.to_owned()));
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').ok_or_else(|| err("bad TYPE"))?;
            check_name(name).map_err(|e| err(&e))?;
            let allowed: &[&str] = match dialect {
                Dialect::Prometheus => &["counter", "gauge", "histogram", "summary", "untyped"],
                Dialect::OpenMetrics => &[
                    "counter",
                    "gauge",
                    "histogram",
                    "summary",
                    "unknown",
                    "info",
                    "stateset",
                    "gaugehistogram",
                ],
            };
            if !allowed.contains(&kind) {
                return Err(err("unknown type"));
            }
            if exposition.families.contains_key(name) {
                return Err(err("duplicate family"));
            }
            let help = match pending_help.take() {
                Some((help_name, help)) if help_name == name => help,
                Some(_) => return Err(err("HELP of another family")),
                None => String::new(),
            };
            if dialect == Dialect::Prometheus && kind == "counter" && !name.ends_with("_total") {
                return Err(err(
                    "0.0.4 counter family not named after its _total sample",
                ));
            }
            exposition.families.insert(
                name.to_owned(),
                Family {
                    kind: kind.to_owned(),
                    help,
                    samples: Vec::new(),
                },
            );
            current = Some(name.to_owned());
            continue;
        }
        if line.starts_with('#') {
            if dialect == Dialect::OpenMetrics && line.starts_with("# UNIT ") {
                continue;
            }
            return Err(err("unexpected comment"));
        }
        if line.is_empty() {
            return Err(err("empty line"));
        }
        let sample = parse_sample(line).map_err(|e| err(&e))?;
        let family_name = current
            .as_deref()
            .ok_or_else(|| err("sample before TYPE"))?;
        let family = exposition
            .families
            .get_mut(family_name)
            .ok_or_else(|| err("unknown family"))?;
        if !sample_belongs(&sample.name, family_name, &family.kind, dialect) {
            return Err(err("sample does not belong to the current family"));
        }
        family.samples.push(sample);
    }
    if dialect == Dialect::OpenMetrics && !saw_eof {
        return Err("OpenMetrics text without # EOF".to_owned());
    }
    for (name, family) in &exposition.families {
        if family.kind == "histogram" {
            check_histogram(name, family)?;
        }
    }
    Ok(exposition)
}

fn sample_belongs(sample: &str, family: &str, kind: &str, dialect: Dialect) -> bool {
    match (kind, dialect) {
        ("histogram", _) => [
            format!("{family}_bucket"),
            format!("{family}_sum"),
            format!("{family}_count"),
        ]
        .contains(&sample.to_owned()),
        ("counter", Dialect::OpenMetrics) => {
            sample == format!("{family}_total") || sample == format!("{family}_created")
        }
        ("info", _) => sample == format!("{family}_info"),
        _ => sample == family,
    }
}

/// Buckets per label set: `le` ascending, counts cumulative, `+Inf` equal to `_count`.
fn check_histogram(name: &str, family: &Family) -> Result<(), String> {
    let mut series: BTreeMap<BTreeMap<String, String>, Vec<(f64, f64)>> = BTreeMap::new();
    let mut counts = BTreeMap::new();
    for sample in &family.samples {
        let mut labels = sample.labels.clone();
        if sample.name.ends_with("_bucket") {
            let le = labels
                .remove("le")
                .ok_or(format!("{name}: bucket without le"))?;
            let le = parse_value(&le)?;
            series.entry(labels).or_default().push((le, sample.value));
        } else if sample.name.ends_with("_count") {
            counts.insert(labels, sample.value);
        }
    }
    for (labels, buckets) in &series {
        for pair in buckets.windows(2) {
            if pair[0].0 >= pair[1].0 || pair[0].1 > pair[1].1 {
                return Err(format!(
                    "{name}{labels:?}: buckets not cumulative/ascending"
                ));
            }
        }
        let last = buckets.last().ok_or(format!("{name}: no buckets"))?;
        if last.0 != f64::INFINITY || Some(&last.1) != counts.get(labels) {
            return Err(format!("{name}{labels:?}: +Inf bucket differs from _count"));
        }
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
        Ok(())
    } else {
        Err(format!("invalid metric name {name:?}"))
    }
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    check_name(name)?;
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(after_brace) = rest.strip_prefix('{') {
        rest = after_brace;
        loop {
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = rest.find('=').ok_or("label without =")?;
            let key = &rest[..eq];
            check_name(key)?;
            rest = rest[eq + 1..]
                .strip_prefix('"')
                .ok_or("label value not quoted")?;
            let mut value = String::new();
            let mut chars = rest.char_indices();
            let end = loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        _ => return Err("bad escape".into()),
                    },
                    Some((i, '"')) => break i,
                    Some((_, c)) => value.push(c),
                    None => return Err("unterminated label value".into()),
                }
            };
            if labels.insert(key.to_owned(), value).is_some() {
                return Err(format!("duplicate label {key}"));
            }
            rest = &rest[end + 1..];
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
    }
    let rest = rest.strip_prefix(' ').ok_or("no space before value")?;
    let mut parts = rest.split(' ');
    let value = parse_value(parts.next().ok_or("no value")?)?;
    if let Some(timestamp) = parts.next() {
        timestamp.parse::<f64>().map_err(|_| "bad timestamp")?;
    }
    if parts.next().is_some() {
        return Err("trailing fields".into());
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        other => other.parse().map_err(|_| format!("bad value {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_rejects_malformed_text() {
        let bad = [
            "foo 1\n",
            "# TYPE foo gauge\nfoo{a=b} 1\n",
            "# TYPE foo gauge\nbar 1\n",
            "# TYPE foo counter\nfoo 1\n",
            "# TYPE foo gauge\n# TYPE foo gauge\n",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 1\n",
        ];
        for text in bad {
            assert!(parse(text, Dialect::Prometheus).is_err(), "{text}");
        }
        let good = "# HELP foo_total F.\n# TYPE foo_total counter\nfoo_total{a=\"x\\\"y\"} 1\n";
        let parsed = parse(good, Dialect::Prometheus).unwrap();
        assert_eq!(parsed.value("foo_total", &[("a", "x\"y")]), 1.0);
    }
}
