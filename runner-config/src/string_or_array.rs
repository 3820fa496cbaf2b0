//! [`StringOrArray`]: a key that takes either one string or an array of strings.

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Upstream's `StringOrArray`, used by `pull_policy`: `"always"` and `["always"]` mean the
/// same. A non-string element fails the load with upstream's message
/// `cannot load value of type <type> into a StringOrArray`.
///
/// It is always written back as an array.
///
/// ```
/// use runner_config::StringOrArray;
///
/// #[derive(serde::Deserialize)]
/// struct Docker { pull_policy: StringOrArray }
///
/// let one: Docker = toml::from_str(r#"pull_policy = "always""#)?;
/// let many: Docker = toml::from_str(r#"pull_policy = ["if-not-present", "always"]"#)?;
/// assert_eq!(one.pull_policy.as_slice(), ["always"]);
/// assert_eq!(many.pull_policy.as_slice(), ["if-not-present", "always"]);
/// # Ok::<(), toml::de::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct StringOrArray(pub Vec<String>);

impl StringOrArray {
    /// The values, in the order written.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// Whether no value was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<String>> for StringOrArray {
    fn from(values: Vec<String>) -> Self {
        Self(values)
    }
}

impl Serialize for StringOrArray {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for StringOrArray {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StringOrArrayVisitor)
    }
}

struct StringOrArrayVisitor;

fn type_error<E: de::Error>(type_name: &str) -> E {
    E::custom(format!(
        "cannot load value of type {type_name} into a StringOrArray"
    ))
}

impl<'de> Visitor<'de> for StringOrArrayVisitor {
    type Value = StringOrArray;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a string or an array of strings")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(StringOrArray(vec![value.to_owned()]))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut values = Vec::new();
        while let Some(element) = seq.next_element::<Element>()? {
            values.push(element.0);
        }
        Ok(StringOrArray(values))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Err(type_error("int64"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Err(type_error("int64"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(type_error("float64"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Err(type_error("bool"))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(type_error("map[string]interface {}"))
    }
}

/// One array element: only strings are accepted, with upstream's message otherwise.
struct Element(String);

impl<'de> Deserialize<'de> for Element {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ElementVisitor;
        impl<'de> Visitor<'de> for ElementVisitor {
            type Value = Element;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Element, E> {
                Ok(Element(value.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Element, E> {
                Err(type_error("int64"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Element, E> {
                Err(type_error("int64"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Element, E> {
                Err(type_error("float64"))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Element, E> {
                Err(type_error("bool"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Element, A::Error> {
                Err(type_error("[]interface {}"))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<Element, A::Error> {
                Err(type_error("map[string]interface {}"))
            }
        }
        deserializer.deserialize_any(ElementVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    struct Holder {
        #[expect(dead_code, reason = "only the decoding error matters")]
        pull_policy: StringOrArray,
    }

    #[test]
    fn non_string_element_uses_upstream_message() {
        let error = toml::from_str::<Holder>("pull_policy = [\"always\", 3]").unwrap_err();
        assert!(
            error
                .message()
                .contains("cannot load value of type int64 into a StringOrArray"),
            "{error}"
        );
    }

    #[test]
    fn non_string_value_uses_upstream_message() {
        let error = toml::from_str::<Holder>("pull_policy = true").unwrap_err();
        assert!(
            error
                .message()
                .contains("cannot load value of type bool into a StringOrArray"),
            "{error}"
        );
    }
}
