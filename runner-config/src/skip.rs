//! `skip_serializing_if` predicates that reproduce upstream's `omitempty`/`omitzero` rules.
//!
//! Upstream's encoder skips empty strings, `false` and empty collections for `omitempty`,
//! and numeric zero for `omitzero`; the model's serde attributes use these helpers so that
//! a serialized entry has the keys upstream would write.

pub(crate) fn is_zero(value: &i64) -> bool {
    *value == 0
}

pub(crate) fn is_false(value: &bool) -> bool {
    !*value
}

pub(crate) fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}
