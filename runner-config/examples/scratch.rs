fn main() {
    let path = std::env::args().nth(1).unwrap();
    match runner_config::load(&path) {
        Ok(loaded) => {
            for w in &loaded.warnings { eprintln!("warning: {w}"); }
            eprintln!("OK: {} runners", loaded.config.runners.len());
        }
        Err(e) => { eprintln!("{e}"); for w in e.warnings() { eprintln!("warning: {w}"); } }
    }
}
