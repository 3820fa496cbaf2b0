//! tar+zstd archives (`CACHE_COMPRESSION_FORMAT=tarzstd`): ustar/GNU entries in selection
//! order with UNIX modes (setuid, setgid and sticky included), mtimes, uid/gid and symlinks,
//! one zstd frame around the whole stream. Extraction follows the zip rules: no entry name
//! with `..` or a root, nothing written through a symlink, directories finished last.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{BufReader, BufWriter, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tar::{EntryType, Header};

use crate::archive::CompressionLevel;
use crate::archive::zip_extract::{ExtractStats, entry_destination, remove_existing, set_owner};
use crate::civil::from_unix_seconds;
use crate::error::{Error, Result};
use crate::select::Selection;

pub(crate) fn write_tar_zstd(
    selection: &Selection,
    file: File,
    level: CompressionLevel,
    destination: &Path,
) -> Result<()> {
    let write_error = |source: std::io::Error| Error::WriteArchive {
        path: destination.to_owned(),
        source: Box::new(source),
    };
    let buffered = BufWriter::with_capacity(1024 * 1024, file);
    let encoder =
        zstd::stream::write::Encoder::new(buffered, level.zstd_level()).map_err(write_error)?;
    let mut builder = tar::Builder::new(encoder);
    for selected in selection.iter() {
        let metadata = &selected.metadata;
        let file_type = metadata.file_type();
        let path = selection.root().join(&selected.relative);
        let mut header = Header::new_gnu();
        header.set_mode(metadata.mode() & 0o7777);
        header.set_mtime(u64::try_from(metadata.mtime()).unwrap_or(0));
        header.set_uid(u64::from(metadata.uid()));
        header.set_gid(u64::from(metadata.gid()));
        if file_type.is_dir() {
            header.set_entry_type(EntryType::Directory);
            header.set_size(0);
            let name = format!("{}/", selected.relative.to_string_lossy());
            builder
                .append_data(&mut header, name, std::io::empty())
                .map_err(write_error)?;
        } else if file_type.is_symlink() {
            let target = std::fs::read_link(&path).map_err(Error::io(&path))?;
            header.set_entry_type(EntryType::Symlink);
            header.set_size(0);
            builder
                .append_link(&mut header, &selected.relative, &target)
                .map_err(write_error)?;
        } else if file_type.is_file() {
            let input = File::open(&path).map_err(Error::io(&path))?;
            header.set_entry_type(EntryType::Regular);
            header.set_size(metadata.len());
            builder
                .append_data(&mut header, &selected.relative, input)
                .map_err(write_error)?;
        } else {
            tracing::debug!(path = %selected.relative.display(), "skipping special file");
        }
    }
    let encoder = builder.into_inner().map_err(write_error)?;
    let mut buffered = encoder.finish().map_err(write_error)?;
    buffered.flush().map_err(Error::io(destination))?;
    Ok(())
}

/// Extracts the tar+zstd archive at `archive` into `target` (blocking).
pub(crate) fn extract_tar_zstd(archive: &Path, target: &Path) -> Result<ExtractStats> {
    let corrupt = |source: std::io::Error| Error::CorruptArchive {
        path: archive.to_owned(),
        source: Box::new(source),
    };
    let file = File::open(archive).map_err(Error::io(archive))?;
    let decoder =
        zstd::stream::read::Decoder::with_buffer(BufReader::with_capacity(256 * 1024, file))
            .map_err(corrupt)?;
    let mut tar = tar::Archive::new(decoder);
    let mut stats = ExtractStats::default();
    let mut directories: Vec<(PathBuf, u32, u64)> = Vec::new();
    let mut warned_git = false;
    for entry in tar.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some(destination) = entry_destination(target, &name, &mut warned_git)? else {
            continue;
        };
        let header = entry.header();
        let mode = header.mode().map_err(corrupt)? & 0o7777;
        let mtime = header.mtime().map_err(corrupt)?;
        let owner = match (header.uid(), header.gid()) {
            (Ok(uid), Ok(gid)) => u32::try_from(uid).ok().zip(u32::try_from(gid).ok()),
            _ => None,
        };
        match header.entry_type() {
            EntryType::Directory => {
                match destination.symlink_metadata() {
                    Ok(existing) if existing.is_dir() => {}
                    Ok(_) => {
                        remove_existing(&destination)?;
                        std::fs::create_dir(&destination).map_err(Error::io(&destination))?;
                    }
                    Err(_) => {
                        std::fs::create_dir(&destination).map_err(Error::io(&destination))?;
                    }
                }
                set_owner(&destination, owner);
                directories.push((destination, mode, mtime));
                stats.directories += 1;
            }
            EntryType::Symlink => {
                let link_target = entry
                    .link_name()
                    .map_err(corrupt)?
                    .map(|target| target.into_owned())
                    .unwrap_or_default();
                remove_existing(&destination)?;
                std::os::unix::fs::symlink(&link_target, &destination)
                    .map_err(Error::io(&destination))?;
                set_owner(&destination, owner);
                stats.symlinks += 1;
            }
            EntryType::Regular | EntryType::Continuous => {
                remove_existing(&destination)?;
                let mut output = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&destination)
                    .map_err(Error::io(&destination))?;
                std::io::copy(&mut entry, &mut output).map_err(|source| match source.kind() {
                    std::io::ErrorKind::InvalidData
                    | std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::Other => corrupt(source),
                    _ => Error::Io {
                        path: destination.clone(),
                        source,
                    },
                })?;
                set_owner(&destination, owner);
                output
                    .set_permissions(Permissions::from_mode(mode))
                    .map_err(Error::io(&destination))?;
                output
                    .set_modified(from_unix_seconds(i64::try_from(mtime).unwrap_or(0)))
                    .map_err(Error::io(&destination))?;
                stats.files += 1;
            }
            other => {
                tracing::debug!(name = %name, kind = ?other, "skipping tar entry of another type");
            }
        }
    }
    // As for zip: directories last and deepest first, so their mtimes and modes stick.
    for (directory, mode, mtime) in directories.into_iter().rev() {
        std::fs::set_permissions(&directory, Permissions::from_mode(mode))
            .map_err(Error::io(&directory))?;
        if let Ok(handle) = File::open(&directory) {
            let modified = from_unix_seconds(i64::try_from(mtime).unwrap_or(0));
            if let Err(error) = handle.set_modified(modified) {
                tracing::debug!(path = %directory.display(), %error, "could not restore directory mtime");
            }
        }
    }
    Ok(stats)
}
