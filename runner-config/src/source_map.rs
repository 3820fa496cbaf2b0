//! From key paths to places in the text: line/column of byte offsets, spans of keys and
//! values in the parsed table, and the dotted spelling of a path.

use std::ops::Range;

use toml::de::{DeTable, DeValue};

use crate::tracked::Segment;

/// Byte offsets of line starts, to turn an offset into a 1-based line and column.
pub(crate) struct LineIndex<'t> {
    text: &'t str,
    line_starts: Vec<usize>,
}

impl<'t> LineIndex<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(index, _)| index + 1))
            .collect();
        Self { text, line_starts }
    }

    /// The 1-based line and column (in characters) of a byte offset.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|start| *start <= offset);
        let line_start = self.line_starts[line - 1];
        let column = self.text[line_start..offset].chars().count() + 1;
        (line, column)
    }
}

/// The dotted spelling of a path: `runners[1].docker.memory`; keys that are not bare TOML
/// keys are quoted (`node_selector."kubernetes.io/os"`).
pub(crate) fn format_path(segments: &[Segment]) -> String {
    let mut text = String::new();
    for segment in segments {
        match segment {
            Segment::Key(key) => {
                if !text.is_empty() {
                    text.push('.');
                }
                let bare = !key.is_empty()
                    && key
                        .bytes()
                        .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
                if bare {
                    text.push_str(key);
                } else {
                    text.push_str(&format!("{key:?}"));
                }
            }
            Segment::Index(index) => text.push_str(&format!("[{index}]")),
        }
    }
    text
}

/// The spans of the key and of the value at `segments`, as far as the path can be followed
/// (the last entry found when the rest of the path is missing). Inside an array, the key
/// span stays the array's key.
pub(crate) fn lookup(
    root: &DeTable<'_>,
    segments: &[Segment],
) -> Option<(Range<usize>, Range<usize>)> {
    walk(root, segments).0
}

/// Like [`lookup`], but `None` unless the whole path is there.
pub(crate) fn lookup_exact(
    root: &DeTable<'_>,
    segments: &[Segment],
) -> Option<(Range<usize>, Range<usize>)> {
    match walk(root, segments) {
        (spans, true) => spans,
        (_, false) => None,
    }
}

/// The spans of a key and of its value.
type Spans = (Range<usize>, Range<usize>);

/// The spans [`lookup`] returns, and whether the whole path was followed.
fn walk(root: &DeTable<'_>, segments: &[Segment]) -> (Option<Spans>, bool) {
    let mut table = Some(root);
    let mut array: Option<&toml::de::DeArray<'_>> = None;
    let mut spans: Option<(Range<usize>, Range<usize>)> = None;
    for segment in segments {
        let value = match (segment, table, array) {
            (Segment::Key(key), Some(current), _) => match find_key(current, key) {
                Some((spanned_key, spanned_value)) => {
                    spans = Some((spanned_key.span(), spanned_value.span()));
                    spanned_value
                }
                None => return (spans, false),
            },
            (Segment::Index(index), _, Some(current)) => match current.get(*index) {
                Some(element) => {
                    let key_span = spans
                        .as_ref()
                        .map_or(element.span(), |(key_span, _)| key_span.clone());
                    spans = Some((key_span, element.span()));
                    element
                }
                None => return (spans, false),
            },
            _ => return (spans, false),
        };
        table = None;
        array = None;
        match value.get_ref() {
            DeValue::Table(inner) => table = Some(inner),
            DeValue::Array(inner) => array = Some(inner),
            _ => {}
        }
    }
    (spans, true)
}

/// The entry for `key`, or for a key equal to it ignoring ASCII case (validation names
/// fields by their canonical spelling, the file may use another case).
fn find_key<'a, 'i>(
    table: &'a DeTable<'i>,
    key: &str,
) -> Option<(
    &'a toml::Spanned<std::borrow::Cow<'i, str>>,
    &'a toml::Spanned<DeValue<'i>>,
)> {
    table.get_key_value(key).or_else(|| {
        table
            .iter()
            .find(|(candidate, _)| candidate.get_ref().eq_ignore_ascii_case(key))
    })
}

/// Removes the entry at `segments`, or the deepest table entry on that path (a whole array
/// when the path ends inside one). Returns whether something was removed.
pub(crate) fn remove(root: &mut DeTable<'_>, segments: &[Segment]) -> bool {
    // The deepest position in `segments` that is a key inside a table.
    let Some(last_key) = segments
        .iter()
        .rposition(|segment| matches!(segment, Segment::Key(_)))
    else {
        return false;
    };
    remove_at(root, &segments[..=last_key])
}

fn remove_at(table: &mut DeTable<'_>, segments: &[Segment]) -> bool {
    let Some((Segment::Key(key), rest)) = segments.split_first() else {
        return false;
    };
    if rest.is_empty() {
        return table.remove(key.as_str()).is_some();
    }
    let Some(value) = table.get_mut(key.as_str()) else {
        return false;
    };
    let removed = remove_in_value(value.get_mut(), rest);
    if !removed {
        // The rest of the path is not there (the structure differs from what serde saw);
        // remove this whole entry so decoding makes progress.
        return table.remove(key.as_str()).is_some();
    }
    true
}

fn remove_in_value(value: &mut DeValue<'_>, segments: &[Segment]) -> bool {
    match (value, segments.split_first()) {
        (DeValue::Table(table), Some((Segment::Key(_), _))) => remove_at(table, segments),
        (DeValue::Array(array), Some((Segment::Index(index), rest))) => match array.get_mut(*index)
        {
            Some(element) => remove_in_value(element.get_mut(), rest),
            None => false,
        },
        _ => false,
    }
}

/// Stands in for a duplicate key so that the text parses around it; no real key is
/// spelled like this.
const DUPLICATE_MARKER: &str = "__runner_config_duplicate_key_marker__";

/// The full path of the key at `span` that the parser rejected as a duplicate
/// (`runners[1].docker.image`), which [`path_at`] cannot find: the parser drops the second
/// definition, so no span in the parsed table covers it.
///
/// The key's text is replaced by a marker that cannot clash, the text parsed again, and
/// the marker's path in that table is the duplicate's path. This follows table headers,
/// arrays of tables, dotted keys and inline tables exactly as the parser does, without a
/// second TOML grammar here. `None` when `span` does not hold a key.
pub(crate) fn duplicate_key_path(text: &str, span: &Range<usize>) -> Option<Vec<Segment>> {
    let written = text.get(span.clone())?;
    if written.trim().is_empty() {
        return None;
    }
    // The key as the parser reads it (`"a b"` is `a b`), else as written.
    let name = DeTable::parse(&format!("{written} = 0"))
        .ok()
        .and_then(|table| {
            let mut keys = table.get_ref().iter();
            match (keys.next(), keys.next()) {
                (Some((key, _)), None) => Some(key.get_ref().to_string()),
                _ => None,
            }
        })
        .unwrap_or_else(|| written.to_owned());
    let patched = format!(
        "{}{DUPLICATE_MARKER}{}",
        &text[..span.start],
        &text[span.end..]
    );
    let (root, _) = DeTable::parse_recoverable(&patched);
    let mut path = Vec::new();
    if !find_marker(root.get_ref(), &mut path) {
        return None;
    }
    if let Some(last) = path.last_mut() {
        *last = Segment::Key(name);
    }
    Some(path)
}

/// Depth-first search for [`DUPLICATE_MARKER`]; on success `path` leads to it.
fn find_marker(table: &DeTable<'_>, path: &mut Vec<Segment>) -> bool {
    for (key, value) in table.iter() {
        path.push(Segment::Key(key.get_ref().to_string()));
        if key.get_ref() == DUPLICATE_MARKER || find_marker_in(value.get_ref(), path) {
            return true;
        }
        path.pop();
    }
    false
}

fn find_marker_in(value: &DeValue<'_>, path: &mut Vec<Segment>) -> bool {
    match value {
        DeValue::Table(table) => find_marker(table, path),
        DeValue::Array(array) => {
            for (index, element) in array.iter().enumerate() {
                path.push(Segment::Index(index));
                if find_marker_in(element.get_ref(), path) {
                    return true;
                }
                path.pop();
            }
            false
        }
        _ => false,
    }
}

/// The path of the innermost key whose key or value span contains `span`, for errors that
/// come with a span but no path (syntax errors).
pub(crate) fn path_at(root: &DeTable<'_>, span: &Range<usize>) -> Vec<Segment> {
    let mut best: (usize, Vec<Segment>) = (usize::MAX, Vec::new());
    let mut path = Vec::new();
    visit_table(root, span, &mut path, &mut best);
    best.1
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end.max(outer.start + 1)
}

fn visit_table(
    table: &DeTable<'_>,
    span: &Range<usize>,
    path: &mut Vec<Segment>,
    best: &mut (usize, Vec<Segment>),
) {
    for (key, value) in table.iter() {
        path.push(Segment::Key(key.get_ref().to_string()));
        for candidate in [key.span(), value.span()] {
            if contains(&candidate, span) && candidate.len() <= best.0 {
                *best = (candidate.len(), path.clone());
            }
        }
        visit_value(value.get_ref(), span, path, best);
        path.pop();
    }
}

fn visit_value(
    value: &DeValue<'_>,
    span: &Range<usize>,
    path: &mut Vec<Segment>,
    best: &mut (usize, Vec<Segment>),
) {
    match value {
        DeValue::Table(table) => visit_table(table, span, path, best),
        DeValue::Array(array) => {
            for (index, element) in array.iter().enumerate() {
                path.push(Segment::Index(index));
                let candidate = element.span();
                if contains(&candidate, span) && candidate.len() < best.0 {
                    *best = (candidate.len(), path.clone());
                }
                visit_value(element.get_ref(), span, path, best);
                path.pop();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let index = LineIndex::new("a = 1\nµ = \"x\"\n");
        assert_eq!(index.position(0), (1, 1));
        assert_eq!(index.position(4), (1, 5));
        assert_eq!(index.position(6), (2, 1));
        // After the two-byte `µ`, the space is the second character.
        assert_eq!(index.position(8), (2, 2));
    }

    #[test]
    fn paths_quote_keys_that_are_not_bare() {
        let path = [
            Segment::Key("runners".into()),
            Segment::Index(1),
            Segment::Key("kubernetes".into()),
            Segment::Key("node_selector".into()),
            Segment::Key("kubernetes.io/os".into()),
        ];
        assert_eq!(
            format_path(&path),
            "runners[1].kubernetes.node_selector.\"kubernetes.io/os\""
        );
    }

    #[test]
    fn lookup_follows_arrays_of_tables() {
        let text =
            "[[runners]]\nname = \"a\"\n[[runners]]\nname = \"b\"\n[runners.docker]\nmemory = 5\n";
        let root = DeTable::parse(text).unwrap();
        let path = [
            Segment::Key("runners".into()),
            Segment::Index(1),
            Segment::Key("docker".into()),
            Segment::Key("memory".into()),
        ];
        let (key, value) = lookup(root.get_ref(), &path).unwrap();
        assert_eq!(&text[key], "memory");
        assert_eq!(&text[value], "5");
    }

    fn duplicate_at(text: &str, line: usize) -> Option<String> {
        let (_, errors) = DeTable::parse_recoverable(text);
        let index = LineIndex::new(text);
        let error = errors
            .iter()
            .find(|error| index.position(error.span().unwrap_or(0..0).start).0 == line)?;
        duplicate_key_path(text, &error.span()?).map(|path| format_path(&path))
    }

    #[test]
    fn duplicate_keys_get_their_full_path() {
        let text = "concurrent = 1\nconcurrent = 2\n";
        assert_eq!(duplicate_at(text, 2).as_deref(), Some("concurrent"));
        let text = "[[runners]]\nname = \"a\"\n[[runners]]\nname = \"b\"\n[runners.docker]\nimage = \"x\"\nimage = \"y\"\n";
        assert_eq!(
            duplicate_at(text, 7).as_deref(),
            Some("runners[1].docker.image")
        );
        let text =
            "[[runners]]\n[runners.docker]\n[[runners]]\n[runners.docker]\n[runners.docker]\n";
        assert_eq!(duplicate_at(text, 5).as_deref(), Some("runners[1].docker"));
        let text = "[labels]\n\"a b\" = \"x\"\n\"a b\" = \"y\"\n";
        assert_eq!(duplicate_at(text, 3).as_deref(), Some("labels.\"a b\""));
        let text = "a.b = 1\na.b = 2\nc = { d = 1, d = 2 }\n";
        assert_eq!(duplicate_at(text, 2).as_deref(), Some("a.b"));
        assert_eq!(duplicate_at(text, 3).as_deref(), Some("c.d"));
    }

    #[test]
    fn remove_drops_the_deepest_key() {
        let text = "[[runners]]\n[runners.docker]\nvolumes = [\"/a\", 5]\nimage = \"x\"\n";
        let mut root = DeTable::parse(text).unwrap().into_inner();
        let path = [
            Segment::Key("runners".into()),
            Segment::Index(0),
            Segment::Key("docker".into()),
            Segment::Key("volumes".into()),
            Segment::Index(1),
        ];
        assert!(remove(&mut root, &path));
        let docker = &root["runners"].get_ref().as_array().unwrap()[0];
        let docker = docker.get_ref().as_table().unwrap()["docker"]
            .get_ref()
            .as_table()
            .unwrap();
        assert!(docker.get("volumes").is_none());
        assert!(docker.get("image").is_some());
    }
}
