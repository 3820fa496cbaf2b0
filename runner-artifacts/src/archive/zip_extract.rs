//! Zip extraction that restores what [`crate::create_archive`] stores (modes, symlinks,
//! mtimes, ownership when permitted) and never writes outside the target directory: entry
//! names with `..` or a root are refused, and no entry is written through a symlink.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{BufReader, Read};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use zip::ZipArchive;
use zip::extra_fields::ExtraField;

use crate::archive::zip_write::UID_GID_FIELD;
use crate::civil::{Civil, from_unix_seconds};
use crate::error::{Error, Result};

const S_IFMT: u32 = 0o170_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFDIR: u32 = 0o040_000;

/// What an extraction restored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExtractStats {
    /// Regular files written.
    pub files: u64,
    /// Directories created or updated.
    pub directories: u64,
    /// Symlinks created.
    pub symlinks: u64,
}

/// Extracts the zip at `archive` into `target` (blocking). Existing files are replaced.
pub fn extract_zip(archive: &Path, target: &Path) -> Result<ExtractStats> {
    let corrupt = |source: zip::result::ZipError| Error::CorruptArchive {
        path: archive.to_owned(),
        source: Box::new(source),
    };
    let file = File::open(archive).map_err(Error::io(archive))?;
    let mut zip = ZipArchive::new(BufReader::with_capacity(256 * 1024, file)).map_err(corrupt)?;
    let mut stats = ExtractStats::default();
    let mut directories: Vec<(PathBuf, u32, Option<i64>)> = Vec::new();
    let mut warned_git = false;
    for index in 0..zip.len() {
        let mut entry = zip.by_index(index).map_err(corrupt)?;
        let name = entry.name().map_err(corrupt)?.into_owned();
        let Some(destination) = entry_destination(target, &name, &mut warned_git)? else {
            continue;
        };
        // The zip crate clears setuid, setgid and sticky bits; upstream (Go's archive/zip)
        // restores them, so read the raw UNIX mode for archives written on UNIX.
        let mode = match entry.system() {
            zip::System::Unix if entry.external_attributes() >> 16 != 0 => {
                Some(entry.external_attributes() >> 16)
            }
            _ => entry.unix_mode(),
        };
        let (mtime, owner) = extras(&entry);
        let mtime = mtime.or_else(|| entry.last_modified().map(dos_seconds));
        let kind = mode.map(|mode| mode & S_IFMT);
        if entry.is_dir() || kind == Some(S_IFDIR) {
            match destination.symlink_metadata() {
                Ok(existing) if existing.is_dir() => {}
                Ok(_) => {
                    remove_existing(&destination)?;
                    std::fs::create_dir(&destination).map_err(Error::io(&destination))?;
                }
                Err(_) => std::fs::create_dir(&destination).map_err(Error::io(&destination))?,
            }
            set_owner(&destination, owner);
            directories.push((destination, mode.map_or(0o755, |mode| mode & 0o7777), mtime));
            stats.directories += 1;
        } else if kind == Some(S_IFLNK) {
            let mut link_target = Vec::new();
            entry
                .read_to_end(&mut link_target)
                .map_err(|source| Error::CorruptArchive {
                    path: archive.to_owned(),
                    source: Box::new(source),
                })?;
            remove_existing(&destination)?;
            let link_target = PathBuf::from(std::ffi::OsString::from(
                String::from_utf8_lossy(&link_target).into_owned(),
            ));
            std::os::unix::fs::symlink(&link_target, &destination)
                .map_err(Error::io(&destination))?;
            set_owner(&destination, owner);
            stats.symlinks += 1;
        } else {
            remove_existing(&destination)?;
            let mut output = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&destination)
                .map_err(Error::io(&destination))?;
            std::io::copy(&mut entry, &mut output).map_err(|source| match source.kind() {
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof => {
                    Error::CorruptArchive {
                        path: archive.to_owned(),
                        source: Box::new(source),
                    }
                }
                _ => Error::Io {
                    path: destination.clone(),
                    source,
                },
            })?;
            set_owner(&destination, owner);
            let permissions = Permissions::from_mode(mode.map_or(0o644, |mode| mode & 0o7777));
            output
                .set_permissions(permissions)
                .map_err(Error::io(&destination))?;
            if let Some(seconds) = mtime {
                output
                    .set_modified(from_unix_seconds(seconds))
                    .map_err(Error::io(&destination))?;
            }
            stats.files += 1;
        }
    }
    // Directories last and deepest first: writing their children would change their mtime,
    // and a read-only mode would have blocked those writes.
    for (directory, mode, mtime) in directories.into_iter().rev() {
        std::fs::set_permissions(&directory, Permissions::from_mode(mode))
            .map_err(Error::io(&directory))?;
        if let Some(seconds) = mtime {
            if let Ok(handle) = File::open(&directory) {
                if let Err(error) = handle.set_modified(from_unix_seconds(seconds)) {
                    tracing::debug!(path = %directory.display(), %error, "could not restore directory mtime");
                }
            }
        }
    }
    Ok(stats)
}

/// Where the entry `name` goes under `target`, checked as every extractor must: an absolute
/// or climbing name is refused, the missing parents are created without passing through a
/// symlink, and an entry under `.git` is warned about once per extraction (`warned_git`).
/// `None` for the archive's root entry, which is skipped.
pub(crate) fn entry_destination(
    target: &Path,
    name: &str,
    warned_git: &mut bool,
) -> Result<Option<PathBuf>> {
    let Some(relative) = safe_relative(name) else {
        return Err(Error::UnsafeEntry {
            name: name.to_owned(),
        });
    };
    if relative.as_os_str().is_empty() {
        return Ok(None);
    }
    if !*warned_git && relative.starts_with(".git") {
        tracing::warn!("Part of .git directory is on the list of files to extract");
        *warned_git = true;
    }
    ensure_parents(target, &relative, name)?;
    Ok(Some(target.join(&relative)))
}

/// The entry name as a relative path, or `None` when it is absolute or climbs with `..`.
fn safe_relative(name: &str) -> Option<PathBuf> {
    if name.contains('\0') || name.contains('\\') {
        return None;
    }
    let mut relative = PathBuf::new();
    for component in Path::new(name).components() {
        match component {
            Component::Normal(part) => relative.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(relative)
}

/// Creates the missing parents of `relative` under `target`, refusing to pass through a
/// symlink (which could point anywhere).
fn ensure_parents(target: &Path, relative: &Path, name: &str) -> Result<()> {
    let mut current = target.to_path_buf();
    let Some(parent) = relative.parent() else {
        return Ok(());
    };
    for component in parent.components() {
        current.push(component);
        match current.symlink_metadata() {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                return Err(Error::UnsafeEntry {
                    name: name.to_owned(),
                });
            }
            Ok(metadata) if metadata.is_dir() => {}
            Ok(_) => {
                std::fs::remove_file(&current).map_err(Error::io(&current))?;
                std::fs::create_dir(&current).map_err(Error::io(&current))?;
            }
            Err(_) => std::fs::create_dir(&current).map_err(Error::io(&current))?,
        }
    }
    Ok(())
}

/// Removes a file or symlink in the way; an empty directory too.
pub(crate) fn remove_existing(path: &Path) -> Result<()> {
    match path.symlink_metadata() {
        Ok(metadata) if metadata.is_dir() => std::fs::remove_dir(path).map_err(Error::io(path)),
        Ok(_) => std::fs::remove_file(path).map_err(Error::io(path)),
        Err(_) => Ok(()),
    }
}

/// The extended-timestamp mtime and the uid/gid of an entry, when stored.
fn extras<R: Read>(entry: &zip::read::ZipFile<'_, R>) -> (Option<i64>, Option<(u32, u32)>) {
    let mut mtime = None;
    let mut owner = None;
    for field in entry.extra_data_fields() {
        match field {
            ExtraField::ExtendedTimestamp(timestamp) => mtime = timestamp.mod_time().map(i64::from),
            ExtraField::Custom(custom) if custom.header_id == UID_GID_FIELD => {
                owner = parse_owner(&custom.data)
            }
            _ => {}
        }
    }
    (mtime, owner)
}

fn parse_owner(data: &[u8]) -> Option<(u32, u32)> {
    if data.len() < 11 || data[0] != 1 || data[1] != 4 || data[6] != 4 {
        return None;
    }
    let uid = u32::from_le_bytes(data[2..6].try_into().ok()?);
    let gid = u32::from_le_bytes(data[7..11].try_into().ok()?);
    Some((uid, gid))
}

/// Restores ownership when the process may (root); otherwise the extracting user owns it.
pub(crate) fn set_owner(path: &Path, owner: Option<(u32, u32)>) {
    let Some((uid, gid)) = owner else { return };
    if let Err(error) = std::os::unix::fs::lchown(path, Some(uid), Some(gid)) {
        tracing::debug!(path = %path.display(), %error, "could not restore ownership");
    }
}

fn dos_seconds(time: zip::DateTime) -> i64 {
    Civil {
        year: i64::from(time.year()),
        month: u32::from(time.month()),
        day: u32::from(time.day()),
        hour: u32::from(time.hour()),
        minute: u32::from(time.minute()),
        second: u32::from(time.second()),
    }
    .to_unix()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_names_are_refused() {
        assert_eq!(safe_relative("a/b"), Some(PathBuf::from("a/b")));
        assert_eq!(safe_relative("./a/"), Some(PathBuf::from("a")));
        assert_eq!(safe_relative("../a"), None);
        assert_eq!(safe_relative("a/../../b"), None);
        assert_eq!(safe_relative("/etc/passwd"), None);
        assert_eq!(safe_relative("a\\..\\b"), None);
    }

    #[test]
    fn owner_field_parses() {
        let mut data = vec![1, 4];
        data.extend_from_slice(&1000u32.to_le_bytes());
        data.push(4);
        data.extend_from_slice(&100u32.to_le_bytes());
        assert_eq!(parse_owner(&data), Some((1000, 100)));
        assert_eq!(parse_owner(&data[..5]), None);
    }
}
