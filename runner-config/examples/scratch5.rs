//! scratch timing
use std::time::Instant;
fn main() {
    let text = std::fs::read_to_string("/tmp/bench.toml").unwrap();
    let n = 400;
    for round in 0..2 {
    let t = Instant::now();
    for _ in 0..n { let _ = toml::de::DeTable::parse(&text).unwrap(); }
    let parse = t.elapsed() / n;
    let t = Instant::now();
    for _ in 0..n { let _: runner_config::Config = toml::from_str(&text).unwrap(); }
    let from_str = t.elapsed() / n;
    let t = Instant::now();
    for _ in 0..n { let _ = runner_config::load_str(&text, "x").unwrap(); }
    let load = t.elapsed() / n;
    let config = runner_config::load_str(&text, "x").unwrap().config;
    let t = Instant::now();
    for _ in 0..n { let _ = config.clone(); }
    let clone = t.elapsed() / n;
    eprintln!("round {round}: parse {parse:?} from_str {from_str:?} load {load:?} clone {clone:?}");
    }
}
