//! A serde `Deserializer` adapter that follows the key path while a config is decoded.
//!
//! It does three things the derived `Deserialize` impls cannot: it matches a key that
//! differs only in ASCII case to its field (upstream's decoder does, so `Concurrent = 2` and
//! `type = "s3"` work), it records every key no field claims (reported as warnings, seed
//! requirement F7), and it records the path of the innermost value that failed to decode,
//! so that the loader can name the key, drop it and decode again to find the next problem.
//!
//! `serde_ignored` reports ignored keys but cannot fold case, and folding needs the struct's
//! field list, which only a wrapper around `deserialize_struct` sees; so one adapter does
//! both.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use key::KeySeed;

mod key;

/// One step of a key path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Segment {
    Key(String),
    Index(usize),
}

/// What the adapter saw during one decoding pass.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    /// Paths of keys that match no field, as written in the file.
    pub(crate) unknown: Vec<Vec<Segment>>,
    /// Paths of keys that matched a field only case-insensitively, with the field's name.
    pub(crate) case_folded: Vec<(Vec<Segment>, &'static str)>,
    /// Path of the innermost value whose decoding failed.
    pub(crate) error_path: Option<Vec<Segment>>,
}

/// Decodes `T` from `deserializer`, recording into `tracker`.
pub(crate) fn deserialize<'de, T, D>(
    deserializer: D,
    tracker: &RefCell<Tracker>,
) -> Result<T, D::Error>
where
    T: de::Deserialize<'de>,
    D: Deserializer<'de>,
{
    T::deserialize(Tracked {
        inner: deserializer,
        path: Path::default(),
        tracker,
    })
}

/// A persistent list of segments, cheap to extend and share.
#[derive(Clone, Default)]
struct Path(Option<Rc<Node>>);

struct Node {
    parent: Path,
    segment: Segment,
}

impl Path {
    fn push(&self, segment: Segment) -> Self {
        Self(Some(Rc::new(Node {
            parent: self.clone(),
            segment,
        })))
    }

    fn to_vec(&self) -> Vec<Segment> {
        let mut segments = Vec::new();
        let mut current = &self.0;
        while let Some(node) = current {
            segments.push(node.segment.clone());
            current = &node.parent.0;
        }
        segments.reverse();
        segments
    }
}

fn record_error(tracker: &RefCell<Tracker>, path: &Path) {
    let mut tracker = tracker.borrow_mut();
    if tracker.error_path.is_none() {
        tracker.error_path = Some(path.to_vec());
    }
}

struct Tracked<'t, D> {
    inner: D,
    path: Path,
    tracker: &'t RefCell<Tracker>,
}

impl<'t, D> Tracked<'t, D> {
    fn visitor<V>(path: Path, tracker: &'t RefCell<Tracker>, visitor: V) -> TrackedVisitor<'t, V> {
        TrackedVisitor {
            inner: visitor,
            path,
            tracker,
            fields: None,
        }
    }
}

macro_rules! forward_deserialize {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            let visitor = Self::visitor(self.path, self.tracker, visitor);
            self.inner.$method(visitor)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Tracked<'_, D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = Self::visitor(self.path, self.tracker, visitor);
        self.inner.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = Self::visitor(self.path, self.tracker, visitor);
        self.inner.deserialize_newtype_struct(name, visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = Self::visitor(self.path, self.tracker, visitor);
        self.inner.deserialize_tuple(len, visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = Self::visitor(self.path, self.tracker, visitor);
        self.inner.deserialize_tuple_struct(name, len, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = TrackedVisitor {
            inner: visitor,
            path: self.path,
            tracker: self.tracker,
            fields: Some(fields),
        };
        self.inner.deserialize_struct(name, fields, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = Self::visitor(self.path, self.tracker, visitor);
        self.inner.deserialize_enum(name, variants, visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

struct TrackedVisitor<'t, V> {
    inner: V,
    path: Path,
    tracker: &'t RefCell<Tracker>,
    /// The field names when the visitor belongs to a struct.
    fields: Option<&'static [&'static str]>,
}

macro_rules! forward_visit {
    ($($method:ident: $type:ty)*) => {$(
        fn $method<E: de::Error>(self, value: $type) -> Result<Self::Value, E> {
            self.inner.$method(value)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for TrackedVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(formatter)
    }

    forward_visit! {
        visit_bool: bool visit_i8: i8 visit_i16: i16 visit_i32: i32 visit_i64: i64
        visit_i128: i128 visit_u8: u8 visit_u16: u16 visit_u32: u32 visit_u64: u64
        visit_u128: u128 visit_f32: f32 visit_f64: f64 visit_char: char
        visit_str: &str visit_borrowed_str: &'de str visit_string: String
        visit_bytes: &[u8] visit_borrowed_bytes: &'de [u8] visit_byte_buf: Vec<u8>
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_some(Tracked {
            inner: deserializer,
            path: self.path,
            tracker: self.tracker,
        })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        self.inner.visit_newtype_struct(Tracked {
            inner: deserializer,
            path: self.path,
            tracker: self.tracker,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_seq(TrackedSeq {
            inner: seq,
            path: self.path,
            tracker: self.tracker,
            index: 0,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_map(TrackedMap {
            inner: map,
            path: self.path,
            tracker: self.tracker,
            fields: self.fields,
            key: None,
        })
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_enum(data)
    }
}

struct TrackedSeq<'t, A> {
    inner: A,
    path: Path,
    tracker: &'t RefCell<Tracker>,
    index: usize,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for TrackedSeq<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        let path = self.path.push(Segment::Index(self.index));
        self.index += 1;
        let seed = TrackedSeed {
            inner: seed,
            path: path.clone(),
            tracker: self.tracker,
        };
        let result = self.inner.next_element_seed(seed);
        if result.is_err() {
            record_error(self.tracker, &path);
        }
        result
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

struct TrackedMap<'t, A> {
    inner: A,
    path: Path,
    tracker: &'t RefCell<Tracker>,
    fields: Option<&'static [&'static str]>,
    /// The key of the entry being decoded, as written in the file.
    key: Option<String>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for TrackedMap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.key = None;
        let seed = KeySeed {
            inner: seed,
            fields: self.fields,
            tracker: self.tracker,
            parent: &self.path,
            key: &mut self.key,
        };
        let result = self.inner.next_key_seed(seed);
        if result.is_err() {
            record_error(self.tracker, &self.path);
        }
        result
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        let key = self.key.take().unwrap_or_default();
        let path = self.path.push(Segment::Key(key));
        let seed = TrackedSeed {
            inner: seed,
            path: path.clone(),
            tracker: self.tracker,
        };
        let result = self.inner.next_value_seed(seed);
        if result.is_err() {
            record_error(self.tracker, &path);
        }
        result
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

struct TrackedSeed<'t, S> {
    inner: S,
    path: Path,
    tracker: &'t RefCell<Tracker>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for TrackedSeed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.inner.deserialize(Tracked {
            inner: deserializer,
            path: self.path,
            tracker: self.tracker,
        })
    }
}
