//! Archive formats (executors.md §5.2, upstream-details.md §7.1–§7.3): zip and tar+zstd with
//! UNIX modes, symlinks, mtimes and ownership; upstream's gzip artifact format; raw single
//! files; extraction that sniffs the format from the first bytes.

mod gzip;
mod tar_zstd;
mod zip_extract;
mod zip_write;

use std::path::Path;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::select::Selection;

pub use zip_extract::{ExtractStats, extract_zip};

/// The first bytes of a zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
/// The first bytes of a gzip member.
const GZIP_MAGIC: [u8; 2] = [0x1F, 0x8B];

/// An artifact or cache archive format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArchiveFormat {
    /// Zip (the default for artifacts and caches).
    #[default]
    Zip,
    /// One gzip member per regular file (reports such as junit).
    Gzip,
    /// A single file as-is.
    Raw,
    /// A tar stream compressed with zstd (`CACHE_COMPRESSION_FORMAT=tarzstd`).
    TarZstd,
}

impl ArchiveFormat {
    /// The name used in `artifact_format` and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zip => "zip",
            Self::Gzip => "gzip",
            Self::Raw => "raw",
            Self::TarZstd => "tarzstd",
        }
    }

    /// The cache format of `CACHE_COMPRESSION_FORMAT`, as upstream's `cache-archiver` reads
    /// it: `tarzstd` (any case) is tar+zstd; anything else, `zipzstd` included (zstd inside
    /// zip is not written by this runner), is zip.
    ///
    /// ```
    /// use runner_artifacts::ArchiveFormat;
    /// assert_eq!(ArchiveFormat::for_cache("TarZstd"), ArchiveFormat::TarZstd);
    /// assert_eq!(ArchiveFormat::for_cache("rar"), ArchiveFormat::Zip);
    /// ```
    pub fn for_cache(text: &str) -> Self {
        if text.eq_ignore_ascii_case("tarzstd") {
            Self::TarZstd
        } else {
            Self::Zip
        }
    }
}

impl FromStr for ArchiveFormat {
    type Err = Error;

    /// `""` and `zip` are zip, `tarzstd` is tar+zstd; `zipzstd` is not supported by this
    /// runner.
    fn from_str(text: &str) -> Result<Self> {
        match text {
            "" | "zip" => Ok(Self::Zip),
            "gzip" => Ok(Self::Gzip),
            "raw" => Ok(Self::Raw),
            "tarzstd" => Ok(Self::TarZstd),
            other => Err(Error::UnsupportedFormat {
                format: other.to_owned(),
            }),
        }
    }
}

/// `ARTIFACT_COMPRESSION_LEVEL` / `CACHE_COMPRESSION_LEVEL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CompressionLevel {
    /// Least CPU.
    Fastest,
    /// Less CPU than default.
    Fast,
    /// The default.
    #[default]
    Default,
    /// Smaller archives.
    Slow,
    /// Smallest archives.
    Slowest,
}

impl CompressionLevel {
    /// Parses `CACHE_COMPRESSION_LEVEL` / `ARTIFACT_COMPRESSION_LEVEL` as upstream does:
    /// the exact lower-case names; empty is the default, and anything else is the default
    /// with the warning `compression level "<x>" is invalid, falling back to default`.
    ///
    /// ```
    /// use runner_artifacts::CompressionLevel;
    /// assert_eq!(CompressionLevel::parse("slowest"), CompressionLevel::Slowest);
    /// assert_eq!(CompressionLevel::parse("Fast"), CompressionLevel::Default); // warns
    /// ```
    pub fn parse(text: &str) -> Self {
        Self::parse_name(text).unwrap_or_else(|| {
            tracing::warn!("compression level {text:?} is invalid, falling back to default");
            Self::Default
        })
    }

    /// The level a name stands for; empty is the default, an unknown name `None`.
    pub fn parse_name(text: &str) -> Option<Self> {
        match text {
            "fastest" => Some(Self::Fastest),
            "fast" => Some(Self::Fast),
            "" | "default" => Some(Self::Default),
            "slow" => Some(Self::Slow),
            "slowest" => Some(Self::Slowest),
            _ => None,
        }
    }

    /// The deflate level of zip entries (upstream's fastzip): `None` stores without
    /// compression.
    pub(crate) fn deflate_level(self) -> Option<u32> {
        match self {
            Self::Fastest => None,
            Self::Fast => Some(1),
            Self::Default => Some(5),
            Self::Slow => Some(7),
            Self::Slowest => Some(9),
        }
    }

    /// The zstd level of tar+zstd archives. Upstream's Go encoder has four speeds, which
    /// correspond roughly to these reference-library levels: fastest (1), default (3),
    /// better compression (7) and best compression (11).
    pub(crate) fn zstd_level(self) -> i32 {
        match self {
            Self::Fastest | Self::Fast => 1,
            Self::Default => 3,
            Self::Slow => 7,
            Self::Slowest => 11,
        }
    }
}

/// Writes `selection` to `destination` in `format` (blocking; run it on a blocking thread
/// from async code). Returns the archive's size in bytes.
pub fn create_archive(
    format: ArchiveFormat,
    level: CompressionLevel,
    selection: &Selection,
    destination: &Path,
) -> Result<u64> {
    let file = std::fs::File::create(destination).map_err(Error::io(destination))?;
    match format {
        ArchiveFormat::Zip => zip_write::write_zip(selection, file, level, destination)?,
        ArchiveFormat::Gzip => gzip::write_gzip(selection, file, level, destination)?,
        ArchiveFormat::Raw => write_raw(selection, file, destination)?,
        ArchiveFormat::TarZstd => tar_zstd::write_tar_zstd(selection, file, level, destination)?,
    }
    Ok(std::fs::metadata(destination)
        .map_err(Error::io(destination))?
        .len())
}

/// Extracts a cache or artifact archive into `target` (blocking), whatever
/// `CACHE_COMPRESSION_FORMAT` wrote it: the first bytes decide, as upstream's extractor does
/// (`28 B5 2F FD` is tar+zstd, `1F 8B` gzip, which cannot be extracted, anything else zip).
pub fn extract_archive(archive: &Path, target: &Path) -> Result<ExtractStats> {
    let mut magic = [0u8; 4];
    let mut file = std::fs::File::open(archive).map_err(Error::io(archive))?;
    let read = read_prefix(&mut file, &mut magic).map_err(Error::io(archive))?;
    drop(file);
    if read == magic.len() && magic == ZSTD_MAGIC {
        tar_zstd::extract_tar_zstd(archive, target)
    } else if read >= 2 && magic[..2] == GZIP_MAGIC {
        Err(Error::UnsupportedFormat {
            format: "gzip".to_owned(),
        })
    } else {
        extract_zip(archive, target)
    }
}

/// Reads up to `buffer.len()` bytes, fewer only at the end of the file.
fn read_prefix(file: &mut std::fs::File, buffer: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read;
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..])? {
            0 => break,
            count => filled += count,
        }
    }
    Ok(filled)
}

fn write_raw(selection: &Selection, mut file: std::fs::File, destination: &Path) -> Result<()> {
    let mut regular = selection
        .iter()
        .filter(|selected| selected.metadata.is_file());
    let Some(only) = regular.next() else {
        return Ok(());
    };
    if regular.next().is_some() {
        return Err(Error::TooManyRawFiles);
    }
    let source = selection.root().join(&only.relative);
    let mut input = std::fs::File::open(&source).map_err(Error::io(&source))?;
    std::io::copy(&mut input, &mut file).map_err(Error::io(destination))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_levels_parse_as_upstream() {
        let check = |text: &str, expected: Option<CompressionLevel>| {
            assert_eq!(CompressionLevel::parse_name(text), expected, "{text:?}");
        };
        check("fastest", Some(CompressionLevel::Fastest));
        check("fast", Some(CompressionLevel::Fast));
        check("default", Some(CompressionLevel::Default));
        check("", Some(CompressionLevel::Default));
        check("slow", Some(CompressionLevel::Slow));
        check("slowest", Some(CompressionLevel::Slowest));
        // Exact lower case only (spec §7.9 vector 2).
        check("Fast", None);
        check("SLOWEST", None);
        check("9", None);
        assert_eq!(CompressionLevel::parse("Fast"), CompressionLevel::Default);
    }

    #[test]
    fn levels_map_to_upstream_codec_settings() {
        assert_eq!(CompressionLevel::Fastest.deflate_level(), None);
        assert_eq!(CompressionLevel::Fast.deflate_level(), Some(1));
        assert_eq!(CompressionLevel::Default.deflate_level(), Some(5));
        assert_eq!(CompressionLevel::Slowest.deflate_level(), Some(9));
        assert_eq!(CompressionLevel::Default.zstd_level(), 3);
        assert!(CompressionLevel::Slowest.zstd_level() > CompressionLevel::Slow.zstd_level());
    }

    #[test]
    fn cache_formats_parse_case_insensitively() {
        assert_eq!(ArchiveFormat::for_cache("tarzstd"), ArchiveFormat::TarZstd);
        assert_eq!(ArchiveFormat::for_cache("TARZSTD"), ArchiveFormat::TarZstd);
        assert_eq!(ArchiveFormat::for_cache("zip"), ArchiveFormat::Zip);
        assert_eq!(ArchiveFormat::for_cache("zipzstd"), ArchiveFormat::Zip);
        assert_eq!(ArchiveFormat::for_cache(""), ArchiveFormat::Zip);
        assert_eq!(
            "tarzstd".parse::<ArchiveFormat>().ok(),
            Some(ArchiveFormat::TarZstd)
        );
    }
}
