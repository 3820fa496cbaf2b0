//! Text exposition: prometheus-client writes OpenMetrics; the Prometheus 0.0.4 text format
//! that upstream serves by default is derived from it line by line.

use std::collections::HashMap;

use prometheus_client::registry::Registry;

use crate::error::{Error, Result};

/// A text exposition format of `/metrics`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4, upstream's default.
    Prometheus,
    /// OpenMetrics 1.0 text, for scrapers that ask for it.
    OpenMetrics,
}

impl Format {
    /// Picks the format from an `Accept` header: OpenMetrics only when asked for by name.
    pub fn negotiate(accept: Option<&str>) -> Self {
        let wants_openmetrics = accept.is_some_and(|accept| {
            accept.split(',').any(|range| {
                let mut parts = range.split(';').map(str::trim);
                let media = parts.next().unwrap_or_default();
                let refused = parts.any(|p| p.replace(' ', "") == "q=0");
                media.eq_ignore_ascii_case("application/openmetrics-text") && !refused
            })
        });
        if wants_openmetrics {
            Self::OpenMetrics
        } else {
            Self::Prometheus
        }
    }

    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Encodes every metric of `registry` in `format`.
pub fn encode(registry: &Registry, format: Format) -> Result<String> {
    let mut openmetrics = String::with_capacity(64 * 1024);
    prometheus_client::encoding::text::encode(&mut openmetrics, registry).map_err(Error::Encode)?;
    Ok(match format {
        Format::OpenMetrics => rename_colliding_counters(openmetrics),
        Format::Prometheus => to_prometheus_text(&openmetrics),
    })
}

/// Upstream has both a gauge `gitlab_runner_jobs` and a counter `gitlab_runner_jobs_total`.
/// In OpenMetrics the counter's family would also be called `gitlab_runner_jobs`, and a
/// family name may appear only once; such a counter is exposed as an `unknown` family named
/// after its `_total` sample, so the series keeps the name dashboards query.
fn rename_colliding_counters(openmetrics: String) -> String {
    let mut kinds: HashMap<&str, Vec<&str>> = HashMap::new();
    for segment in segments(&openmetrics) {
        let typed = match segment {
            Segment::Comment(line) => line.strip_prefix("# TYPE ").and_then(|r| r.split_once(' ')),
            Segment::Samples(_) => None,
        };
        if let Some((name, kind)) = typed {
            kinds.entry(name).or_default().push(kind);
        }
    }
    let colliding: Vec<&str> = kinds
        .iter()
        .filter(|(_, kinds)| kinds.len() > 1 && kinds.contains(&"counter"))
        .map(|(name, _)| *name)
        .collect();
    if colliding.is_empty() {
        return openmetrics;
    }
    let mut out = String::with_capacity(openmetrics.len() + 64);
    // A HELP line of a colliding name waits until its TYPE line shows whether it is the counter.
    let mut held_help: Option<(&str, &str)> = None;
    for segment in segments(&openmetrics) {
        let line = match segment {
            Segment::Samples(samples) => {
                out.push_str(samples);
                continue;
            }
            Segment::Comment(line) => line,
        };
        let help = line
            .strip_prefix("# HELP ")
            .and_then(|rest| rest.split_once(' '));
        if let Some((name, text)) = help.filter(|(name, _)| colliding.contains(name)) {
            held_help = Some((name, text));
            continue;
        }
        let typed = line.strip_prefix("# TYPE ").and_then(|r| r.split_once(' '));
        match (held_help.take(), typed) {
            (Some((_, text)), Some((name, "counter"))) if colliding.contains(&name) => {
                push_line(&mut out, &["# HELP ", name, "_total ", text]);
                push_line(&mut out, &["# TYPE ", name, "_total unknown"]);
            }
            (held, _) => {
                if let Some((name, text)) = held {
                    push_line(&mut out, &["# HELP ", name, " ", text]);
                }
                push_line(&mut out, &[line]);
            }
        }
    }
    out
}

/// Rewrites OpenMetrics text as Prometheus 0.0.4: counter families are named after their
/// `_total` samples, `info` becomes a gauge named after its `_info` sample, `unknown` becomes
/// `untyped`, and the `# UNIT`/`# EOF` lines go. Samples are identical in both formats and are
/// copied in whole runs, which keeps the conversion a small share of a scrape.
fn to_prometheus_text(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    let mut pending_help: Option<(&str, &str)> = None;
    for segment in segments(openmetrics) {
        let line = match segment {
            Segment::Samples(samples) => {
                flush_help(&mut out, pending_help.take(), None);
                out.push_str(samples);
                continue;
            }
            Segment::Comment(line) => line,
        };
        if let Some(rest) = line.strip_prefix("# HELP ") {
            flush_help(&mut out, pending_help.take(), None);
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            pending_help = Some((name, help));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            let (suffix, kind) = match kind {
                "counter" => ("_total", "counter"),
                "info" => ("_info", "gauge"),
                "unknown" => ("", "untyped"),
                other => ("", other),
            };
            let help = pending_help
                .take()
                .filter(|(help_name, _)| *help_name == name);
            flush_help(&mut out, help, Some(suffix));
            push_line(&mut out, &["# TYPE ", name, suffix, " ", kind]);
        } else if !(line.starts_with("# UNIT ") || line == "# EOF") {
            flush_help(&mut out, pending_help.take(), None);
            push_line(&mut out, &[line]);
        }
    }
    flush_help(&mut out, pending_help, None);
    out
}

/// A piece of exposition text: one comment line (without its newline) or a run of sample
/// lines (with their newlines).
enum Segment<'a> {
    Comment(&'a str),
    Samples(&'a str),
}

fn segments(text: &str) -> impl Iterator<Item = Segment<'_>> {
    let mut position = 0;
    std::iter::from_fn(move || {
        let rest = text.get(position..).filter(|rest| !rest.is_empty())?;
        if rest.starts_with('#') {
            let end = rest.find('\n').map_or(rest.len(), |i| i + 1);
            position += end;
            Some(Segment::Comment(rest[..end].trim_end_matches('\n')))
        } else {
            let end = rest.find("\n#").map_or(rest.len(), |i| i + 1);
            position += end;
            Some(Segment::Samples(&rest[..end]))
        }
    })
}

fn flush_help(out: &mut String, help: Option<(&str, &str)>, suffix: Option<&str>) {
    if let Some((name, text)) = help {
        push_line(out, &["# HELP ", name, suffix.unwrap_or(""), " ", text]);
    }
}

fn push_line(out: &mut String, parts: &[&str]) {
    for part in parts {
        out.push_str(part);
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_info_and_units_are_rewritten() {
        let openmetrics = "# HELP a_errors Errors.\n# TYPE a_errors counter\n\
                           a_errors_total{level=\"x\"} 1\n\
                           # HELP b Build.\n# TYPE b info\nb_info{v=\"1\"} 1\n\
                           # HELP c_seconds Time.\n# TYPE c_seconds gauge\n# UNIT c_seconds seconds\n\
                           c_seconds 2.5\n# EOF\n";
        assert_eq!(
            to_prometheus_text(openmetrics),
            "# HELP a_errors_total Errors.\n# TYPE a_errors_total counter\n\
             a_errors_total{level=\"x\"} 1\n\
             # HELP b_info Build.\n# TYPE b_info gauge\nb_info{v=\"1\"} 1\n\
             # HELP c_seconds Time.\n# TYPE c_seconds gauge\nc_seconds 2.5\n"
        );
    }

    #[test]
    fn colliding_counter_family_becomes_unknown_total() {
        let openmetrics = "# HELP j Jobs.\n# TYPE j counter\nj_total 2\n\
                           # HELP j Running.\n# TYPE j gauge\nj 1\n# EOF\n";
        assert_eq!(
            rename_colliding_counters(openmetrics.to_owned()),
            "# HELP j_total Jobs.\n# TYPE j_total unknown\nj_total 2\n\
             # HELP j Running.\n# TYPE j gauge\nj 1\n# EOF\n"
        );
    }

    #[test]
    fn accept_header_negotiation() {
        assert_eq!(Format::negotiate(None), Format::Prometheus);
        assert_eq!(Format::negotiate(Some("text/plain")), Format::Prometheus);
        assert_eq!(
            Format::negotiate(Some(
                "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
            )),
            Format::OpenMetrics
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text; q=0, text/plain")),
            Format::Prometheus
        );
    }
}
