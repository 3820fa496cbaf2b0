//! [`Reloader`]: notices that `config.toml` changed and loads it again, keeping the last
//! good configuration when the new one is invalid.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::config::Config;
use crate::load::{self, LoadError, Loaded};

/// A file modified this recently may still change within the same timestamp tick, so its
/// content is compared even when timestamp and size look unchanged.
const RACY_WINDOW: Duration = Duration::from_secs(2);

/// Watches one configuration file by polling; synchronous, no threads, no inotify.
///
/// [`Reloader::poll`] compares the file's modification time, size and inode with what it
/// saw last and, when they differ (or the file was modified in the last two seconds),
/// a hash of its content; only a real content change triggers a load. Unlike upstream,
/// a replacement file with an *older* timestamp is picked up too. A file that fails to
/// load is reported once and not retried until it changes again; the last good
/// configuration stays in [`Reloader::config`].
///
/// The binary calls `poll` every 3 seconds (upstream's fixed period) and [`Reloader::reload`]
/// on `SIGHUP`.
///
/// ```
/// use runner_config::{ReloadEvent, Reloader};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("config.toml");
/// std::fs::write(&path, "concurrent = 2\n")?;
/// let (mut reloader, first) = Reloader::new(&path)?;
/// assert_eq!(first.config.concurrent, 2);
/// assert!(matches!(reloader.poll(), ReloadEvent::Unchanged));
///
/// std::fs::write(&path, "concurrent = 0\n")?;
/// assert!(matches!(reloader.poll(), ReloadEvent::Rejected(_)));
/// assert_eq!(reloader.config().concurrent, 2);
///
/// std::fs::write(&path, "concurrent = 5\n")?;
/// assert!(matches!(reloader.poll(), ReloadEvent::Reloaded(_)));
/// assert_eq!(reloader.config().concurrent, 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Reloader {
    path: PathBuf,
    config: Config,
    seen: Seen,
}

/// What [`Reloader::poll`] found.
#[derive(Debug)]
pub enum ReloadEvent {
    /// The content did not change (or an earlier error is unchanged).
    Unchanged,
    /// The file changed and loaded; [`Reloader::config`] is now this configuration.
    /// (Boxed: a configuration is large and `Unchanged` is the common case.)
    Reloaded(Box<Loaded>),
    /// The file changed but is invalid, unreadable or gone; the previous configuration stays
    /// in force.
    Rejected(LoadError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    /// Nothing seen yet.
    Nothing,
    /// The file with this stamp and content hash.
    File { stamp: Stamp, hash: u64 },
    /// The file could not be examined, for this reason.
    Failed(io::ErrorKind),
}

impl Reloader {
    /// Loads `path` and starts watching it; returns the reloader and the first load (whose
    /// warnings the caller logs). A missing or invalid file is an error, as at upstream's
    /// `run` start-up.
    pub fn new(path: impl Into<PathBuf>) -> Result<(Self, Loaded), LoadError> {
        let mut reloader = Self {
            path: path.into(),
            config: Config::default(),
            seen: Seen::Nothing,
        };
        match reloader.check(true) {
            ReloadEvent::Reloaded(loaded) => Ok((reloader, *loaded)),
            ReloadEvent::Rejected(error) => Err(error),
            ReloadEvent::Unchanged => Err(LoadError::Read {
                path: reloader.path.clone(),
                source: io::Error::other("the file could not be examined"),
            }),
        }
    }

    /// Starts watching `path` with `config` in force: the configuration the caller loaded
    /// from that file (possibly after [`Config::expand_env`]), or the defaults when the file
    /// does not exist yet (upstream's `run` starts like that). The file as it is now is
    /// taken to be the source of `config`, so the first [`Reloader::poll`] reports a change
    /// only if the file changes afterwards; prefer [`Reloader::new`], which has no window
    /// between loading and watching.
    pub fn with_config(path: impl Into<PathBuf>, config: Config) -> Self {
        let path = path.into();
        let seen = match stamp(&path).and_then(|stamp| Ok((stamp, std::fs::read(&path)?))) {
            Ok((stamp, bytes)) => Seen::File {
                stamp,
                hash: content_hash(&bytes),
            },
            Err(error) => Seen::Failed(error.kind()),
        };
        Self { path, config, seen }
    }

    /// The file being watched.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The configuration in force: the last one that loaded.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Loads the file again if its content changed since the last poll.
    pub fn poll(&mut self) -> ReloadEvent {
        self.check(false)
    }

    /// Loads the file again even if it looks unchanged (upstream's `SIGHUP`).
    pub fn reload(&mut self) -> ReloadEvent {
        self.check(true)
    }

    fn check(&mut self, force: bool) -> ReloadEvent {
        let stamp = match stamp(&self.path) {
            Ok(stamp) => stamp,
            Err(source) => return self.failed(source, force),
        };
        if !force {
            if let Seen::File { stamp: seen, .. } = &self.seen {
                if *seen == stamp && !is_racy(&stamp) {
                    return ReloadEvent::Unchanged;
                }
            }
        }
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(source) => return self.failed(source, force),
        };
        let hash = content_hash(&bytes);
        if !force {
            if let Seen::File {
                hash: seen_hash, ..
            } = self.seen
            {
                if seen_hash == hash {
                    self.seen = Seen::File { stamp, hash };
                    return ReloadEvent::Unchanged;
                }
            }
        }
        self.seen = Seen::File { stamp, hash };
        match load::load_bytes(&bytes, &self.path, crate::validate::Purpose::Config) {
            Ok(loaded) => {
                self.config = loaded.config.clone();
                ReloadEvent::Reloaded(Box::new(loaded))
            }
            Err(error) => ReloadEvent::Rejected(error),
        }
    }

    fn failed(&mut self, source: io::Error, force: bool) -> ReloadEvent {
        let seen = Seen::Failed(source.kind());
        if !force && self.seen == seen {
            return ReloadEvent::Unchanged;
        }
        self.seen = seen;
        ReloadEvent::Rejected(LoadError::Read {
            path: self.path.clone(),
            source,
        })
    }
}

fn stamp(path: &Path) -> io::Result<Stamp> {
    let metadata = std::fs::metadata(path)?;
    Ok(Stamp {
        modified: metadata.modified().ok(),
        len: metadata.len(),
        inode: inode(&metadata),
    })
}

#[cfg(unix)]
fn inode(metadata: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(metadata)
}

#[cfg(not(unix))]
fn inode(_metadata: &std::fs::Metadata) -> u64 {
    0
}

fn is_racy(stamp: &Stamp) -> bool {
    stamp.modified.is_none_or(|modified| {
        SystemTime::now()
            .duration_since(modified)
            .map_or(true, |age| age < RACY_WINDOW)
    })
}

fn content_hash(bytes: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}
