//! `$VAR` / `${VAR}` expansion of `config.toml` values with Go's `os.Expand` rules
//! (`runner_core::expand_os`).

pub(crate) use runner_core::expand_os as expand;
