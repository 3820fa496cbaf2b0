//! [`ConfigDocument`]: comment-preserving edits of `config.toml` through `toml_edit`.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, Value};

use crate::load::{LoadError, Loaded};
use crate::runner::RunnerConfig;
use crate::timestamp::Timestamp;
use runner_core::short_token as shorten_token;

/// `config.toml` as text that can be edited without disturbing the user's formatting.
///
/// Only the edited `[[runners]]` entry changes: comments, key order, spacing and unknown
/// keys everywhere else survive byte for byte. The typed model is never serialized over
/// the user's file. Saving is atomic (temporary file, fsync, rename, fsync of the
/// directory) and leaves the file with mode 0600.
///
/// Editing does not take the [`ConfigLock`](crate::ConfigLock): upstream lets `register`
/// run next to `run`, which then reloads the file.
///
/// ```
/// use runner_config::{ConfigDocument, Executor, RunnerConfig, RunnerSelector, Secret};
///
/// let mut document = ConfigDocument::parse("# my runners\nconcurrent = 2\n", "config.toml")?;
/// document.add_runner(&RunnerConfig {
///     name: "build-01".into(),
///     url: "https://gitlab.example.com".into(),
///     token: Secret::new("glrt-abc"),
///     executor: Some(Executor::Shell),
///     ..RunnerConfig::default()
/// })?;
/// assert!(document.to_string().starts_with("# my runners\nconcurrent = 2\n\n[[runners]]\n  name = \"build-01\"\n"));
/// document.remove_runner(&RunnerSelector::Name("build-01"))?;
/// assert_eq!(document.to_string(), "# my runners\nconcurrent = 2\n");
/// # Ok::<(), runner_config::EditError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ConfigDocument {
    path: PathBuf,
    document: DocumentMut,
    is_new: bool,
}

/// Which `[[runners]]` entry an edit applies to. Names and tokens are compared with the
/// text in the file (before any `$VAR` expansion).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunnerSelector<'a> {
    /// The first entry with this `name`.
    Name(&'a str),
    /// The first entry with this `token`.
    Token(&'a str),
    /// The first entry with both this `name` and this `token`.
    NameAndToken {
        /// The `name`.
        name: &'a str,
        /// The `token`.
        token: &'a str,
    },
    /// The entry at this 0-based position, in file order (as in [`crate::Config::runners`]).
    Index(usize),
}

impl fmt::Display for RunnerSelector<'_> {
    /// Upstream's wording, with the token shortened.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(name) => write!(formatter, "a runner with the name '{name}'"),
            Self::Token(token) => write!(
                formatter,
                "a runner with the token '{}'",
                shorten_token(token)
            ),
            Self::NameAndToken { name, token } => {
                write!(
                    formatter,
                    "a runner with the Name '{name}' and Token '{}'",
                    shorten_token(token)
                )
            }
            Self::Index(index) => write!(formatter, "a runner at index {index}"),
        }
    }
}

/// Why a configuration file could not be edited.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The file exists but could not be read.
    #[error("could not read configuration file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The file is not valid TOML, so it cannot be edited safely.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// `runners` exists but is not an array of tables (`[[runners]]`).
    #[error("{}: `runners` is not an array of tables ([[runners]])", path.display())]
    RunnersNotTables {
        /// The file.
        path: PathBuf,
    },
    /// No entry matches the selector.
    #[error("could not find {selector}")]
    RunnerNotFound {
        /// The selector, described as upstream does (token shortened).
        selector: String,
    },
    /// The runner could not be turned into TOML.
    #[error("could not serialize the runner entry")]
    Serialize {
        /// The serializer's error (boxed, so `toml_edit` stays out of this crate's API).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The file could not be written.
    #[error("could not write configuration file {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

impl EditError {
    /// Whether the selected runner does not exist.
    pub fn is_runner_not_found(&self) -> bool {
        matches!(self, Self::RunnerNotFound { .. })
    }
}

impl ConfigDocument {
    /// The content of a new file: what upstream's `install` writes.
    pub const NEW_FILE: &'static str = "concurrent = 1\ncheck_interval = 0\nshutdown_timeout = 0\n\n[session_server]\n  session_timeout = 1800\n";

    /// A new document for `path` holding [`ConfigDocument::NEW_FILE`].
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let document = Self::NEW_FILE.parse().unwrap_or_default();
        Self {
            path: path.into(),
            document,
            is_new: true,
        }
    }

    /// Reads the file at `path`, or starts a new document when it does not exist.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, EditError> {
        let path = path.into();
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text, path),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(Self::new(path)),
            Err(source) => Err(EditError::Read { path, source }),
        }
    }

    /// Parses `text`; `path` is where [`ConfigDocument::save`] writes and what messages name.
    pub fn parse(text: &str, path: impl Into<PathBuf>) -> Result<Self, EditError> {
        let path = path.into();
        match text.parse::<DocumentMut>() {
            Ok(document) => Ok(Self {
                path,
                document,
                is_new: false,
            }),
            Err(error) => {
                let offset = error.span().map_or(0, |span| span.start);
                let (line, column) = crate::source_map::LineIndex::new(text).position(offset);
                Err(EditError::Syntax {
                    path,
                    line,
                    column,
                    message: error.message().to_owned(),
                })
            }
        }
    }

    /// Where the document is saved.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the document did not come from an existing file.
    pub fn is_new(&self) -> bool {
        self.is_new
    }

    /// The number of `[[runners]]` entries.
    pub fn runner_count(&self) -> usize {
        self.runners().map_or(0, ArrayOfTables::len)
    }

    /// The 0-based position of the entry `selector` names, if any.
    pub fn find_runner(&self, selector: &RunnerSelector<'_>) -> Option<usize> {
        let runners = self.runners()?;
        match *selector {
            RunnerSelector::Index(index) => (index < runners.len()).then_some(index),
            RunnerSelector::Name(name) => runners
                .iter()
                .position(|table| text_of(table, "name") == Some(name)),
            RunnerSelector::Token(token) => runners
                .iter()
                .position(|table| text_of(table, "token") == Some(token)),
            RunnerSelector::NameAndToken { name, token } => runners.iter().position(|table| {
                text_of(table, "name") == Some(name) && text_of(table, "token") == Some(token)
            }),
        }
    }

    /// Appends `runner` as a new `[[runners]]` entry, after the existing ones, with the keys
    /// and layout upstream's `register` writes.
    pub fn add_runner(&mut self, runner: &RunnerConfig) -> Result<(), EditError> {
        let table = crate::layout::runner_table(runner).map_err(|source| EditError::Serialize {
            source: Box::new(source),
        })?;
        let path = self.path.clone();
        let root = self.document.as_table_mut();
        match root.get_mut("runners") {
            None => {
                let mut runners = ArrayOfTables::new();
                runners.push(table);
                root.insert("runners", Item::ArrayOfTables(runners));
            }
            Some(Item::ArrayOfTables(runners)) => runners.push(table),
            Some(_) => return Err(EditError::RunnersNotTables { path }),
        }
        self.is_new = false;
        Ok(())
    }

    /// Removes the entry `selector` names, and every other entry with the same `url` and
    /// `token` (upstream removes duplicated credentials together). Returns the names of the
    /// removed entries.
    pub fn remove_runner(
        &mut self,
        selector: &RunnerSelector<'_>,
    ) -> Result<Vec<String>, EditError> {
        let index = self.require(selector)?;
        let path = self.path.clone();
        let runners = self
            .runners_mut()
            .ok_or(EditError::RunnersNotTables { path })?;
        let (url, token) = {
            let (url, token) = credentials(runners.get(index));
            (url.map(str::to_owned), token.map(str::to_owned))
        };
        let has_token = token.as_deref().is_some_and(|token| !token.is_empty());
        let to_remove: Vec<usize> = (0..runners.len())
            .filter(|candidate| {
                *candidate == index
                    || (has_token
                        && credentials(runners.get(*candidate))
                            == (url.as_deref(), token.as_deref()))
            })
            .collect();
        let mut removed = Vec::new();
        for position in to_remove.into_iter().rev() {
            removed.push(
                text_of_opt(runners.get(position), "name")
                    .unwrap_or_default()
                    .to_owned(),
            );
            runners.remove(position);
        }
        removed.reverse();
        if runners.is_empty() {
            self.document.as_table_mut().remove("runners");
        }
        Ok(removed)
    }

    /// Replaces `token`, `token_obtained_at` and `token_expires_at` of the entry `selector`
    /// names (token rotation, `reset-token`). Keys that are missing are added at the end of
    /// the entry's plain keys; existing ones keep their place and spacing.
    pub fn update_token(
        &mut self,
        selector: &RunnerSelector<'_>,
        token: &crate::Secret,
        obtained_at: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), EditError> {
        let index = self.require(selector)?;
        let path = self.path.clone();
        let runners = self
            .runners_mut()
            .ok_or(EditError::RunnersNotTables { path })?;
        let Some(table) = runners.get_mut(index) else {
            return Err(EditError::RunnerNotFound {
                selector: selector.to_string(),
            });
        };
        set_value(table, "token", Value::from(token.expose()));
        set_value(
            table,
            "token_obtained_at",
            Value::from(obtained_at.to_toml()),
        );
        set_value(table, "token_expires_at", Value::from(expires_at.to_toml()));
        Ok(())
    }

    /// Validates the current text as [`crate::load_str`] does.
    pub fn to_config(&self) -> Result<Loaded, LoadError> {
        crate::load::load_str(&self.document.to_string(), &self.path)
    }

    /// Writes the document to [`ConfigDocument::path`] atomically, with mode 0600.
    pub fn save(&self) -> Result<(), EditError> {
        crate::write::atomic_write(&self.path, self.document.to_string().as_bytes()).map_err(
            |source| EditError::Write {
                path: self.path.clone(),
                source,
            },
        )
    }

    fn runners(&self) -> Option<&ArrayOfTables> {
        self.document
            .as_table()
            .get("runners")
            .and_then(Item::as_array_of_tables)
    }

    fn runners_mut(&mut self) -> Option<&mut ArrayOfTables> {
        self.document
            .as_table_mut()
            .get_mut("runners")
            .and_then(Item::as_array_of_tables_mut)
    }

    fn require(&self, selector: &RunnerSelector<'_>) -> Result<usize, EditError> {
        if self
            .document
            .as_table()
            .get("runners")
            .is_some_and(|item| !item.is_array_of_tables())
        {
            return Err(EditError::RunnersNotTables {
                path: self.path.clone(),
            });
        }
        self.find_runner(selector)
            .ok_or_else(|| EditError::RunnerNotFound {
                selector: selector.to_string(),
            })
    }
}

impl fmt::Display for ConfigDocument {
    /// The document's text, as it would be saved.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.document.fmt(formatter)
    }
}

/// The string value of `key` in `table`, matching the key ignoring ASCII case as the
/// loader does.
fn text_of<'t>(table: &'t Table, key: &str) -> Option<&'t str> {
    table
        .get(key)
        .or_else(|| {
            table
                .iter()
                .find(|(candidate, _)| candidate.eq_ignore_ascii_case(key))
                .map(|(_, item)| item)
        })
        .and_then(Item::as_str)
}

fn text_of_opt<'t>(table: Option<&'t Table>, key: &str) -> Option<&'t str> {
    table.and_then(|table| text_of(table, key))
}

fn credentials(table: Option<&Table>) -> (Option<&str>, Option<&str>) {
    (text_of_opt(table, "url"), text_of_opt(table, "token"))
}

/// Sets `key` to `value`, keeping the existing key's spelling, place and spacing; a new key
/// is indented like the entry's other keys.
fn set_value(table: &mut Table, key: &str, mut value: Value) {
    let written_key = table
        .iter()
        .map(|(candidate, _)| candidate.to_owned())
        .find(|candidate| candidate == key)
        .or_else(|| {
            table
                .iter()
                .map(|(candidate, _)| candidate.to_owned())
                .find(|candidate| candidate.eq_ignore_ascii_case(key))
        });
    if let Some(written_key) = written_key {
        if let Some(item) = table.get_mut(&written_key) {
            if let Some(old) = item.as_value() {
                *value.decor_mut() = old.decor().clone();
            }
            *item = Item::Value(value);
            return;
        }
    }
    let indent = table
        .iter()
        .next()
        .and_then(|(first, _)| table.key(first))
        .and_then(|first| first.leaf_decor().prefix())
        .and_then(|prefix| prefix.as_str())
        .map(str::to_owned);
    table.insert(key, Item::Value(value));
    if let (Some(indent), Some(mut new_key)) = (indent, table.key_mut(key)) {
        new_key.leaf_decor_mut().set_prefix(indent);
    }
}
