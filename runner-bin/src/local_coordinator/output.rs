//! Where the local coordinator prints job traces: raw on a terminal (colours, `\r` and
//! the collapsible-section markers behave as they do in GitLab's log view), line by line
//! and without escape sequences or section markers elsewhere (a file, a pipe, CI).

use std::fmt;
use std::io::Write;

/// The destination of trace bytes and how to render them.
pub(crate) struct TraceOutput {
    writer: Box<dyn Write + Send>,
    raw: bool,
}

impl fmt::Debug for TraceOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceOutput")
            .field("raw", &self.raw)
            .finish_non_exhaustive()
    }
}

impl TraceOutput {
    /// `raw`: pass bytes through as they come (a terminal); otherwise print whole lines
    /// with ANSI escape sequences and `section_start:`/`section_end:` markers removed.
    pub(crate) fn new(writer: Box<dyn Write + Send>, raw: bool) -> Self {
        Self { writer, raw }
    }

    /// Prints `bytes`; `pending` holds the unfinished last line between calls.
    pub(crate) fn write(&mut self, pending: &mut Vec<u8>, bytes: &[u8]) {
        if self.raw {
            let _ = self.writer.write_all(bytes);
            super::flush(&mut self.writer);
            return;
        }
        pending.extend_from_slice(bytes);
        let Some(last_newline) = pending.iter().rposition(|byte| *byte == b'\n') else {
            return;
        };
        let rest = pending.split_off(last_newline + 1);
        let complete = std::mem::replace(pending, rest);
        let _ = self.writer.write_all(&plain(&complete));
        super::flush(&mut self.writer);
    }

    /// Prints what is left in `pending`, ending it with a newline.
    pub(crate) fn finish(&mut self, pending: &mut Vec<u8>) {
        if pending.is_empty() {
            return;
        }
        let mut text = plain(pending);
        pending.clear();
        if !text.ends_with(b"\n") {
            text.push(b'\n');
        }
        let _ = self.writer.write_all(&text);
        super::flush(&mut self.writer);
    }
}

/// `bytes` (whole lines) without ANSI escape sequences and section markers.
pub(crate) fn plain(bytes: &[u8]) -> Vec<u8> {
    let mut text = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == 0x1b {
            index = skip_escape(bytes, index);
            continue;
        }
        if let Some(end) = section_marker_end(bytes, index) {
            index = end;
            continue;
        }
        text.push(bytes[index]);
        index += 1;
    }
    text
}

/// The index after the escape sequence starting at `start` (CSI, OSC or two-byte).
fn skip_escape(bytes: &[u8], start: usize) -> usize {
    match bytes.get(start + 1) {
        Some(b'[') => {
            let mut index = start + 2;
            while let Some(byte) = bytes.get(index) {
                index += 1;
                if (0x40..=0x7e).contains(byte) {
                    break;
                }
            }
            index
        }
        Some(b']') => {
            let mut index = start + 2;
            while let Some(byte) = bytes.get(index) {
                if *byte == 0x07 {
                    return index + 1;
                }
                if *byte == 0x1b && bytes.get(index + 1) == Some(&b'\\') {
                    return index + 2;
                }
                index += 1;
            }
            index
        }
        Some(_) => start + 2,
        None => start + 1,
    }
}

/// The end of a `section_start:<time>:<name>[<options>]\r` marker at `start`, if one is there.
fn section_marker_end(bytes: &[u8], start: usize) -> Option<usize> {
    let rest = &bytes[start..];
    if !(rest.starts_with(b"section_start:") || rest.starts_with(b"section_end:")) {
        return None;
    }
    let line_end = rest
        .iter()
        .position(|byte| *byte == b'\n')
        .unwrap_or(rest.len());
    let carriage_return = rest[..line_end].iter().position(|byte| *byte == b'\r')?;
    Some(start + carriage_return + 1)
}
