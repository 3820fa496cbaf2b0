//! The crate's error type: what makes a `.gitlab-ci.yml` unusable, or a checkout unreadable.

use std::fmt;
use std::path::{Path, PathBuf};

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
    /// GitLab would refuse to create the pipeline: each problem has GitLab's own message
    /// and, where the YAML has one, the `file:line` it is about.
    #[error("{}", problems.iter().map(Problem::to_string).collect::<Vec<_>>().join("\n"))]
    Validation {
        /// Every problem found (at least one).
        problems: Vec<Problem>,
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

    /// The problems of an [`Error::Validation`]; empty for other errors.
    pub fn problems(&self) -> &[Problem] {
        match self {
            Self::Validation { problems } => problems,
            _ => &[],
        }
    }

    /// One validation problem with GitLab's `message`, about the keyword at `key_path`
    /// (top-level key, then nested keys); its position is filled in by the pipeline.
    pub(crate) fn gitlab(key_path: &[&str], message: impl Into<String>) -> Self {
        Self::Validation {
            problems: vec![Problem::new(key_path, None, message)],
        }
    }

    pub(crate) fn invalid(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            location: location.into(),
            message: message.into(),
        }
    }
}

/// One reason GitLab would not create the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    file: Option<PathBuf>,
    line: usize,
    message: String,
    key_path: Vec<String>,
    needle: Option<String>,
}

impl Problem {
    /// A problem about `key_path`, positioned later on the line holding `needle` if any.
    pub(crate) fn new(key_path: &[&str], needle: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            file: None,
            line: 0,
            message: message.into(),
            key_path: key_path.iter().map(|key| (*key).to_owned()).collect(),
            needle: needle.map(str::to_owned),
        }
    }

    /// Fills in the file and line from the loaded files, when the key is written there.
    pub(crate) fn locate(&mut self, sources: &crate::source::SourceMap) {
        if self.file.is_some() {
            return;
        }
        if let Some((file, line)) = sources.locate(&self.key_path, self.needle.as_deref()) {
            self.file = Some(file.to_owned());
            self.line = line;
        }
    }

    /// The file the problem is in, when the keyword is written in one.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The 1-based line in [`file`](Self::file).
    pub fn line(&self) -> Option<usize> {
        self.file.as_ref().map(|_| self.line)
    }

    /// GitLab's message, e.g. `test job: undefined need: build`.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}:{}: {}", file.display(), self.line, self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
