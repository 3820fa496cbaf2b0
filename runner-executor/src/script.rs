//! Script generation for every stage, in bash or POSIX sh (executors.md §4,
//! upstream-details.md §8.4).

pub(crate) mod bash;
pub(crate) mod dialect;
mod escape;
mod git;
mod posix;
pub(crate) mod stages;

pub use escape::{escape, escape_posix};

use crate::trace::writer::ansi;

/// A bash line printing `text` as a bold green notice (upstream's `Noticef`).
///
/// ```
/// assert_eq!(runner_executor::script::notice_line("Hi"), "echo $'\\x1b[32;1mHi\\x1b[0;m'");
/// ```
pub fn notice_line(text: &str) -> String {
    format!(
        "echo {}",
        escape(&format!("{}{text}{}", ansi::GREEN, ansi::RESET))
    )
}

/// A bash line printing `text` as a yellow warning (upstream's `Warningf`).
pub fn warning_line(text: &str) -> String {
    format!(
        "echo {}",
        escape(&format!("{}{text}{}", ansi::YELLOW, ansi::RESET))
    )
}

/// Like [`warning_line`], but `text` sits in double quotes so `$VARIABLE`s in it expand when the
/// script runs. Pass only trusted text: double quotes, backquotes and backslashes are escaped,
/// `$` is not.
///
/// ```
/// assert_eq!(
///     runner_executor::script::warning_line_expanding("Missing $H."),
///     "echo $'\\x1b[0;33m'\"Missing $H.\"$'\\x1b[0;m'"
/// );
/// ```
pub fn warning_line_expanding(text: &str) -> String {
    let quoted = text
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('`', "\\`");
    format!(
        "echo {}\"{quoted}\"{}",
        escape(ansi::YELLOW),
        escape(ansi::RESET)
    )
}
