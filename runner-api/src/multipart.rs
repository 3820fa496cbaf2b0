//! Reading the artifact upload's multipart/form-data body: the part named `file`, as
//! [`crate::Client`] writes it (`endpoint/artifacts.rs`). Servers that stand in for GitLab
//! read it with this: the fake coordinator and `exec`'s local coordinator.

/// The part named `file` of an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilePart<'a> {
    /// The part's `filename`, empty when it has none.
    pub filename: &'a str,
    /// The part's bytes.
    pub data: &'a [u8],
}

/// The part named `file` of a multipart/form-data `body` whose `Content-Type` is
/// `content_type`; `None` when there is no such part or the body is malformed.
pub fn file_part<'a>(content_type: &str, body: &'a [u8]) -> Option<FilePart<'a>> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|parameter| parameter.strip_prefix("boundary="))?
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let closing = format!("\r\n{delimiter}");
    let mut position = find(body, delimiter.as_bytes(), 0)?;
    loop {
        let part_start = position + delimiter.len();
        if body.get(part_start..part_start + 2) == Some(b"--") {
            return None;
        }
        let headers_end = find(body, b"\r\n\r\n", part_start)?;
        let headers = std::str::from_utf8(&body[part_start..headers_end]).ok()?;
        let data_start = headers_end + 4;
        let data_end = find(body, closing.as_bytes(), data_start)?;
        if headers.contains("name=\"file\"") {
            let filename = headers
                .split("filename=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or("");
            return Some(FilePart {
                filename,
                data: &body[data_start..data_end],
            });
        }
        position = data_end + 2;
    }
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|window| window == needle)
        .map(|index| index + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_file_part() {
        let body = b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.zip\"\r\nContent-Type: application/octet-stream\r\n\r\nPK\r\n--data\r\n--xyz--\r\n";
        let part = file_part("multipart/form-data; boundary=xyz", body).unwrap();
        assert_eq!(part.filename, "a.zip");
        assert_eq!(part.data, b"PK\r\n--data");
        let other =
            b"--xyz\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--xyz--\r\n";
        assert_eq!(file_part("multipart/form-data; boundary=xyz", other), None);
    }
}
