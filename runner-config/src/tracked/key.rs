//! Decoding of map keys: each key is remembered for the path and, inside a struct,
//! resolved against the field names (exact match, then ASCII case-insensitive match, else
//! recorded as unknown).

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, Visitor};

use super::{Path, Segment, Tracker};

/// Decodes a map key: remembers it, and resolves it against the struct's fields.
pub(super) struct KeySeed<'a, 't, S> {
    pub(super) inner: S,
    pub(super) fields: Option<&'static [&'static str]>,
    pub(super) tracker: &'t RefCell<Tracker>,
    pub(super) parent: &'a Path,
    pub(super) key: &'a mut Option<String>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for KeySeed<'_, '_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        let resolver = KeyResolver {
            fields: self.fields,
            tracker: self.tracker,
            parent: self.parent,
            key: self.key,
        };
        self.inner.deserialize(KeyDeserializer {
            inner: deserializer,
            resolver,
        })
    }
}

struct KeyResolver<'a, 't> {
    fields: Option<&'static [&'static str]>,
    tracker: &'t RefCell<Tracker>,
    parent: &'a Path,
    key: &'a mut Option<String>,
}

impl KeyResolver<'_, '_> {
    /// Records `written` and returns the name to hand to the field visitor.
    fn resolve<'s>(&mut self, written: &'s str) -> &'s str {
        *self.key = Some(written.to_owned());
        let Some(fields) = self.fields else {
            return written;
        };
        if fields.contains(&written) {
            return written;
        }
        let path = || self.parent.push(Segment::Key(written.to_owned())).to_vec();
        match fields
            .iter()
            .copied()
            .find(|field| field.eq_ignore_ascii_case(written))
        {
            Some(field) => {
                self.tracker.borrow_mut().case_folded.push((path(), field));
                field
            }
            None => {
                self.tracker.borrow_mut().unknown.push(path());
                written
            }
        }
    }
}

struct KeyDeserializer<'a, 't, D> {
    inner: D,
    resolver: KeyResolver<'a, 't>,
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for KeyDeserializer<'_, '_, D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_any(KeyVisitor {
            inner: visitor,
            resolver: self.resolver,
        })
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_identifier(KeyVisitor {
            inner: visitor,
            resolver: self.resolver,
        })
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_str(KeyVisitor {
            inner: visitor,
            resolver: self.resolver,
        })
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_string(KeyVisitor {
            inner: visitor,
            resolver: self.resolver,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf option
        unit unit_struct newtype_struct seq tuple tuple_struct map struct enum ignored_any
    }
}

struct KeyVisitor<'a, 't, V> {
    inner: V,
    resolver: KeyResolver<'a, 't>,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for KeyVisitor<'_, '_, V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(formatter)
    }

    fn visit_str<E: de::Error>(mut self, value: &str) -> Result<Self::Value, E> {
        let resolved = self.resolver.resolve(value);
        self.inner.visit_str(resolved)
    }

    fn visit_borrowed_str<E: de::Error>(mut self, value: &'de str) -> Result<Self::Value, E> {
        let resolved = self.resolver.resolve(value);
        if std::ptr::eq(resolved, value) {
            self.inner.visit_borrowed_str(value)
        } else {
            self.inner.visit_str(resolved)
        }
    }

    fn visit_string<E: de::Error>(mut self, value: String) -> Result<Self::Value, E> {
        let resolved = self.resolver.resolve(&value);
        if std::ptr::eq(resolved, value.as_str()) {
            self.inner.visit_string(value)
        } else {
            let resolved = resolved.to_owned();
            self.inner.visit_string(resolved)
        }
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        self.inner.visit_i64(value)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        self.inner.visit_u64(value)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        self.inner.visit_bool(value)
    }
}
