//! Which shell a stage script is written for: bash, POSIX `sh`, or either one found at run
//! time (upstream-details.md §8.4, executors.md §4.11).

use crate::script::escape::{escape, escape_posix};

/// The shell a backend's stage scripts are generated for ([`crate::Backend::script_shell`]).
///
/// ```
/// use runner_executor::ScriptShell;
/// assert_eq!(ScriptShell::for_configured_shell("sh"), Some(ScriptShell::Sh));
/// assert_eq!(ScriptShell::for_configured_shell(""), Some(ScriptShell::Bash));
/// assert_eq!(ScriptShell::for_configured_shell("pwsh"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptShell {
    /// Bash: ANSI-C quoting, `echo`, upstream's script text.
    Bash,
    /// A POSIX `sh` such as dash or busybox ash: single quotes and `printf`, nothing else.
    /// Bash runs these scripts too.
    Sh,
    /// Whichever of the two runs the script, as the container executors' shell-detection
    /// program picks bash when the image has it and `sh` otherwise. The script holds both
    /// versions; a shell that is not bash runs the `sh` one and exits before reading the rest.
    Detected,
}

impl ScriptShell {
    /// The shell for a `config.toml` `shell` value (empty means bash); `None` for shells that
    /// are not generated here (PowerShell).
    pub fn for_configured_shell(shell: &str) -> Option<Self> {
        match shell {
            "" | "bash" => Some(Self::Bash),
            "sh" => Some(Self::Sh),
            _ => None,
        }
    }

    /// The program's name, as in `Using Shell (<name>) executor...`; for
    /// [`ScriptShell::Detected`] the preferred one, bash.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bash | Self::Detected => "bash",
            Self::Sh => "sh",
        }
    }
}

/// The syntax one script body is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Dialect {
    /// Bash, with upstream's ANSI-C `$'...'` quoting.
    #[default]
    Bash,
    /// POSIX sh: `'...'` quoting, and `printf` where bash scripts `echo` (dash's `echo`
    /// interprets backslashes, so it would change the text printed).
    Sh,
}

impl Dialect {
    /// `text` as one word.
    pub(crate) fn quote(self, text: &str) -> String {
        match self {
            Self::Bash => escape(text),
            Self::Sh => escape_posix(text),
        }
    }

    /// A command printing `text` and a newline, byte for byte.
    pub(crate) fn print_line(self, text: &str) -> String {
        match self {
            Self::Bash => format!("echo {}", escape(text)),
            Self::Sh => format!("printf '%s\\n' {}", escape_posix(text)),
        }
    }

    /// The shebang line.
    pub(crate) fn shebang(self) -> &'static str {
        match self {
            Self::Bash => "#!/usr/bin/env bash",
            Self::Sh => "#!/usr/bin/env sh",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_lines_survive_dash_and_bash_unchanged() {
        let text = "\x1b[32;1m$ echo 'a\\nb' \"$HOME\" `x`\x1b[0;m";
        for (shell, dialect) in [("bash", Dialect::Bash), ("sh", Dialect::Sh)] {
            let output = std::process::Command::new(shell)
                .arg("-c")
                .arg(dialect.print_line(text))
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&output.stdout),
                format!("{text}\n"),
                "{shell}"
            );
        }
    }
}
