//! Upstream's gzip artifact format: one gzip member per regular file, the header's name is
//! the base name, the comment the relative path, `e:` + percent-encoding for names with
//! non-ASCII characters or `%`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use flate2::{Compression, GzBuilder};

use crate::archive::CompressionLevel;
use crate::civil::unix_seconds;
use crate::error::{Error, Result};
use crate::select::Selection;

pub(crate) fn write_gzip(
    selection: &Selection,
    file: File,
    level: CompressionLevel,
    destination: &Path,
) -> Result<()> {
    let write_error = |source: std::io::Error| Error::WriteArchive {
        path: destination.to_owned(),
        source: Box::new(source),
    };
    let mut output = BufWriter::with_capacity(256 * 1024, file);
    for selected in selection.iter() {
        let relative = selected.relative.to_string_lossy();
        if !selected.metadata.is_file() {
            return Err(Error::WriteArchive {
                path: destination.to_owned(),
                source: format!("the {relative:?} is not a regular file").into(),
            });
        }
        let base_name = selected
            .relative
            .file_name()
            .map(|name| name.to_string_lossy())
            .unwrap_or_default();
        let mtime = selected.metadata.modified().map(unix_seconds).unwrap_or(0);
        let source_path = selection.root().join(&selected.relative);
        let mut input = File::open(&source_path).map_err(Error::io(&source_path))?;
        let mut encoder = GzBuilder::new()
            .filename(sanitize(&base_name))
            .comment(sanitize(&relative))
            .mtime(u32::try_from(mtime).unwrap_or(0))
            .write(
                &mut output,
                Compression::new(level.deflate_level().unwrap_or(0)),
            );
        std::io::copy(&mut input, &mut encoder).map_err(write_error)?;
        encoder.finish().map_err(write_error)?;
    }
    output.flush().map_err(write_error)?;
    Ok(())
}

/// `e:` + Go's `url.PathEscape` when the name has non-ASCII characters or `%`.
fn sanitize(name: &str) -> String {
    if !name.chars().any(|c| !c.is_ascii() || c == '%') {
        return name.to_owned();
    }
    let mut encoded = String::from("e:");
    for byte in name.bytes() {
        let keep = byte.is_ascii_alphanumeric() || b"-_.~$&+:=@".contains(&byte);
        if keep {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_non_ascii_or_percent_are_encoded() {
        assert_eq!(sanitize("report.xml"), "report.xml");
        assert_eq!(sanitize("100%.xml"), "e:100%25.xml");
        assert_eq!(sanitize("dir/é b.xml"), "e:dir%2F%C3%A9%20b.xml");
    }
}
