//! Property tests: the model round-trips through TOML and edits keep other bytes intact.

use proptest::prelude::*;
use runner_config::test_util::{GeneratedDocument, arb_config, arb_document, arb_runner};
use runner_config::{
    Config, ConfigDocument, RunnerSelector, Secret, Timestamp, WarningKind, load_str,
};

fn assert_no_key_warnings(loaded: &runner_config::Loaded) {
    let key_warnings: Vec<_> = loaded
        .warnings
        .iter()
        .filter(|warning| warning.kind() != WarningKind::Suspicious)
        .collect();
    assert!(key_warnings.is_empty(), "{key_warnings:#?}");
}

/// The length of the common prefix and of the common suffix (not overlapping the prefix).
fn common_ends(old: &str, new: &str) -> (usize, usize) {
    let prefix = old
        .bytes()
        .zip(new.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    let suffix = old[prefix..]
        .bytes()
        .rev()
        .zip(new[prefix..].bytes().rev())
        .take_while(|(a, b)| a == b)
        .count();
    (prefix, suffix)
}

proptest! {
    #[test]
    fn any_valid_model_serialises_and_parses_back_equal(config in arb_config()) {
        let text = toml::to_string(&config).unwrap();
        let loaded = load_str(&text, "roundtrip.toml").unwrap_or_else(|error| panic!("{error}\n{text}"));
        assert_no_key_warnings(&loaded);
        prop_assert_eq!(loaded.config, config);
    }

    #[test]
    fn added_runners_load_back_equal(runners in proptest::collection::vec(arb_runner(), 1..4)) {
        let mut document = ConfigDocument::new("config.toml");
        for runner in &runners {
            document.add_runner(runner).unwrap();
        }
        let loaded = document.to_config().unwrap_or_else(|error| panic!("{error}\n{document}"));
        assert_no_key_warnings(&loaded);
        prop_assert_eq!(loaded.config.runners, runners);
        prop_assert_eq!(loaded.config.concurrent, Config::default().concurrent);
    }

    #[test]
    fn adding_a_runner_inserts_one_chunk_before_the_trailer(generated in arb_document(), runner in arb_runner()) {
        let old = generated.text();
        let mut document = ConfigDocument::parse(&old, "config.toml").unwrap();
        prop_assert_eq!(document.to_string(), old.clone());
        document.add_runner(&runner).unwrap();
        let new = document.to_string();
        let insertion_point = old.len() - generated.trailer.len();
        prop_assert!(new.starts_with(&old[..insertion_point]), "{}", new);
        prop_assert!(new.ends_with(&generated.trailer), "{}", new);
        prop_assert_eq!(new.len() > old.len(), true);
        let loaded = document.to_config().unwrap();
        prop_assert_eq!(loaded.config.runners.last(), Some(&runner));
        prop_assert_eq!(loaded.config.runners.len(), generated.entries.len() + 1);
    }

    #[test]
    fn removing_a_runner_cuts_exactly_its_bytes(generated in arb_document(), pick in any::<prop::sample::Index>()) {
        prop_assume!(!generated.entries.is_empty());
        let index = pick.index(generated.entries.len());
        let old = generated.text();
        let mut document = ConfigDocument::parse(&old, "config.toml").unwrap();
        let name = GeneratedDocument::entry_name(index);
        let selector = if index % 2 == 0 { RunnerSelector::Name(&name) } else { RunnerSelector::Index(index) };
        document.remove_runner(&selector).unwrap();
        let range = generated.entry_range(index);
        let expected = format!("{}{}", &old[..range.start], &old[range.end..]);
        prop_assert_eq!(document.to_string(), expected);
    }

    #[test]
    fn updating_a_token_changes_only_bytes_of_that_entry(
        generated in arb_document(),
        pick in any::<prop::sample::Index>(),
        token in "[a-zA-Z0-9_-]{1,30}",
        obtained in 0i64..4_000_000_000,
    ) {
        prop_assume!(!generated.entries.is_empty());
        let index = pick.index(generated.entries.len());
        let old = generated.text();
        let mut document = ConfigDocument::parse(&old, "config.toml").unwrap();
        let obtained_at = Timestamp::from_unix(obtained, 0);
        document
            .update_token(&RunnerSelector::Index(index), &Secret::new(token.clone()), obtained_at, Timestamp::ZERO)
            .unwrap();
        let new = document.to_string();
        let range = generated.entry_range(index);
        let (prefix, suffix) = common_ends(&old, &new);
        prop_assert!(prefix >= range.start, "changed before the entry: {}", new);
        prop_assert!(suffix >= old.len() - range.end, "changed after the entry: {}", new);
        let config = document.to_config().unwrap().config;
        prop_assert_eq!(config.runners[index].token.expose(), token.as_str());
        prop_assert_eq!(config.runners[index].token_obtained_at, obtained_at);
        for (other, runner) in config.runners.iter().enumerate().filter(|(other, _)| *other != index) {
            let expected = format!("glrt-token-{other}");
            prop_assert_eq!(runner.token.expose(), expected.as_str());
        }
    }

    #[test]
    fn the_loader_never_panics(text in "[\\[\\]a-z_=\"'.,0-9 \n#{}-]{0,200}") {
        let _ = load_str(&text, "fuzz.toml");
    }
}
