//! Label sets rendered to exposition text once, when their series is recorded, instead of
//! label by label at every scrape.
//!
//! prometheus-client writes a derived label set in four or five pieces per label, and a histogram
//! repeats its labels on every bucket line: with 50 runners most of a scrape went into those
//! small writes. A [`RenderedLabels`] hands the encoder the same text in four pieces, whatever
//! the number of labels.

use std::fmt::Write as _;

use prometheus_client::encoding::{EncodeLabelSet, LabelSetEncoder};

/// An ordered label set kept as the text prometheus-client would write for it.
///
/// The text is `k1="v1",…,kN` with every value but the last escaped, followed by the last value
/// as given: the encoder's label-value writer escapes that one, so the output is byte for byte
/// what a derived `EncodeLabelSet` with the same fields writes. A family builds its label sets
/// with the same keys, and escaping is injective, so two of its label sets are equal exactly
/// when their values are: the text serves as the series key.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub(crate) struct RenderedLabels {
    text: Box<str>,
    /// Where the raw last value starts in `text`.
    last_value_at: usize,
}

impl RenderedLabels {
    /// Renders `labels` (key, value) in order; keys are written as given, like derived keys.
    pub(crate) fn new(labels: &[(&str, &str)]) -> Self {
        let Some(((last_key, last_value), leading)) = labels.split_last() else {
            return Self {
                text: Box::default(),
                last_value_at: 0,
            };
        };
        // Exact unless a value needs escaping, so the boxing below does not reallocate.
        let quotes_and_commas = 4 * leading.len();
        let length: usize = labels.iter().map(|(k, v)| k.len() + v.len()).sum();
        let mut text = String::with_capacity(length + quotes_and_commas);
        for (key, value) in leading {
            text.push_str(key);
            text.push_str("=\"");
            push_escaped(&mut text, value);
            text.push_str("\",");
        }
        text.push_str(last_key);
        let last_value_at = text.len();
        text.push_str(last_value);
        Self {
            text: text.into_boxed_str(),
            last_value_at,
        }
    }
}

impl EncodeLabelSet for RenderedLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder<'_>) -> Result<(), std::fmt::Error> {
        if self.text.is_empty() {
            return Ok(());
        }
        let (keys, last_value) = self.text.split_at(self.last_value_at);
        let mut label = encoder.encode_label();
        let mut key = label.encode_label_key()?;
        key.write_str(keys)?;
        let mut value = key.encode_label_value()?;
        value.write_str(last_value)?;
        value.finish()
    }
}

fn push_escaped(out: &mut String, value: &str) {
    // Writing to a `String` cannot fail.
    let _ = write_escaped(out, value);
}

/// prometheus-client's escaping of label values: backslash, double quote and newline. A value
/// without them, the usual case, is one write.
pub(crate) fn write_escaped(out: &mut impl std::fmt::Write, value: &str) -> std::fmt::Result {
    let mut rest = value;
    while let Some(at) = memchr::memchr3(b'\\', b'"', b'\n', rest.as_bytes()) {
        out.write_str(&rest[..at])?;
        out.write_str(match rest.as_bytes()[at] {
            b'\\' => "\\\\",
            b'"' => "\\\"",
            _ => "\\n",
        })?;
        rest = &rest[at + 1..];
    }
    out.write_str(rest)
}

/// Helpers for tests comparing hand-written label encodings with derived ones.
#[cfg(test)]
pub(crate) mod testing {
    use prometheus_client::encoding::EncodeLabelSet;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::histogram::Histogram;
    use prometheus_client::registry::Registry;

    /// Label values that need escaping or look like exposition syntax.
    pub(crate) const AWKWARD: [&str; 9] = [
        "",
        "plain",
        "q\"uote",
        "back\\slash",
        "new\nline",
        "\"\\\n",
        "λ unicode, comma=\"x\"",
        "trailing\\",
        "{}#",
    ];

    /// Encodes one series of a counter family and one of a histogram family (whose bucket
    /// lines add an `le` label before the family's) keyed by `labels`.
    pub(crate) fn exposition<L>(labels: L) -> String
    where
        L: EncodeLabelSet + Clone + std::hash::Hash + Eq + std::fmt::Debug + Send + Sync + 'static,
    {
        let mut registry = Registry::default();
        let counters = Family::<L, Counter>::default();
        counters.get_or_create(&labels).inc();
        registry.register("c", "C", counters);
        let histograms =
            Family::<L, Histogram, _>::new_with_constructor(|| Histogram::new([0.5, 1.0]));
        histograms.get_or_create(&labels).observe(0.7);
        registry.register("h", "H", histograms);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        text
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::EncodeLabelSet;

    use super::testing::{AWKWARD, exposition};
    use super::*;

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct Derived {
        runner: String,
        system_id: String,
        method: String,
    }

    #[test]
    fn same_text_as_a_derived_label_set() {
        for (i, runner) in AWKWARD.iter().enumerate() {
            for system_id in AWKWARD {
                let method = AWKWARD[(i + 3) % AWKWARD.len()];
                let derived = Derived {
                    runner: (*runner).to_owned(),
                    system_id: system_id.to_owned(),
                    method: method.to_owned(),
                };
                let rendered = RenderedLabels::new(&[
                    ("runner", runner),
                    ("system_id", system_id),
                    ("method", method),
                ]);
                assert_eq!(exposition(rendered), exposition(derived));
            }
        }
    }

    #[test]
    fn single_and_empty_label_sets() {
        #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
        struct One {
            level: String,
        }
        for value in AWKWARD {
            let rendered = RenderedLabels::new(&[("level", value)]);
            let derived = One {
                level: value.to_owned(),
            };
            assert_eq!(exposition(rendered), exposition(derived));
        }
        let empty: [(&str, &str); 0] = [];
        assert_eq!(
            exposition(RenderedLabels::new(&[])),
            exposition(empty),
            "no labels"
        );
    }

    #[test]
    fn equal_exactly_when_values_are() {
        let a = RenderedLabels::new(&[("a", "x\",b=\"y"), ("b", "z")]);
        let b = RenderedLabels::new(&[("a", "x"), ("b", "y\",b=\"z")]);
        assert_ne!(a, b);
        assert_eq!(a, RenderedLabels::new(&[("a", "x\",b=\"y"), ("b", "z")]));
    }
}
