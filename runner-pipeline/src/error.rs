//! The crate's error type: what makes a `.gitlab-ci.yml` unusable, or a checkout unreadable.

use std::path::PathBuf;

/// A boxed foreign error, hiding the dependency's type.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Failures while loading a pipeline, planning it or reading a checkout.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration file could not be read.
    #[error("could not read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A configuration file is not valid YAML.
    #[error("{}:{line}:{column}: invalid yaml", path.display())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem (0 when the parser gave none).
        line: usize,
        /// 1-based column of the problem (0 when the parser gave none).
        column: usize,
        /// The parser's message.
        #[source]
        source: BoxError,
    },
    /// The configuration is valid YAML but not a valid pipeline.
    #[error("{location}: {message}")]
    Invalid {
        /// Where: a file, `jobs:<name>:<keyword>`, or `include`.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// Jobs named in the selection do not exist (or are hidden).
    #[error("unknown job(s): {}", names.join(", "))]
    UnknownJobs {
        /// The names that matched no job.
        names: Vec<String>,
    },
    /// A `--var-file` line is not `KEY=VALUE`.
    #[error("variables file line {line}: expected KEY=VALUE")]
    VarFile {
        /// 1-based line number.
        line: usize,
    },
    /// A git command needed to describe the checkout failed.
    #[error("`git {command}` failed in {}", dir.display())]
    Git {
        /// The checkout.
        dir: PathBuf,
        /// The arguments given to git.
        command: String,
        /// Why (spawn failure or git's stderr).
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// Whether the error is a YAML syntax error (it then has a file, line and column).
    pub fn is_yaml(&self) -> bool {
        matches!(self, Self::Yaml { .. })
    }

    /// The `(file, line, column)` of a YAML syntax error.
    pub fn yaml_location(&self) -> Option<(&std::path::Path, usize, usize)> {
        match self {
            Self::Yaml {
                path, line, column, ..
            } => Some((path, *line, *column)),
            _ => None,
        }
    }

    pub(crate) fn invalid(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            location: location.into(),
            message: message.into(),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
