//! Atomic, private file writes: temporary file in the same directory, fsync, rename, fsync
//! of the directory, mode 0600.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Replaces the file at `path` with `contents` so that a reader sees the old file or the
/// new one, never a mix, and a crash leaves one of the two on disk.
///
/// A symbolic link at `path` is followed, so the link stays and its target is replaced.
/// Missing parent directories are created with mode 0700, as upstream does.
pub(crate) fn atomic_write(path: &Path, contents: &[u8]) -> io::Result<()> {
    let target = resolve_symlink(path);
    let directory = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    create_private_dir(&directory)?;
    let mut temporary = tempfile::Builder::new()
        .prefix(".config.toml.")
        .suffix(".tmp")
        .tempfile_in(&directory)?;
    set_private_mode(temporary.as_file())?;
    temporary.write_all(contents)?;
    temporary.as_file().sync_all()?;
    temporary.persist(&target).map_err(|error| error.error)?;
    sync_directory(&directory)
}

fn resolve_symlink(path: &Path) -> PathBuf {
    let is_symlink =
        fs::symlink_metadata(path).is_ok_and(|metadata| metadata.file_type().is_symlink());
    if is_symlink {
        if let Ok(target) = fs::canonicalize(path) {
            return target;
        }
    }
    path.to_path_buf()
}

#[cfg(unix)]
fn create_private_dir(directory: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(directory)
}

#[cfg(not(unix))]
fn create_private_dir(directory: &Path) -> io::Result<()> {
    fs::create_dir_all(directory)
}

#[cfg(unix)]
fn set_private_mode(file: &fs::File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn set_private_mode(_file: &fs::File) -> io::Result<()> {
    Ok(())
}

/// Makes the rename durable: on Linux the directory entry is only on disk after the
/// directory itself is synced.
#[cfg(unix)]
fn sync_directory(directory: &Path) -> io::Result<()> {
    fs::File::open(directory)?.sync_all()
}

#[cfg(not(unix))]
fn sync_directory(_directory: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temporary_file() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("config.toml");
        atomic_write(&path, b"a = 1\n").unwrap();
        atomic_write(&path, b"a = 2\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "a = 2\n");
        let entries: Vec<_> = fs::read_dir(directory.path()).unwrap().collect();
        assert_eq!(entries.len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn follows_a_symlink() {
        let directory = tempfile::tempdir().unwrap();
        let real = directory.path().join("real.toml");
        let link = directory.path().join("config.toml");
        fs::write(&real, "old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        atomic_write(&link, b"new").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&real).unwrap(), "new");
    }

    #[test]
    fn creates_missing_directories() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("nested/dir/config.toml");
        atomic_write(&path, b"x").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "x");
    }
}
