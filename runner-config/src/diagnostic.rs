//! [`Problem`] and [`Warning`]: what the loader reports, each with file, line, column and key.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where something was found: the file and a 1-based line and column (in characters).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    file: PathBuf,
    line: usize,
    column: usize,
}

impl Location {
    pub(crate) fn new(file: &Path, line: usize, column: usize) -> Self {
        Self {
            file: file.to_path_buf(),
            line,
            column,
        }
    }

    /// The file, as given to the loader.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The 1-based line.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The 1-based column, counted in characters.
    pub fn column(&self) -> usize {
        self.column
    }
}

impl fmt::Display for Location {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{}:{}:{}",
            self.file.display(),
            self.line,
            self.column
        )
    }
}

/// What kind of [`Problem`] was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProblemKind {
    /// The file is not valid TOML (or not UTF-8).
    Syntax,
    /// A value could not be read into its field: a wrong type, an invalid duration, an
    /// unknown executor, a non-string `pull_policy` element, an invalid log level.
    Decode,
    /// The file decodes, but a value is rejected: `concurrent < 1`, a bad URL, an invalid
    /// label, an NFS volume without its required keys.
    Invalid,
}

/// A reason the file is rejected, located in the file.
///
/// Displays as `<file>:<line>:<col>: <key>: <message>`, for example
/// `config.toml:3:14: concurrent: must be at least 1, found 0`. The key is a dotted path
/// with 0-based indices for arrays of tables (`runners[1].docker.memory`); it is empty for
/// syntax errors that are not inside a key, and the `<key>: ` part is then left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub(crate) location: Location,
    pub(crate) key: String,
    pub(crate) message: String,
    pub(crate) kind: ProblemKind,
}

impl Problem {
    /// Where the problem is.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The dotted key path (`runners[0].docker.memory`), empty when there is none.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The message, without location and key.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The kind of problem.
    pub fn kind(&self) -> ProblemKind {
        self.kind
    }

    /// Whether the file is not valid TOML.
    pub fn is_syntax(&self) -> bool {
        self.kind == ProblemKind::Syntax
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_located(formatter, &self.location, &self.key, &self.message)
    }
}

/// What kind of [`Warning`] was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WarningKind {
    /// A key that no field claims; it is ignored (upstream ignores it silently).
    UnknownKey,
    /// A key that matches a field only when case is ignored (`Concurrent`); it is used, as
    /// upstream does.
    KeyCase,
    /// A value that is accepted but probably wrong (an empty token, a legacy `/ci` URL,
    /// no executor), as upstream warns at load.
    Suspicious,
}

/// Something worth telling the user that does not stop the file from loading.
///
/// Displays like a [`Problem`]: `<file>:<line>:<col>: <key>: <message>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub(crate) location: Location,
    pub(crate) key: String,
    pub(crate) message: String,
    pub(crate) kind: WarningKind,
}

impl Warning {
    /// Where the warning points.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The dotted key path.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The message, without location and key.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The kind of warning.
    pub fn kind(&self) -> WarningKind {
        self.kind
    }

    /// Whether the warning is about a key that was ignored.
    pub fn is_unknown_key(&self) -> bool {
        self.kind == WarningKind::UnknownKey
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_located(formatter, &self.location, &self.key, &self.message)
    }
}

fn write_located(
    formatter: &mut fmt::Formatter<'_>,
    location: &Location,
    key: &str,
    message: &str,
) -> fmt::Result {
    if key.is_empty() {
        write!(formatter, "{location}: {message}")
    } else {
        write!(formatter, "{location}: {key}: {message}")
    }
}
