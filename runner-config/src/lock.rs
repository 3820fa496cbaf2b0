//! [`ConfigLock`]: one process per configuration file (seed requirement F5).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// An advisory lock that lets only one process use a `config.toml` at a time.
///
/// The lock is an exclusive `flock` on `<config>.lock` next to the configuration file,
/// which holds the owner's pid so that a second process can say who has it. The kernel
/// drops the lock when the owner exits, even on a crash, so a stale lock file is harmless.
/// The lock is released when the value is dropped; the file is emptied but left in place,
/// because deleting it would let two processes lock two different files.
///
/// ```
/// use runner_config::ConfigLock;
///
/// let dir = tempfile::tempdir()?;
/// let config = dir.path().join("config.toml");
/// let lock = ConfigLock::acquire(&config)?;
/// let second = ConfigLock::acquire(&config).unwrap_err();
/// assert_eq!(second.holder_pid(), Some(std::process::id()));
/// drop(lock);
/// assert!(ConfigLock::acquire(&config).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ConfigLock {
    file: File,
    lock_path: PathBuf,
}

/// Why the configuration file could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds the lock.
    #[error(
        "configuration file {} is already in use by another process ({}, lock file {}); only one runner process may use a configuration file",
        config_path.display(),
        match pid { Some(pid) => format!("pid {pid}"), None => "pid unknown".to_owned() },
        lock_path.display()
    )]
    Held {
        /// The configuration file.
        config_path: PathBuf,
        /// The lock file.
        lock_path: PathBuf,
        /// The holder's pid, when the lock file names it.
        pid: Option<u32>,
    },
    /// The lock file could not be created or locked.
    #[error("could not lock {}", lock_path.display())]
    Io {
        /// The lock file.
        lock_path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

impl LockError {
    /// The pid of the process holding the lock, when known.
    pub fn holder_pid(&self) -> Option<u32> {
        match self {
            Self::Held { pid, .. } => *pid,
            Self::Io { .. } => None,
        }
    }

    /// Whether another process holds the lock (as opposed to an I/O failure).
    pub fn is_held(&self) -> bool {
        matches!(self, Self::Held { .. })
    }
}

impl ConfigLock {
    /// Locks `config_path` for this process, without waiting. The configuration file need
    /// not exist; its directory is created (mode 0700) when missing.
    pub fn acquire(config_path: impl AsRef<Path>) -> Result<Self, LockError> {
        let config_path = config_path.as_ref();
        let lock_path = Self::lock_path_for(config_path);
        let io_error = |source| LockError::Io {
            lock_path: lock_path.clone(),
            source,
        };
        if let Some(parent) = lock_path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            create_private_dir(parent).map_err(io_error)?;
        }
        let mut file = open_lock_file(&lock_path).map_err(io_error)?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => {
                return Err(LockError::Held {
                    config_path: config_path.to_path_buf(),
                    lock_path: lock_path.clone(),
                    pid: read_pid(&mut file),
                });
            }
            Err(fs4::TryLockError::Error(source)) => return Err(io_error(source)),
        }
        write_pid(&mut file).map_err(io_error)?;
        Ok(Self { file, lock_path })
    }

    /// The lock file used for `config_path`: `<config_path>.lock`.
    pub fn lock_path_for(config_path: &Path) -> PathBuf {
        let mut name = config_path
            .file_name()
            .map(|name| name.to_os_string())
            .unwrap_or_default();
        name.push(".lock");
        config_path.with_file_name(name)
    }

    /// The lock file.
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }
}

impl Drop for ConfigLock {
    fn drop(&mut self) {
        // Emptied while still locked, so no other process reads our stale pid later.
        let _ = self.file.set_len(0);
        let _ = fs4::FileExt::unlock(&self.file);
    }
}

#[cfg(unix)]
fn open_lock_file(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_lock_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

#[cfg(unix)]
fn create_private_dir(directory: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(directory)
}

#[cfg(not(unix))]
fn create_private_dir(directory: &Path) -> io::Result<()> {
    std::fs::create_dir_all(directory)
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.take(64).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

fn write_pid(file: &mut File) -> io::Result<()> {
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    writeln!(file, "{}", std::process::id())?;
    file.sync_all()
}
