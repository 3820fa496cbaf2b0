//! Rewrites of the comment lines prometheus-client writes; sample lines are copied untouched,
//! in whole runs.

use std::collections::HashMap;

use super::segments::{Segment, segments};

/// The most a `# TYPE` line and its `# HELP` line can grow: `_total` in both names (`_info`
/// is shorter) plus one byte for `info` becoming `gauge`.
const GROWTH_PER_FAMILY: usize = 2 * "_total".len() + 1;

/// Upstream has both a gauge `gitlab_runner_jobs` and a counter `gitlab_runner_jobs_total`.
/// In OpenMetrics the counter's family would also be called `gitlab_runner_jobs`, and a
/// family name may appear only once; such a counter is exposed as an `unknown` family named
/// after its `_total` sample, so the series keeps the name dashboards query.
pub(super) fn rename_colliding_counters(openmetrics: String) -> String {
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
    // Each renamed family gains `_total` in its HELP and TYPE lines; sized once, no regrowth.
    let colliding_families: usize = colliding.iter().map(|name| kinds[name].len()).sum();
    let mut out = String::with_capacity(openmetrics.len() + colliding_families * 12);
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
/// copied in whole runs into a buffer sized up front, so the conversion is one copy.
pub(super) fn to_prometheus_text(openmetrics: &str) -> String {
    let parts: Vec<Segment<'_>> = segments(openmetrics).collect();
    let comments = parts
        .iter()
        .filter(|part| matches!(part, Segment::Comment(_)))
        .count();
    let mut out = String::with_capacity(openmetrics.len() + comments * GROWTH_PER_FAMILY);
    let mut pending_help: Option<(&str, &str)> = None;
    for segment in parts {
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
}
