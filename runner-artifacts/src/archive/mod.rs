//! Archive formats (executors.md §5.2): zip with UNIX modes, symlinks, mtimes and
//! ownership; upstream's gzip artifact format; raw single files.

mod gzip;
mod zip_extract;
mod zip_write;

use std::path::Path;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::select::Selection;

pub use zip_extract::{ExtractStats, extract_zip};

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
}

impl ArchiveFormat {
    /// The name used in `artifact_format` and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zip => "zip",
            Self::Gzip => "gzip",
            Self::Raw => "raw",
        }
    }
}

impl FromStr for ArchiveFormat {
    type Err = Error;

    /// `""` and `zip` are zip; `zipzstd` and `tarzstd` are not supported by this runner.
    fn from_str(text: &str) -> Result<Self> {
        match text {
            "" | "zip" => Ok(Self::Zip),
            "gzip" => Ok(Self::Gzip),
            "raw" => Ok(Self::Raw),
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
    /// Parses upstream's names; anything else is the default.
    pub fn parse(text: &str) -> Self {
        match text.to_ascii_lowercase().as_str() {
            "fastest" => Self::Fastest,
            "fast" => Self::Fast,
            "slow" => Self::Slow,
            "slowest" => Self::Slowest,
            _ => Self::Default,
        }
    }

    pub(crate) fn deflate_level(self) -> u32 {
        match self {
            Self::Fastest => 1,
            Self::Fast => 3,
            Self::Default => 6,
            Self::Slow => 7,
            Self::Slowest => 9,
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
    }
    Ok(std::fs::metadata(destination)
        .map_err(Error::io(destination))?
        .len())
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
