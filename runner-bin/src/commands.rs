//! One module per command; `lib.rs` dispatches to them.

pub(crate) mod exec;
pub(crate) mod lint;
pub(crate) mod list;
pub(crate) mod register;
pub(crate) mod registration;
pub(crate) mod reset_token;
pub(crate) mod run_single;
pub(crate) mod service_control;
pub(crate) mod unregister;
pub(crate) mod verify;
