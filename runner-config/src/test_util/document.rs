//! [`GeneratedDocument`]: configuration text written the way people write it, with the
//! byte range of every runner entry known, for tests of byte-preserving edits.

use std::ops::Range;

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

/// A configuration file as a person writes it: comments, odd spacing, blank lines, inline
/// comments. The runner entries are separate chunks, so a test knows which bytes belong to
/// which entry.
#[derive(Clone, Debug)]
pub struct GeneratedDocument {
    /// The global section (ends with a newline).
    pub preamble: String,
    /// One chunk per `[[runners]]` entry: its leading comments, header and body.
    pub entries: Vec<String>,
    /// Comments after the last entry.
    pub trailer: String,
}

impl GeneratedDocument {
    /// The whole text.
    pub fn text(&self) -> String {
        let mut text = self.preamble.clone();
        for entry in &self.entries {
            text.push_str(entry);
        }
        text.push_str(&self.trailer);
        text
    }

    /// The byte range of entry `index` in [`GeneratedDocument::text`].
    pub fn entry_range(&self, index: usize) -> Range<usize> {
        let start =
            self.preamble.len() + self.entries[..index].iter().map(String::len).sum::<usize>();
        start..start + self.entries[index].len()
    }

    /// The `name` of entry `index` (names are unique).
    pub fn entry_name(index: usize) -> String {
        format!("runner-{index}")
    }
}

fn arb_comment() -> impl Strategy<Value = String> {
    "[ -~]{0,30}".prop_map(|text| format!("#{text}"))
}

/// `key = value` with varied spacing and an optional inline comment.
fn arb_assignment(key: &'static str, value: String) -> impl Strategy<Value = String> {
    (" {0,3}", " {0,2}", " {0,2}", option::of(arb_comment())).prop_map(
        move |(indent, before, after, comment)| {
            let comment = comment
                .map(|comment| format!("  {comment}"))
                .unwrap_or_default();
            format!("{indent}{key}{before}={after}{value}{comment}\n")
        },
    )
}

fn arb_leading() -> impl Strategy<Value = String> {
    vec(prop_oneof![Just(String::new()), arb_comment()], 0..3)
        .prop_map(|lines| lines.into_iter().map(|line| format!("{line}\n")).collect())
}

fn arb_entry(index: usize) -> impl Strategy<Value = String> {
    let name = GeneratedDocument::entry_name(index);
    (
        arb_leading(),
        option::of(arb_comment()),
        arb_assignment("name", format!("{name:?}")),
        arb_assignment("url", "\"https://gitlab.example.com\"".to_owned()),
        arb_assignment("token", format!("\"glrt-token-{index}\"")),
        arb_assignment("executor", "\"docker\"".to_owned()),
        option::of((
            arb_leading(),
            arb_assignment("image", "\"alpine:3.20\"".to_owned()),
        )),
    )
        .prop_map(
            |(leading, header_comment, name, url, token, executor, docker)| {
                let header_comment = header_comment
                    .map(|comment| format!(" {comment}"))
                    .unwrap_or_default();
                let mut entry =
                    format!("{leading}[[runners]]{header_comment}\n{name}{url}{token}{executor}");
                if let Some((docker_leading, image)) = docker {
                    // Comments before a sub-table belong to it, so they stay inside the entry.
                    entry.push_str(&format!("{docker_leading}  [runners.docker]\n{image}"));
                }
                entry
            },
        )
}

/// A [`GeneratedDocument`] with zero to four runner entries.
pub fn arb_document() -> impl Strategy<Value = GeneratedDocument> {
    (0usize..5)
        .prop_flat_map(|count| {
            let entries: Vec<_> = (0..count).map(arb_entry).collect();
            (
                arb_leading(),
                arb_assignment("concurrent", "4".to_owned()),
                option::of(arb_assignment("check_interval", "0".to_owned())),
                any::<bool>(),
                entries,
                vec(arb_comment(), 0..2),
            )
        })
        .prop_map(
            |(leading, concurrent, check_interval, session_server, entries, trailer)| {
                let mut preamble = format!(
                    "{leading}{concurrent}{}",
                    check_interval.unwrap_or_default()
                );
                if session_server {
                    preamble.push_str("\n[session_server]\n  session_timeout = 1800\n");
                }
                let trailer = trailer
                    .into_iter()
                    .map(|line| format!("{line}\n"))
                    .collect();
                GeneratedDocument {
                    preamble,
                    entries,
                    trailer,
                }
            },
        )
}
