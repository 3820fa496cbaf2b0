//! Entry point of `gitlab-runner-rs`; all logic is in the `runner_bin` library.

fn main() -> std::process::ExitCode {
    runner_bin::main_entry()
}
