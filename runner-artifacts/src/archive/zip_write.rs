//! Zip creation: sorted entries, directories as `name/`, symlinks stored as links, regular
//! files deflated, UNIX modes, mtimes (extended timestamp `0x5455`) and ownership (Info-ZIP
//! `0x7875` uid/gid field) preserved (J6); pipes, sockets and devices skipped.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use zip::write::{FullFileOptions, SimpleFileOptions};
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::archive::CompressionLevel;
use crate::civil::{Civil, unix_seconds};
use crate::error::{Error, Result};
use crate::select::{Selected, Selection};

/// Info-ZIP "new Unix" extra field: version, uid size, uid, gid size, gid.
pub(crate) const UID_GID_FIELD: u16 = 0x7875;
/// Files at least this large need zip64 headers.
const ZIP64_THRESHOLD: u64 = 0xFFFF_FFFF;

pub(crate) fn write_zip(
    selection: &Selection,
    file: File,
    level: CompressionLevel,
    destination: &Path,
) -> Result<()> {
    let zip_error = |source: zip::result::ZipError| Error::WriteArchive {
        path: destination.to_owned(),
        source: Box::new(source),
    };
    let mut writer = ZipWriter::new(BufWriter::with_capacity(1024 * 1024, file));
    for selected in selection.iter() {
        let name = entry_name(selected);
        let options = entry_options(selected, level).map_err(zip_error)?;
        let file_type = selected.metadata.file_type();
        if file_type.is_dir() {
            writer
                .add_directory(format!("{name}/"), options)
                .map_err(zip_error)?;
        } else if file_type.is_symlink() {
            let path = selection.root().join(&selected.relative);
            let target = std::fs::read_link(&path).map_err(Error::io(&path))?;
            writer
                .add_symlink(name, target.to_string_lossy(), options)
                .map_err(zip_error)?;
        } else if file_type.is_file() {
            let path = selection.root().join(&selected.relative);
            let mut input = File::open(&path).map_err(Error::io(&path))?;
            let options = match level.deflate_level() {
                Some(deflate) => options
                    .compression_method(CompressionMethod::Deflated)
                    .compression_level(Some(i64::from(deflate))),
                None => options.compression_method(CompressionMethod::Stored),
            }
            .large_file(selected.metadata.len() >= ZIP64_THRESHOLD);
            writer.start_file(name, options).map_err(zip_error)?;
            std::io::copy(&mut input, &mut writer).map_err(|source| Error::WriteArchive {
                path: destination.to_owned(),
                source: Box::new(source),
            })?;
        } else {
            tracing::debug!(path = %selected.relative.display(), "skipping special file");
        }
    }
    let mut inner = writer.finish().map_err(zip_error)?;
    inner.flush().map_err(Error::io(destination))?;
    Ok(())
}

/// The entry name: the relative path with `/` separators (lossy for non-UTF-8 names).
fn entry_name(selected: &Selected) -> String {
    selected.relative.to_string_lossy().into_owned()
}

fn entry_options(
    selected: &Selected,
    _level: CompressionLevel,
) -> zip::result::ZipResult<FullFileOptions<'static, 'static>> {
    let metadata = &selected.metadata;
    let mtime = metadata.modified().map(unix_seconds).unwrap_or(0);
    // `external_attributes` rather than `unix_permissions`, which would drop setuid,
    // setgid and sticky bits (`& 0o777`).
    let mut options = SimpleFileOptions::default()
        .system(zip::System::Unix)
        .external_attributes((metadata.mode() & 0o177_777) << 16)
        .last_modified_time(dos_time(mtime))
        .with_extended_timestamp(u32::try_from(mtime).ok(), None, None)?;
    let mut owner = Vec::with_capacity(11);
    owner.push(1);
    owner.push(4);
    owner.extend_from_slice(&metadata.uid().to_le_bytes());
    owner.push(4);
    owner.extend_from_slice(&metadata.gid().to_le_bytes());
    options.add_extra_field(UID_GID_FIELD, owner, false)?;
    Ok(options)
}

/// The MS-DOS date and time (UTC) of `seconds`, clamped to the format's 1980–2107 range.
pub(crate) fn dos_time(seconds: i64) -> DateTime {
    let civil = Civil::from_unix(seconds);
    let clamped_year = civil.year.clamp(1980, 2107);
    let (month, day, hour, minute, second) = if clamped_year == civil.year {
        (
            civil.month,
            civil.day,
            civil.hour,
            civil.minute,
            civil.second,
        )
    } else if clamped_year == 1980 {
        (1, 1, 0, 0, 0)
    } else {
        (12, 31, 23, 59, 58)
    };
    DateTime::from_date_and_time(
        u16::try_from(clamped_year).unwrap_or(1980),
        u8::try_from(month).unwrap_or(1),
        u8::try_from(day).unwrap_or(1),
        u8::try_from(hour).unwrap_or(0),
        u8::try_from(minute).unwrap_or(0),
        u8::try_from(second).unwrap_or(0),
    )
    .unwrap_or_default()
}
