//! A set of byte patterns that can be searched in a stream: full matches plus the earliest
//! position where an incomplete match could still begin (what a streaming masker must hold back).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, Input, MatchKind};

/// A match of a pattern in a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// Patterns searched leftmost-longest, optionally ASCII case-insensitively.
#[derive(Debug, Clone)]
pub(crate) struct PatternSet {
    automaton: AhoCorasick,
    /// Sorted, de-duplicated patterns (lower-cased when case-insensitive), for prefix checks.
    sorted: Vec<Vec<u8>>,
    case_insensitive: bool,
    max_len: usize,
    first_bytes: [bool; 256],
}

impl PatternSet {
    /// Builds the set; `None` when there is no non-empty pattern.
    pub(crate) fn new<I, P>(patterns: I, case_insensitive: bool) -> Option<Self>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        let mut sorted: Vec<Vec<u8>> = patterns
            .into_iter()
            .map(|p| {
                if case_insensitive {
                    p.as_ref().to_ascii_lowercase()
                } else {
                    p.as_ref().to_vec()
                }
            })
            .filter(|p| !p.is_empty())
            .collect();
        sorted.sort();
        sorted.dedup();
        if sorted.is_empty() {
            return None;
        }
        let automaton = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .ascii_case_insensitive(case_insensitive)
            .build(&sorted)
            .ok()?;
        let mut first_bytes = [false; 256];
        for pattern in &sorted {
            if let Some(&first) = pattern.first() {
                first_bytes[usize::from(first)] = true;
                if case_insensitive {
                    first_bytes[usize::from(first.to_ascii_uppercase())] = true;
                }
            }
        }
        let max_len = sorted.iter().map(Vec::len).max().unwrap_or(0);
        Some(Self {
            automaton,
            sorted,
            case_insensitive,
            max_len,
            first_bytes,
        })
    }

    /// Length of the longest pattern.
    pub(crate) fn max_len(&self) -> usize {
        self.max_len
    }

    /// The leftmost-longest match in `haystack[from..]`.
    pub(crate) fn find(&self, haystack: &[u8], from: usize) -> Option<Found> {
        let input = Input::new(haystack).span(from..haystack.len());
        self.automaton.find(input).map(|m| Found {
            start: m.start(),
            end: m.end(),
        })
    }

    /// Whether a match starting at `start` is final: no longer pattern could still match there
    /// and no pattern starting before it is incomplete, given that more bytes may follow.
    pub(crate) fn is_decided(&self, haystack: &[u8], from: usize, start: usize) -> bool {
        start + self.max_len <= haystack.len() || self.first_partial(haystack, from) > start
    }

    /// The smallest `k >= from` such that `haystack[k..]` is a proper prefix of a pattern,
    /// or `haystack.len()` when there is none.
    pub(crate) fn first_partial(&self, haystack: &[u8], from: usize) -> usize {
        let len = haystack.len();
        let begin = from.max(len.saturating_sub(self.max_len.saturating_sub(1)));
        (begin..len)
            .find(|&k| {
                self.first_bytes[usize::from(haystack[k])] && self.is_proper_prefix(&haystack[k..])
            })
            .unwrap_or(len)
    }

    fn is_proper_prefix(&self, tail: &[u8]) -> bool {
        let lowered;
        let tail = if self.case_insensitive {
            lowered = tail.to_ascii_lowercase();
            lowered.as_slice()
        } else {
            tail
        };
        let index = self.sorted.partition_point(|p| p.as_slice() < tail);
        self.sorted[index..]
            .iter()
            .take(2)
            .any(|p| p.len() > tail.len() && p.starts_with(tail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_is_found_only_for_real_prefixes() {
        let set = PatternSet::new(["secret", "sec"], false).unwrap();
        assert_eq!(set.first_partial(b"xx sec", 0), 3);
        assert_eq!(set.first_partial(b"xx se", 0), 3);
        assert_eq!(set.first_partial(b"xx sx", 0), 5);
        assert_eq!(set.first_partial(b"xx secret", 0), 9);
    }

    #[test]
    fn case_insensitive_partial() {
        let set = PatternSet::new(["?private_token="], true).unwrap();
        assert_eq!(set.first_partial(b"a?PRIVATE_to", 0), 1);
        assert_eq!(
            set.find(b"x?Private_Token=1", 0),
            Some(Found { start: 1, end: 16 })
        );
    }
}
