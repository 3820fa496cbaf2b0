//! What `exec` prints: a header per job and the summary table at the end.

use std::io::{IsTerminal as _, Write as _};
use std::time::Duration;

use runner_pipeline::PlannedJob;

/// How a job of the pipeline ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    Passed,
    Failed,
    FailedAllowed,
    Skipped,
    Manual,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::FailedAllowed => "failed (allowed)",
            Self::Skipped => "skipped",
            Self::Manual => "manual",
        }
    }
}

/// One row of the summary table.
#[derive(Debug)]
pub(super) struct Row {
    pub(super) name: String,
    pub(super) stage: String,
    pub(super) status: Status,
    pub(super) duration: Option<Duration>,
}

#[expect(
    clippy::print_stdout,
    reason = "exec's job headers are its terminal output"
)]
pub(super) fn print_job_header(number: usize, total: usize, job: &PlannedJob) {
    let title = format!(
        "Job {number}/{total}: {} (stage {})",
        job.name(),
        job.stage()
    );
    if std::io::stdout().is_terminal() {
        println!("\n\x1b[1;34m=== {title}\x1b[0m");
    } else {
        println!("\n=== {title}");
    }
    let _ = std::io::stdout().flush();
}

#[expect(
    clippy::print_stdout,
    reason = "the summary table is exec's terminal output"
)]
pub(super) fn print_summary(rows: &[Row], excluded: &[&str], colour: bool) {
    let width = |pick: fn(&Row) -> usize, title: &str| {
        rows.iter().map(pick).max().unwrap_or(0).max(title.len())
    };
    let name_width = width(|row| row.name.len(), "JOB");
    let stage_width = width(|row| row.stage.len(), "STAGE");
    let status_width = width(|row| row.status.as_str().len(), "STATUS");
    println!();
    println!(
        "{:<name_width$}  {:<stage_width$}  {:<status_width$}  DURATION",
        "JOB", "STAGE", "STATUS"
    );
    for row in rows {
        let status = format!("{:<status_width$}", row.status.as_str());
        let status = match (colour, row.status) {
            (false, _) => status,
            (true, Status::Passed) => format!("\x1b[32m{status}\x1b[0m"),
            (true, Status::Failed) => format!("\x1b[31m{status}\x1b[0m"),
            (true, Status::FailedAllowed) => format!("\x1b[33m{status}\x1b[0m"),
            (true, Status::Skipped | Status::Manual) => format!("\x1b[2m{status}\x1b[0m"),
        };
        let duration = row.duration.map(format_duration).unwrap_or_default();
        println!(
            "{:<name_width$}  {:<stage_width$}  {status}  {duration}",
            row.name, row.stage
        );
    }
    if !excluded.is_empty() {
        println!("Not in this pipeline (rules): {}", excluded.join(", "));
    }
}

fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds >= 60 {
        format!("{}m{:02}s", seconds / 60, seconds % 60)
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_secs(65)), "1m05s");
    }
}
