//! The end of a stage in a container's attached output: the stage wrapper prints
//! `<nonce>:<exit code>\n` after the stage's shell exits, and [`StageEndScanner`] finds it in
//! the byte stream, however the engine splits the stream into frames.
//!
//! The nonce is fresh and random for every stage, so a job's own output cannot end a stage by
//! accident; everything before the marker is the stage's output, passed on unchanged.

use memchr::memmem;

/// Longest exit-code text accepted after the nonce (`-2147483648` fits).
const MAX_CODE_DIGITS: usize = 11;

/// What one chunk of output contained.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Scanned {
    /// Output of the stage to forward to the trace (may be empty).
    pub(crate) output: Vec<u8>,
    /// The stage's exit code, when the marker was completed in this chunk. The rest of the
    /// chunk is dropped: it can only be output of processes the stage left running, written
    /// after it ended.
    pub(crate) exit_code: Option<i64>,
}

/// Finds `<nonce>:<code>\n` in a stream of chunks.
#[derive(Debug)]
pub(crate) struct StageEndScanner {
    /// `<nonce>:`.
    needle: Vec<u8>,
    /// Bytes held back: a possible start of the needle at the end of the last chunk, or the
    /// needle and part of the code once the needle was seen.
    held: Vec<u8>,
}

impl StageEndScanner {
    pub(crate) fn new(nonce: &str) -> Self {
        Self {
            needle: format!("{nonce}:").into_bytes(),
            held: Vec::new(),
        }
    }

    /// Consumes `chunk`, up to the marker.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Scanned {
        let mut data = std::mem::take(&mut self.held);
        data.extend_from_slice(chunk);
        let mut output = Vec::with_capacity(data.len());
        let mut from = 0;
        loop {
            let Some(found) = memmem::find(&data[from..], &self.needle) else {
                // Hold back the longest tail that could still become the needle.
                let keep = longest_needle_prefix_suffix(&data[from..], &self.needle);
                let end = data.len() - keep;
                output.extend_from_slice(&data[from..end]);
                self.held = data[end..].to_vec();
                return Scanned {
                    output,
                    exit_code: None,
                };
            };
            let at = from + found;
            output.extend_from_slice(&data[from..at]);
            let code_start = at + self.needle.len();
            match parse_code(&data[code_start..]) {
                Parsed::Complete(code) => {
                    return Scanned {
                        output,
                        exit_code: Some(code),
                    };
                }
                Parsed::Incomplete => {
                    self.held = data[at..].to_vec();
                    return Scanned {
                        output,
                        exit_code: None,
                    };
                }
                Parsed::Invalid => {
                    // Not a marker (cannot happen with a fresh nonce): pass it on.
                    output.extend_from_slice(&self.needle);
                    from = code_start;
                }
            }
        }
    }
}

enum Parsed {
    Complete(i64),
    Incomplete,
    Invalid,
}

/// `[-]digits\n` at the start of `text`.
fn parse_code(text: &[u8]) -> Parsed {
    for (i, &byte) in text.iter().enumerate() {
        if byte == b'\n' {
            return std::str::from_utf8(&text[..i])
                .ok()
                .and_then(|code| code.parse().ok())
                .map_or(Parsed::Invalid, Parsed::Complete);
        }
        let digit = byte.is_ascii_digit() || (i == 0 && byte == b'-');
        if !digit || i >= MAX_CODE_DIGITS {
            return Parsed::Invalid;
        }
    }
    Parsed::Incomplete
}

/// Length of the longest suffix of `data` that is a proper prefix of `needle`.
fn longest_needle_prefix_suffix(data: &[u8], needle: &[u8]) -> usize {
    let max = needle.len().saturating_sub(1).min(data.len());
    (1..=max)
        .rev()
        .find(|&len| data[data.len() - len..] == needle[..len])
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NONCE: &str = "4f9c2a7e0b1d";

    /// Feeds `stream` cut at `cuts`; returns the forwarded output and the exit code.
    fn scan(stream: &[u8], cuts: &[usize]) -> (Vec<u8>, Option<i64>) {
        let mut scanner = StageEndScanner::new(NONCE);
        let mut output = Vec::new();
        let mut start = 0;
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
        points.sort_unstable();
        points.push(stream.len());
        for end in points {
            if end < start {
                continue;
            }
            let scanned = scanner.push(&stream[start..end]);
            output.extend_from_slice(&scanned.output);
            if scanned.exit_code.is_some() {
                return (output, scanned.exit_code);
            }
            start = end;
        }
        (output, None)
    }

    #[test]
    fn marker_ends_the_stage_and_is_not_forwarded() {
        let stream = format!("hello\nno newline{NONCE}:3\nleftover");
        assert_eq!(
            scan(stream.as_bytes(), &[]),
            (b"hello\nno newline".to_vec(), Some(3))
        );
        assert_eq!(
            scan(format!("{NONCE}:0\n").as_bytes(), &[]),
            (Vec::new(), Some(0))
        );
    }

    #[test]
    fn near_misses_are_output() {
        let stream = format!("{NONCE}:x\n{NONCE}\n4f9c:1\n{NONCE}:143\n");
        let (output, code) = scan(stream.as_bytes(), &[]);
        assert_eq!(code, Some(143));
        assert_eq!(output, format!("{NONCE}:x\n{NONCE}\n4f9c:1\n").into_bytes());
    }

    #[test]
    fn a_stream_without_marker_is_all_output_once_it_cannot_be_one() {
        let stream = format!("abc{}", &NONCE[..5]);
        let (output, code) = scan(stream.as_bytes(), &[]);
        assert_eq!(code, None);
        // The possible start of a marker is held back until the next chunk decides.
        assert_eq!(output, b"abc");
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_result(
            before in proptest::collection::vec(any::<u8>(), 0..200),
            code in -300_i64..300,
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            // Output without a complete nonce, then the marker, then anything.
            prop_assume!(memmem::find(&before, NONCE.as_bytes()).is_none());
            let mut stream = before.clone();
            stream.extend_from_slice(format!("{NONCE}:{code}\nafter").as_bytes());
            prop_assert_eq!(scan(&stream, &cuts), (before, Some(code)));
        }
    }
}
