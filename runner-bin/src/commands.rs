//! One module per command; `lib.rs` dispatches to them.

pub(crate) mod lint;
pub(crate) mod list;
