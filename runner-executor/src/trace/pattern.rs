//! A set of byte patterns that can be searched in a stream: full matches plus the earliest
//! position where an incomplete match could still begin (what a streaming masker must hold back).

use std::sync::{Arc, Mutex, PoisonError, Weak};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, Input, MatchKind};

/// Above this many patterns the 4-byte filter replaces the automaton's own prefilter, which
/// reports mostly false candidates for many random secrets (see benches/masking.rs).
const FILTER_MIN_PATTERNS: usize = 16;

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
    /// For many case-sensitive patterns of 4+ bytes: a bit per hash of a pattern's first 4
    /// bytes. Candidate positions are checked with an anchored search; every match starts at one.
    filter: Option<Box<[u64]>>,
    /// Distance between checked positions: every pattern has a filtered 4-gram at each of its
    /// first `stride` offsets, so checking every `stride`-th position cannot miss a match.
    stride: usize,
}

/// Largest stride (more grams per pattern raise the false-candidate rate).
const MAX_STRIDE: usize = 8;

/// Bits in the 4-byte filter (8 KiB, stays in L1).
const FILTER_BITS: u32 = 16;

fn filter_slot(window: [u8; 4]) -> usize {
    let key = u32::from_le_bytes(window).wrapping_mul(0x9E37_79B1);
    (key >> (32 - FILTER_BITS)) as usize
}

/// Non-empty patterns, lower-cased when the search ignores case, sorted and de-duplicated.
fn normalize<I, P>(patterns: I, case_insensitive: bool) -> Vec<Vec<u8>>
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
    sorted
}

impl PatternSet {
    /// Builds the set; `None` when there is no non-empty pattern. A contiguous NFA: each
    /// running job holds its own (its secrets), and a DFA of a few random secrets takes
    /// 25-50 KB where this takes 2-4 KB, while searching as fast or faster behind the
    /// prefilter (benches/masking.rs: 1.87 against 1.22 GiB/s with 5 values).
    pub(crate) fn new<I, P>(patterns: I, case_insensitive: bool) -> Option<Self>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        let sorted = normalize(patterns, case_insensitive);
        Self::from_normalized(sorted, case_insensitive, AhoCorasickKind::ContiguousNFA)
    }

    /// The set for `patterns`, shared with every live holder of an equal set. The token
    /// stage's sets (the default prefixes, the URL parameters) are the same for nearly every
    /// job and their DFAs take tens of KB each, which dominated a running job's memory. Only
    /// for public patterns: a job's secrets never enter this process-wide table. Built once
    /// for many jobs, these are full DFAs.
    pub(crate) fn shared<I, P>(patterns: I, case_insensitive: bool) -> Option<Arc<Self>>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        /// Weak, so a set lives only as long as some job holds it.
        type Table = Vec<(bool, Vec<Vec<u8>>, Weak<PatternSet>)>;
        static TABLE: Mutex<Table> = Mutex::new(Vec::new());
        let sorted = normalize(patterns, case_insensitive);
        let mut table = TABLE.lock().unwrap_or_else(PoisonError::into_inner);
        table.retain(|(_, _, set)| set.strong_count() > 0);
        let live = table
            .iter()
            .find(|(insensitive, key, _)| *insensitive == case_insensitive && *key == sorted)
            .and_then(|(_, _, set)| set.upgrade());
        if live.is_some() {
            return live;
        }
        let set = Self::from_normalized(sorted.clone(), case_insensitive, AhoCorasickKind::DFA)?;
        let set = Arc::new(set);
        table.push((case_insensitive, sorted, Arc::downgrade(&set)));
        Some(set)
    }

    /// Builds from [`normalize`]d patterns.
    fn from_normalized(
        sorted: Vec<Vec<u8>>,
        case_insensitive: bool,
        kind: AhoCorasickKind,
    ) -> Option<Self> {
        if sorted.is_empty() {
            return None;
        }
        let automaton = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .ascii_case_insensitive(case_insensitive)
            .kind(Some(kind))
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
        let min_len = sorted.iter().map(Vec::len).min().unwrap_or(0);
        let stride = min_len.saturating_sub(3).clamp(1, MAX_STRIDE);
        let filter = (!case_insensitive && sorted.len() > FILTER_MIN_PATTERNS && min_len >= 4)
            .then(|| {
                let mut bits = vec![0u64; (1 << FILTER_BITS) / 64].into_boxed_slice();
                for pattern in &sorted {
                    for gram in pattern.windows(4).take(stride) {
                        let slot = filter_slot([gram[0], gram[1], gram[2], gram[3]]);
                        bits[slot / 64] |= 1 << (slot % 64);
                    }
                }
                bits
            });
        Some(Self {
            automaton,
            sorted,
            case_insensitive,
            max_len,
            first_bytes,
            filter,
            stride,
        })
    }

    /// Length of the longest pattern.
    pub(crate) fn max_len(&self) -> usize {
        self.max_len
    }

    /// The leftmost-longest match in `haystack[from..]`.
    pub(crate) fn find(&self, haystack: &[u8], from: usize) -> Option<Found> {
        let Some(filter) = &self.filter else {
            let input = Input::new(haystack).span(from..haystack.len());
            return self.automaton.find(input).map(|m| Found {
                start: m.start(),
                end: m.end(),
            });
        };
        // A match starting at `i` is seen at the first checked position `p >= i`, which lies
        // within its first `stride` offsets. Earlier matches were seen at earlier positions, so
        // the leftmost match in `[p - stride + 1, p + max_len)` that starts by `p` is the answer.
        let len = haystack.len();
        let mut position = from;
        while let Some(window) = haystack.get(position..position + 4) {
            let slot = filter_slot([window[0], window[1], window[2], window[3]]);
            if filter[slot / 64] & (1 << (slot % 64)) != 0 {
                let low = position.saturating_sub(self.stride - 1).max(from);
                let high = (position + self.max_len).min(len);
                let input = Input::new(haystack).span(low..high);
                if let Some(m) = self.automaton.find(input).filter(|m| m.start() <= position) {
                    return Some(Found {
                        start: m.start(),
                        end: m.end(),
                    });
                }
            }
            position += self.stride;
        }
        None
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
    fn filtered_search_finds_leftmost_longest() {
        let mut patterns: Vec<String> = (0..40).map(|i| format!("secret-{i:02}")).collect();
        patterns.push("secret-01-longer".to_owned());
        let set = PatternSet::new(&patterns, false).unwrap();
        assert!(set.filter.is_some());
        let text = b"xx secret-7 secret-01-longer secret-39";
        assert_eq!(set.find(text, 0), Some(Found { start: 12, end: 28 }));
        assert_eq!(set.find(text, 13), Some(Found { start: 29, end: 38 }));
        assert_eq!(set.find(text, 30), None);
    }

    #[test]
    fn shared_sets_are_one_while_held() {
        let first = PatternSet::shared(["glpat-", "gldt-"], false).unwrap();
        let same = PatternSet::shared(["gldt-", "glpat-", "gldt-"], false).unwrap();
        assert!(Arc::ptr_eq(&first, &same), "equal sets are shared");
        let insensitive = PatternSet::shared(["glpat-", "gldt-"], true).unwrap();
        assert!(
            !Arc::ptr_eq(&first, &insensitive),
            "case matters to the key"
        );
        let weak = Arc::downgrade(&first);
        drop((first, same));
        assert_eq!(
            weak.strong_count(),
            0,
            "the table does not keep a set alive"
        );
        assert!(PatternSet::shared([""], false).is_none());
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
