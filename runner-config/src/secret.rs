//! [`Secret`] is `runner_core::Secret` (with its `serde` feature): the one secret type of
//! the runner. A secret reads and writes as a plain TOML string.

pub use runner_core::Secret;

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;

    #[test]
    fn serializes_as_a_plain_string() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Holder {
            token: Secret,
        }
        let text = toml::to_string(&Holder {
            token: Secret::new("abc"),
        })
        .unwrap();
        assert_eq!(text, "token = \"abc\"\n");
        let back: Holder = toml::from_str(&text).unwrap();
        assert_eq!(back.token.expose(), "abc");
    }
}
