//! Loading: [`load`], [`load_str`], [`Loaded`], [`LoadError`] and [`default_config_path`].

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use toml::de::DeTable;

use crate::config::Config;
use crate::diagnostic::{Location, Problem, ProblemKind, Warning, WarningKind};
use crate::source_map::{self, LineIndex};
use crate::tracked::{self, Segment, Tracker};
use crate::validate::{self, Purpose};

/// After this many decoding problems the loader stops looking for more.
const MAX_DECODE_PROBLEMS: usize = 100;

/// A configuration that loaded, with what deserves a warning.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// Unknown keys, keys matched ignoring case, suspicious values; in file order.
    pub warnings: Vec<Warning>,
}

/// Why a configuration file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read (missing, unreadable).
    #[error("could not read configuration file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The file was read but is not a valid configuration. Every problem found is listed,
    /// not only the first.
    #[error("{}", InvalidSummary { path, problems })]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The problems, in file order; never empty.
        problems: Vec<Problem>,
        /// The warnings found along the way.
        warnings: Vec<Warning>,
    },
}

impl LoadError {
    /// The file concerned.
    pub fn path(&self) -> &Path {
        match self {
            Self::Read { path, .. } | Self::Invalid { path, .. } => path,
        }
    }

    /// Whether the file does not exist. Upstream's `run` then starts with the defaults;
    /// `lint` and `verify` treat it as an error.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Read { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }

    /// The problems that make the file invalid (empty for a read error).
    pub fn problems(&self) -> &[Problem] {
        match self {
            Self::Read { .. } => &[],
            Self::Invalid { problems, .. } => problems,
        }
    }

    /// The warnings found before the file was rejected.
    pub fn warnings(&self) -> &[Warning] {
        match self {
            Self::Read { .. } => &[],
            Self::Invalid { warnings, .. } => warnings,
        }
    }
}

struct InvalidSummary<'a> {
    path: &'a Path,
    problems: &'a [Problem],
}

impl fmt::Display for InvalidSummary<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        write!(
            formatter,
            "invalid configuration file {} ({count} {noun})",
            self.path.display()
        )?;
        for problem in self.problems {
            write!(formatter, "\n  {problem}")?;
        }
        Ok(())
    }
}

/// Reads and validates the configuration file at `path`.
///
/// Every problem is reported at once with file, line, column and key (see [`Problem`]);
/// unknown keys are [`Warning`]s, never fatal. A missing file is a
/// [`LoadError::Read`] for which [`LoadError::is_not_found`] is true.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("config.toml");
/// std::fs::write(&path, "concurrent = 4\n[[runners]]\nname = \"a\"\nurl = \"https://gitlab.example.com\"\ntoken = \"glrt-x\"\nexecutor = \"shell\"\n")?;
/// let loaded = runner_config::load(&path)?;
/// assert_eq!(loaded.config.concurrent, 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn load(path: impl AsRef<Path>) -> Result<Loaded, LoadError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    load_bytes(&bytes, path, Purpose::Config)
}

/// Reads a `register --template-config` file: like [`load`], except that a `[[runners]]`
/// entry may leave `url` out (only a warning), since the entry is completed from the
/// command line.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("template.toml");
/// std::fs::write(&path, "[[runners]]\n  limit = 4\n")?;
/// assert_eq!(runner_config::load_template(&path)?.config.runners[0].limit, 4);
/// assert!(runner_config::load(&path).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn load_template(path: impl AsRef<Path>) -> Result<Loaded, LoadError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    load_bytes(&bytes, path, Purpose::Template)
}

/// Validates configuration text; `path_for_messages` is only used in messages.
///
/// ```
/// let error = runner_config::load_str("concurrent = 0\n", "config.toml").unwrap_err();
/// assert_eq!(
///     error.problems()[0].to_string(),
///     "config.toml:1:14: concurrent: must be at least 1, found 0 (no job would ever run)"
/// );
/// ```
pub fn load_str(text: &str, path_for_messages: impl AsRef<Path>) -> Result<Loaded, LoadError> {
    Loader::new(text, path_for_messages.as_ref(), Purpose::Config).run()
}

/// Like [`load_str`] for raw file content, reporting invalid UTF-8 as a syntax problem.
pub(crate) fn load_bytes(bytes: &[u8], path: &Path, purpose: Purpose) -> Result<Loaded, LoadError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Loader::new(text, path, purpose).run(),
        Err(error) => {
            let valid = std::str::from_utf8(&bytes[..error.valid_up_to()]).unwrap_or_default();
            let (line, column) = LineIndex::new(valid).position(valid.len());
            Err(LoadError::Invalid {
                path: path.to_path_buf(),
                problems: vec![Problem {
                    location: Location::new(path, line, column),
                    key: String::new(),
                    message: "the file is not valid UTF-8".to_owned(),
                    kind: ProblemKind::Syntax,
                }],
                warnings: Vec::new(),
            })
        }
    }
}

/// The default configuration file: `/etc/gitlab-runner/config.toml` for root, otherwise
/// `<home>/.gitlab-runner/config.toml`, and `config.toml` in the current directory when no
/// home directory is known (upstream's rules). The binary decides `is_root` and `home`;
/// this crate reads no environment.
///
/// ```
/// use std::path::Path;
/// use runner_config::default_config_path;
///
/// assert_eq!(default_config_path(true, None), Path::new("/etc/gitlab-runner/config.toml"));
/// assert_eq!(
///     default_config_path(false, Some(Path::new("/home/ci"))),
///     Path::new("/home/ci/.gitlab-runner/config.toml")
/// );
/// ```
pub fn default_config_path(is_root: bool, home: Option<&Path>) -> PathBuf {
    if is_root {
        return PathBuf::from("/etc/gitlab-runner/config.toml");
    }
    match home {
        Some(home) => home.join(".gitlab-runner").join("config.toml"),
        None => PathBuf::from("config.toml"),
    }
}

struct Loader<'t> {
    text: &'t str,
    path: &'t Path,
    lines: LineIndex<'t>,
    purpose: Purpose,
    problems: Vec<Problem>,
    warnings: Vec<Warning>,
}

impl<'t> Loader<'t> {
    fn new(text: &'t str, path: &'t Path, purpose: Purpose) -> Self {
        Self {
            text,
            path,
            lines: LineIndex::new(text),
            purpose,
            problems: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn run(mut self) -> Result<Loaded, LoadError> {
        let (root, syntax_errors) = DeTable::parse_recoverable(self.text);
        if !syntax_errors.is_empty() {
            for error in syntax_errors {
                let span = error.span().unwrap_or(0..0);
                let mut message = syntax_message(error.message());
                let duplicate = if message.starts_with("duplicate key") {
                    source_map::duplicate_key_path(self.text, &span)
                } else {
                    None
                };
                let segments = match duplicate {
                    Some(segments) => {
                        // The first definition is the one the parser kept.
                        if let Some((first, _)) =
                            source_map::lookup_exact(root.get_ref(), &segments)
                        {
                            let (first_line, _) = self.lines.position(first.start);
                            if first.start < span.start
                                && first_line != self.lines.position(span.start).0
                            {
                                message = format!("{message}, first defined on line {first_line}");
                            }
                        }
                        segments
                    }
                    None => source_map::path_at(root.get_ref(), &span),
                };
                self.problem(&segments, span.start, message, ProblemKind::Syntax);
                if segments.is_empty() {
                    if let Some(problem) = self.problems.last_mut() {
                        problem.key = syntax_key(self.text, span.start);
                    }
                }
            }
            return self.finish(Config::default());
        }
        // Most files are valid: decode the parsed table itself and only parse again (for
        // the spans that locate warnings) when there is something to report.
        let (attempt, tracker) = decode(root);
        let (config, tracker, findings, table) = match attempt {
            Ok(config) => {
                let findings = validate::validate(&config, self.purpose);
                if tracker.unknown.is_empty()
                    && tracker.case_folded.is_empty()
                    && findings.is_empty()
                {
                    return Ok(Loaded {
                        config,
                        warnings: Vec::new(),
                    });
                }
                (config, tracker, findings, self.reparse())
            }
            Err(_) => {
                let mut table = self.reparse();
                let (config, tracker) = loop {
                    let (attempt, tracker) = decode(table.clone());
                    match attempt {
                        Ok(config) => break (config, tracker),
                        Err(error) => {
                            let segments = tracker.error_path.unwrap_or_else(|| {
                                source_map::path_at(table.get_ref(), &error.span().unwrap_or(0..0))
                            });
                            let offset = error
                                .span()
                                .map(|span| span.start)
                                .or_else(|| self.value_offset(table.get_ref(), &segments))
                                .unwrap_or(0);
                            self.problem(
                                &segments,
                                offset,
                                error.message().to_owned(),
                                ProblemKind::Decode,
                            );
                            let stop = self.problems.len() >= MAX_DECODE_PROBLEMS;
                            if stop || !source_map::remove(table.get_mut(), &segments) {
                                return self.finish(Config::default());
                            }
                        }
                    }
                };
                let findings = validate::validate(&config, self.purpose);
                (config, tracker, findings, table)
            }
        };
        let root = table.get_ref();
        for segments in &tracker.unknown {
            let offset = self.key_offset(root, segments);
            self.warning(
                segments,
                offset,
                "unknown key, ignored".to_owned(),
                WarningKind::UnknownKey,
            );
        }
        for (segments, canonical) in &tracker.case_folded {
            let offset = self.key_offset(root, segments);
            let message = format!(
                "read as `{canonical}` (keys are matched ignoring case, as upstream does); write `{canonical}`"
            );
            self.warning(segments, offset, message, WarningKind::KeyCase);
        }
        for finding in findings {
            let offset = if finding.at_key {
                self.key_offset(root, &finding.path)
            } else {
                self.value_offset(root, &finding.path).unwrap_or(0)
            };
            match finding.severity {
                validate::Severity::Problem => {
                    self.problem(&finding.path, offset, finding.message, ProblemKind::Invalid)
                }
                validate::Severity::Warning => self.warning(
                    &finding.path,
                    offset,
                    finding.message,
                    WarningKind::Suspicious,
                ),
            }
        }
        self.finish(config)
    }

    /// The document parsed again; it parsed before, so this cannot fail.
    fn reparse(&self) -> toml::Spanned<DeTable<'t>> {
        DeTable::parse(self.text).unwrap_or_else(|_| toml::Spanned::new(0..0, DeTable::new()))
    }

    fn key_offset(&self, root: &DeTable<'_>, segments: &[Segment]) -> usize {
        source_map::lookup(root, segments).map_or(0, |(key, _)| key.start)
    }

    fn value_offset(&self, root: &DeTable<'_>, segments: &[Segment]) -> Option<usize> {
        source_map::lookup(root, segments).map(|(_, value)| value.start)
    }

    fn location(&self, offset: usize) -> Location {
        let (line, column) = self.lines.position(offset);
        Location::new(self.path, line, column)
    }

    fn problem(&mut self, segments: &[Segment], offset: usize, message: String, kind: ProblemKind) {
        self.problems.push(Problem {
            location: self.location(offset),
            key: source_map::format_path(segments),
            message,
            kind,
        });
    }

    fn warning(&mut self, segments: &[Segment], offset: usize, message: String, kind: WarningKind) {
        self.warnings.push(Warning {
            location: self.location(offset),
            key: source_map::format_path(segments),
            message,
            kind,
        });
    }

    fn finish(mut self, config: Config) -> Result<Loaded, LoadError> {
        self.warnings
            .sort_by(|a, b| (&a.location, &a.key).cmp(&(&b.location, &b.key)));
        if self.problems.is_empty() {
            return Ok(Loaded {
                config,
                warnings: self.warnings,
            });
        }
        self.problems
            .sort_by(|a, b| (&a.location, &a.key).cmp(&(&b.location, &b.key)));
        // The TOML parser can report one error twice.
        self.problems.dedup();
        // A key that was dropped because it did not decode would otherwise also be reported
        // as missing.
        let problem_keys: Vec<String> = self
            .problems
            .iter()
            .map(|problem| problem.key.clone())
            .collect();
        self.warnings
            .retain(|warning| !problem_keys.contains(&warning.key));
        Err(LoadError::Invalid {
            path: self.path.to_path_buf(),
            problems: self.problems,
            warnings: self.warnings,
        })
    }
}

/// One decoding pass over `table`.
fn decode(table: toml::Spanned<DeTable<'_>>) -> (Result<Config, toml::de::Error>, Tracker) {
    let tracker = RefCell::new(Tracker::default());
    let attempt = tracked::deserialize(toml::de::Deserializer::from(table), &tracker);
    (attempt, tracker.into_inner())
}

/// For a syntax error outside any parsed key: the key written on the error's line, or the
/// table of the header on that line (`runners.kubernetes` for `[runners.kubernetes,x]`).
fn syntax_key(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |newline| newline + 1);
    let end = text[offset..]
        .find('\n')
        .map_or(text.len(), |newline| offset + newline);
    let line = text.get(start..end).unwrap_or_default().trim();
    if let Some(header) = line.strip_prefix('[') {
        let header = header.trim_start_matches('[');
        let header = header.split([']', ',']).next().unwrap_or_default();
        return header
            .split('.')
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(".");
    }
    match line.split_once('=') {
        Some((key, _)) if start + key.len() <= offset => key.trim().to_owned(),
        _ => String::new(),
    }
}

/// The first line of a TOML syntax message, which is the description; the parser's
/// context lines are replaced by our location.
fn syntax_message(message: &str) -> String {
    let lines: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    if lines.is_empty() {
        "invalid TOML".to_owned()
    } else {
        lines.join("; ")
    }
}
