//! Streaming secret masking (executors.md §1.7, coordinator-api.md §15.4).
//!
//! Two stages run in upstream's order: exact masked values become `[MASKED]`; then sensitive URL
//! query parameters and known token prefixes keep their key/prefix and lose the value. Each stage
//! holds back only the bytes that could still start a pattern, so a secret split across writes is
//! masked while ordinary output is passed on at once.

use std::sync::Arc;

use crate::trace::pattern::{Found, PatternSet};

/// The replacement text.
pub(crate) const MASKED: &[u8] = b"[MASKED]";

/// Token prefixes masked by default (`glpat-` always, the rest with `FF_MASK_ALL_DEFAULT_TOKENS`).
pub const DEFAULT_TOKEN_PREFIXES: &[&str] = &[
    "glpat-",
    "gloas-",
    "gldt-",
    "glrt-",
    "glcbt-",
    "glrtr-",
    "glptt-",
    "glft-",
    "glimt-",
    "glagent-",
    "glsoat-",
    "glffct-",
    "_gitlab_session=",
    "gltok-",
    // Legacy runner registration tokens; beyond upstream, masked too.
    "GR1348941",
];

/// URL query keys whose values are masked.
const URL_PARAMETERS: &[&str] = &[
    "private_token",
    "authenticity_token",
    "rss_token",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
];

/// The masking pipeline.
#[derive(Debug, Clone)]
pub(crate) struct Masker {
    phrases: Option<PhraseStage>,
    tokens: TokenStage,
    scratch: Vec<u8>,
}

impl Masker {
    /// Masks `values` (trimmed; empty ones dropped) and tokens starting with `prefixes`.
    pub(crate) fn new<'a>(
        values: impl IntoIterator<Item = &'a str>,
        prefixes: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let phrases =
            PatternSet::new(values.into_iter().map(str::trim), false).map(|set| PhraseStage {
                set,
                pending: Vec::new(),
            });
        let mut parameters = Vec::new();
        for key in URL_PARAMETERS {
            parameters.push(format!("?{key}="));
            parameters.push(format!("&{key}="));
        }
        let tokens = TokenStage {
            prefixes: PatternSet::shared(prefixes.into_iter().map(str::trim), false),
            parameters: PatternSet::shared(&parameters, true),
            pending: Vec::new(),
            swallow: None,
        };
        Self {
            phrases,
            tokens,
            scratch: Vec::new(),
        }
    }

    /// Masks `input`, appending what can be released to `out`.
    pub(crate) fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        self.run(input, out, false);
    }

    /// Releases everything held back.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        self.run(&[], out, true);
    }

    fn run(&mut self, input: &[u8], out: &mut Vec<u8>, last: bool) {
        match &mut self.phrases {
            None => self.tokens.push(input, out, last),
            Some(phrases) => {
                self.scratch.clear();
                phrases.push(input, &mut self.scratch, last);
                self.tokens.push(&self.scratch, out, last);
            }
        }
    }
}

/// Stage 1: exact masked values.
#[derive(Debug, Clone)]
struct PhraseStage {
    set: PatternSet,
    pending: Vec<u8>,
}

impl PhraseStage {
    fn push(&mut self, input: &[u8], out: &mut Vec<u8>, last: bool) {
        let joined;
        let buffer: &[u8] = if self.pending.is_empty() {
            input
        } else {
            self.pending.extend_from_slice(input);
            joined = std::mem::take(&mut self.pending);
            &joined
        };
        let mut position = 0;
        let mut stop = None;
        while let Some(found) = self.set.find(buffer, position) {
            if !last && !self.set.is_decided(buffer, position, found.start) {
                stop = Some(self.set.first_partial(buffer, position).min(found.start));
                break;
            }
            out.extend_from_slice(&buffer[position..found.start]);
            out.extend_from_slice(MASKED);
            position = found.end;
        }
        let cut = match stop {
            Some(cut) => cut,
            None if last => buffer.len(),
            None => self.set.first_partial(buffer, position),
        };
        out.extend_from_slice(&buffer[position..cut]);
        self.pending.clear();
        self.pending.extend_from_slice(&buffer[cut..]);
    }
}

/// What the token stage is currently dropping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Swallow {
    /// A token after a known prefix: `[A-Za-z0-9._=-]`.
    Token { masked: bool },
    /// A URL parameter value: up to `?`, `&`, whitespace or a control character.
    Parameter { masked: bool },
}

impl Swallow {
    fn takes(self, byte: u8) -> bool {
        match self {
            Self::Token { .. } => {
                byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'=' | b'-')
            }
            Self::Parameter { .. } => {
                !(matches!(byte, b'?' | b'&')
                    || byte.is_ascii_whitespace()
                    || byte.is_ascii_control())
            }
        }
    }

    fn masked(self) -> bool {
        matches!(
            self,
            Self::Token { masked: true } | Self::Parameter { masked: true }
        )
    }

    fn with_masked(self) -> Self {
        match self {
            Self::Token { .. } => Self::Token { masked: true },
            Self::Parameter { .. } => Self::Parameter { masked: true },
        }
    }
}

/// Stage 2: URL parameters and token prefixes.
#[derive(Debug, Clone)]
struct TokenStage {
    prefixes: Option<Arc<PatternSet>>,
    parameters: Option<Arc<PatternSet>>,
    pending: Vec<u8>,
    swallow: Option<Swallow>,
}

impl TokenStage {
    fn push(&mut self, input: &[u8], out: &mut Vec<u8>, last: bool) {
        let joined;
        let buffer: &[u8] = if self.pending.is_empty() {
            input
        } else {
            self.pending.extend_from_slice(input);
            joined = std::mem::take(&mut self.pending);
            &joined
        };
        let mut position = 0;
        let mut next_prefix: Option<Option<Found>> = None;
        let mut next_parameter: Option<Option<Found>> = None;
        let cut = loop {
            if let Some(swallow) = self.swallow {
                let run = buffer[position..]
                    .iter()
                    .take_while(|&&b| swallow.takes(b))
                    .count();
                if run > 0 && !swallow.masked() {
                    out.extend_from_slice(MASKED);
                }
                position += run;
                if position == buffer.len() {
                    self.swallow = Some(if run > 0 {
                        swallow.with_masked()
                    } else {
                        swallow
                    });
                    break buffer.len();
                }
                self.swallow = None;
            }
            refresh(&self.prefixes, &mut next_prefix, buffer, position);
            refresh(&self.parameters, &mut next_parameter, buffer, position);
            let prefix = next_prefix.flatten();
            let parameter = next_parameter.flatten();
            let (found, kind) = match (prefix, parameter) {
                (None, None) => {
                    break if last {
                        buffer.len()
                    } else {
                        self.first_partial(buffer, position)
                    };
                }
                (Some(p), Some(q)) if q.start <= p.start => {
                    (q, Swallow::Parameter { masked: false })
                }
                (Some(p), _) => (p, Swallow::Token { masked: false }),
                (None, Some(q)) => (q, Swallow::Parameter { masked: false }),
            };
            if !last {
                let partial = self.first_partial(buffer, position);
                if partial <= found.start && !self.decided(buffer, found.start) {
                    break partial;
                }
            }
            out.extend_from_slice(&buffer[position..found.end]);
            position = found.end;
            self.swallow = Some(kind);
        };
        out.extend_from_slice(&buffer[position..cut]);
        self.pending.clear();
        self.pending.extend_from_slice(&buffer[cut..]);
        if last {
            self.swallow = None;
        }
    }

    fn first_partial(&self, buffer: &[u8], from: usize) -> usize {
        let a = self
            .prefixes
            .as_ref()
            .map_or(buffer.len(), |s| s.first_partial(buffer, from));
        let b = self
            .parameters
            .as_ref()
            .map_or(buffer.len(), |s| s.first_partial(buffer, from));
        a.min(b)
    }

    fn decided(&self, buffer: &[u8], start: usize) -> bool {
        let longest = self
            .prefixes
            .iter()
            .chain(self.parameters.iter())
            .map(|set| set.max_len())
            .max()
            .unwrap_or(0);
        start + longest <= buffer.len()
    }
}

/// Searches again when the cached match is unknown or lies before `position`.
fn refresh(
    set: &Option<Arc<PatternSet>>,
    cached: &mut Option<Option<Found>>,
    buffer: &[u8],
    position: usize,
) {
    let stale = match cached {
        None => true,
        Some(Some(found)) => found.start < position,
        Some(None) => false,
    };
    if stale {
        *cached = Some(set.as_ref().and_then(|s| s.find(buffer, position)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask_all(values: &[&str], chunks: &[&[u8]]) -> String {
        let mut masker = Masker::new(
            values.iter().copied(),
            DEFAULT_TOKEN_PREFIXES.iter().copied(),
        );
        let mut out = Vec::new();
        for chunk in chunks {
            masker.push(chunk, &mut out);
        }
        masker.finish(&mut out);
        String::from_utf8(out).unwrap()
    }

    fn check(values: &[&str], input: &str, expected: &str) {
        assert_eq!(
            mask_all(values, &[input.as_bytes()]),
            expected,
            "input {input:?}"
        );
    }

    #[test]
    fn masks_values_prefixes_and_parameters() {
        check(&["supersecret123"], "a supersecret123 b", "a [MASKED] b");
        check(
            &["secrets"],
            "secretssecrets ssecrets",
            "[MASKED][MASKED] s[MASKED]",
        );
        check(&[], "echo glpat-abcdefghijklmnop", "echo glpat-[MASKED]");
        check(&[], "glpat- x", "glpat- x");
        check(
            &[],
            "https://x/?private_token=abc&b=1",
            "https://x/?private_token=[MASKED]&b=1",
        );
        check(
            &[],
            "u?X-Amz-Signature=zz q",
            "u?X-Amz-Signature=[MASKED] q",
        );
        check(&["  padded  "], "xpaddedx", "x[MASKED]x");
        check(
            &["Job failed: exit code 1"],
            "ERROR: Job failed: exit code 1",
            "ERROR: [MASKED]",
        );
    }

    #[test]
    fn longer_value_wins_over_its_prefix() {
        check(&["abc", "abcdef"], "xabcdefx abcx", "x[MASKED]x [MASKED]x");
        assert_eq!(
            mask_all(&["abc", "abcdef"], &[b"xabc", b"def"]),
            "x[MASKED]"
        );
    }

    #[test]
    fn split_writes_are_masked() {
        assert_eq!(
            mask_all(&["supersecret"], &[b"a super", b"secret b"]),
            "a [MASKED] b"
        );
        assert_eq!(
            mask_all(&[], &[b"glp", b"at-abc", b"def xyz"]),
            "glpat-[MASKED] xyz"
        );
        assert_eq!(
            mask_all(&[], &[b"?private_", b"token=abc", b"def&x"]),
            "?private_token=[MASKED]&x"
        );
    }

    #[test]
    fn ordinary_output_is_released_at_once() {
        let mut masker = Masker::new(["supersecret"], DEFAULT_TOKEN_PREFIXES.iter().copied());
        let mut out = Vec::new();
        masker.push(b"hello world\n", &mut out);
        assert_eq!(out, b"hello world\n");
        masker.push(b"x sup", &mut out);
        assert_eq!(out, b"hello world\nx ");
    }
}
