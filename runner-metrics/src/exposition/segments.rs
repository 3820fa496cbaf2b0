//! Splitting exposition text into comment lines and runs of sample lines.
//!
//! A scrape is ~700 KB of samples and ~150 comment lines, so the scan for the next comment
//! dominates the conversion: it uses `memchr`'s vectorised searches instead of `str::find`.

use std::sync::LazyLock;

use memchr::memchr;
use memchr::memmem::Finder;

/// A piece of exposition text: one comment line (without its newline) or a run of sample
/// lines (with their newlines).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Segment<'a> {
    Comment(&'a str),
    Samples(&'a str),
}

/// The end of a run of samples: a newline followed by a comment. Built once, because building
/// a searcher costs more than one search through a small exposition.
static COMMENT_AFTER_NEWLINE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\n#"));

/// The segments of `text`, in order; concatenated with the comments' newlines they give back
/// `text`. A line is a comment when it starts with `#`.
pub(super) fn segments(text: &str) -> impl Iterator<Item = Segment<'_>> {
    let finder: &Finder<'static> = &COMMENT_AFTER_NEWLINE;
    let mut position = 0;
    std::iter::from_fn(move || {
        let rest = text.get(position..).filter(|rest| !rest.is_empty())?;
        let bytes = rest.as_bytes();
        // Both searches stop at ASCII bytes, so every cut below is on a char boundary.
        if bytes.first() == Some(&b'#') {
            let end = memchr(b'\n', bytes).map_or(rest.len(), |i| i + 1);
            position += end;
            let line = &rest[..end];
            Some(Segment::Comment(line.strip_suffix('\n').unwrap_or(line)))
        } else {
            let end = finder.find(bytes).map_or(rest.len(), |i| i + 1);
            position += end;
            Some(Segment::Samples(&rest[..end]))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_sample_runs() {
        let text = "# HELP a A.\n# TYPE a gauge\na 1\na{x=\"#\"} 2\n# EOF\n";
        let found: Vec<Segment<'_>> = segments(text).collect();
        assert_eq!(
            found,
            [
                Segment::Comment("# HELP a A."),
                Segment::Comment("# TYPE a gauge"),
                Segment::Samples("a 1\na{x=\"#\"} 2\n"),
                Segment::Comment("# EOF"),
            ]
        );
    }

    #[test]
    fn text_without_final_newline() {
        let found: Vec<Segment<'_>> = segments("a 1\n# EOF").collect();
        assert_eq!(
            found,
            [Segment::Samples("a 1\n"), Segment::Comment("# EOF")]
        );
        let found: Vec<Segment<'_>> = segments("a 1").collect();
        assert_eq!(found, [Segment::Samples("a 1")]);
        assert_eq!(segments("").count(), 0);
    }

    /// The segmenter before `memchr`: the straightforward `str::find` version.
    fn reference(text: &str) -> Vec<Segment<'_>> {
        let mut position = 0;
        std::iter::from_fn(move || {
            let rest = text.get(position..).filter(|rest| !rest.is_empty())?;
            if rest.starts_with('#') {
                let end = rest.find('\n').map_or(rest.len(), |i| i + 1);
                position += end;
                Some(Segment::Comment(rest[..end].trim_end_matches('\n')))
            } else {
                let end = rest.find("\n#").map_or(rest.len(), |i| i + 1);
                position += end;
                Some(Segment::Samples(&rest[..end]))
            }
        })
        .collect()
    }

    proptest::proptest! {
        #[test]
        fn same_segments_as_the_straightforward_scan(text in "([#a{}\"\n λ]|\n#|# HELP |\n\n)*") {
            proptest::prop_assert_eq!(segments(&text).collect::<Vec<_>>(), reference(&text));
        }
    }
}
