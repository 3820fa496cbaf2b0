//! A minimal multipart/form-data reader for the fake's artifact endpoint.

/// Returns `(filename, data)` of the part named `file`.
pub(crate) fn file_part(content_type: &str, body: &[u8]) -> Option<(String, Vec<u8>)> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|parameter| parameter.strip_prefix("boundary="))?
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let mut position = find(body, delimiter.as_bytes(), 0)?;
    loop {
        let part_start = position + delimiter.len();
        if body.get(part_start..part_start + 2) == Some(b"--") {
            return None;
        }
        let headers_end = find(body, b"\r\n\r\n", part_start)?;
        let headers = std::str::from_utf8(&body[part_start..headers_end]).ok()?;
        let data_start = headers_end + 4;
        let closing = format!("\r\n{delimiter}");
        let data_end = find(body, closing.as_bytes(), data_start)?;
        if headers.contains("name=\"file\"") {
            let filename = headers
                .split("filename=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or("")
                .to_owned();
            return Some((filename, body[data_start..data_end].to_vec()));
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
        let (name, data) = file_part("multipart/form-data; boundary=xyz", body).unwrap();
        assert_eq!(name, "a.zip");
        assert_eq!(data, b"PK\r\n--data");
    }
}
