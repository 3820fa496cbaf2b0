//! Property tests of the streaming masker: no split of the input lets a secret through.

use crate::trace::mask::Masker;
use proptest::prelude::*;

/// Few short secrets (plain automaton) or many 4+ byte ones (4-byte filter, stride 1 to 8).
fn secrets() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        prop::collection::vec("[abc]{1,6}", 1..5),
        prop::collection::vec("[abc]{4,7}", 20..40),
        prop::collection::vec("[abc]{8,12}", 20..40),
    ]
}

fn text(secrets: Vec<String>) -> impl Strategy<Value = (Vec<String>, Vec<u8>)> {
    let mut pieces: Vec<String> = secrets.clone();
    pieces.extend(
        [
            "glpat-",
            "?private_token=",
            "&",
            "x",
            " ",
            "a",
            "b",
            "c",
            "-",
            "gl",
        ]
        .map(String::from),
    );
    prop::collection::vec(prop::sample::select(pieces), 0..40)
        .prop_map(move |parts| (secrets.clone(), parts.concat().into_bytes()))
}

fn split(text: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (text.len() + 1)).collect();
    points.sort_unstable();
    let mut chunks = Vec::new();
    let mut last = 0;
    for point in points {
        chunks.push(text[last..point].to_vec());
        last = point;
    }
    chunks.push(text[last..].to_vec());
    chunks
}

fn mask_chunks(secrets: &[String], chunks: &[Vec<u8>]) -> Vec<u8> {
    let mut masker = Masker::new(secrets.iter().map(String::as_str), ["glpat-"]);
    let mut out = Vec::new();
    for chunk in chunks {
        masker.push(chunk, &mut out);
    }
    masker.finish(&mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn no_secret_survives_any_split(
        (secrets, text) in secrets().prop_flat_map(text),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let out = mask_chunks(&secrets, &split(&text, &cuts));
        let out = String::from_utf8(out).unwrap();
        for secret in &secrets {
            prop_assert!(!out.contains(secret.as_str()), "{secret:?} leaked in {out:?}");
        }
    }

    #[test]
    fn output_does_not_depend_on_the_split(
        (secrets, text) in secrets().prop_flat_map(text),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let whole = mask_chunks(&secrets, std::slice::from_ref(&text));
        let pieces = mask_chunks(&secrets, &split(&text, &cuts));
        prop_assert_eq!(String::from_utf8(whole).unwrap(), String::from_utf8(pieces).unwrap());
    }
}
