//! `artifacts:reports:dotenv`: the variables a job hands to the jobs that depend on it, read
//! from its upload as GitLab's `Ci::ParseDotenvArtifactService` reads them.

use std::io::Read;

use flate2::read::MultiGzDecoder;

/// GitLab's default plan limits: at most 20 variables in at most 5 KiB (`dotenv_variables`,
/// `dotenv_size`).
const MAX_VARIABLES: usize = 20;
const MAX_SIZE: usize = 5 * 1024;

/// The `KEY=VALUE` pairs of a gzip-compressed dotenv upload (each gzip member one file), in
/// file order, a repeated key keeping its last value; the error is GitLab's message.
pub(super) fn parse(gzip: &[u8]) -> Result<Vec<(String, String)>, String> {
    if gzip.len() >= MAX_SIZE {
        return Err(format!(
            "Dotenv Artifact Too Big. Maximum Allowable Size: {MAX_SIZE}"
        ));
    }
    let mut bytes = Vec::new();
    MultiGzDecoder::new(gzip)
        .take(1024 * 1024)
        .read_to_end(&mut bytes)
        .map_err(|_| "Invalid Format".to_owned())?;
    let text = String::from_utf8_lossy(&bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut variables: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        // `^(.*?)=(.*)$`, both sides stripped: no comments, no blank lines, no quote removal.
        let Some((key, value)) = line.split_once('=') else {
            return Err("Invalid Format".to_owned());
        };
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(
                "Validation failed: Key can contain only letters, digits and '_'.".to_owned(),
            );
        }
        variables.retain(|(existing, _)| existing != key);
        variables.push((key.to_owned(), value.to_owned()));
    }
    if variables.len() > MAX_VARIABLES {
        return Err(format!(
            "Dotenv files cannot have more than {MAX_VARIABLES} variables"
        ));
    }
    Ok(variables)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(text: &str) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(text.as_bytes()).expect("compresses");
        encoder.finish().expect("compresses")
    }

    #[test]
    fn lines_are_key_value_pairs_stripped_with_quotes_kept() {
        let parsed = parse(&gzip(
            "\u{feff}VERSION=1.2.3\n URL = https://x/?a=b \nQ=\"q\"\nVERSION=2\n",
        ))
        .expect("valid");
        assert_eq!(
            parsed,
            [
                ("URL".to_owned(), "https://x/?a=b".to_owned()),
                ("Q".to_owned(), "\"q\"".to_owned()),
                ("VERSION".to_owned(), "2".to_owned()),
            ]
        );
    }

    #[test]
    fn blank_lines_comments_and_too_many_variables_are_refused() {
        assert_eq!(
            parse(&gzip("A=1\n\nB=2\n")),
            Err("Invalid Format".to_owned())
        );
        assert_eq!(
            parse(&gzip("# note\nA=1\n")),
            Err("Invalid Format".to_owned())
        );
        assert!(parse(&gzip("MY-VAR=1\n")).is_err_and(|error| error.contains("Key can contain")));
        let many: String = (0..21).map(|n| format!("V{n}=x\n")).collect();
        assert!(parse(&gzip(&many)).is_err_and(|error| error.contains("more than 20")));
        assert!(parse(b"not gzip").is_err());
    }
}
