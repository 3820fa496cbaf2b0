//! [`ScriptBody`]: builds a stage body line by line and wraps it in upstream's bash envelope (§4.1, §4.6).

use crate::script::escape::escape;
use crate::trace::writer::ansi;

/// The commands of one stage, before the envelope.
#[derive(Debug, Default, Clone)]
pub(crate) struct ScriptBody {
    text: String,
}

impl ScriptBody {
    /// A line emitted verbatim.
    pub(crate) fn line(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
    }

    /// `echo` of a bold green notice.
    pub(crate) fn notice(&mut self, text: &str) {
        self.echo(ansi::GREEN, text);
    }

    fn echo(&mut self, prefix: &str, text: &str) {
        let line = format!("echo {}", escape(&format!("{prefix}{text}{}", ansi::RESET)));
        self.line(&line);
    }

    /// A user command (§4.6): echoed in green with `$ `, then run.
    pub(crate) fn command(&mut self, command: &str) {
        let command = command.trim();
        if command.is_empty() {
            self.line("echo");
            return;
        }
        let shown = match command.split_once('\n') {
            None => command.to_owned(),
            Some((first, _)) => format!("{} # collapsed multi-line command", first.trim_end()),
        };
        self.echo(ansi::GREEN, &format!("$ {shown}"));
        self.line(command);
    }

    /// `export KEY=<value>`.
    pub(crate) fn export(&mut self, key: &str, value: &str) {
        self.line(&format!("export {key}={}", escape(value)));
    }

    /// `cd` into `dir`; failure ends the stage.
    pub(crate) fn cd(&mut self, dir: &str) {
        self.line(&format!("cd {}", escape(dir)));
    }

    /// The complete script: shebang, TERM trap, options, the body `eval`ed in a subshell with
    /// stdin from `/dev/null`, `exit 0`.
    pub(crate) fn into_script(self, debug_trace: bool) -> String {
        let mut script = String::from("#!/usr/bin/env bash\n\ntrap 'exit 1' TERM\n\n");
        if debug_trace {
            script.push_str("set -o xtrace\n");
        }
        script.push_str(
            "if set -o | grep pipefail > /dev/null; then set -o pipefail; fi; set -o errexit\n",
        );
        script.push_str("set +o noclobber\n");
        script.push_str("(\ntrap 'exit 1' TERM\neval ");
        script.push_str(&escape(&self.text));
        script.push_str("\n) < /dev/null\nexit 0\n");
        script
    }

    /// The body text, for tests.
    #[cfg(test)]
    pub(crate) fn text(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_echoed_green() {
        let mut body = ScriptBody::default();
        body.command("  echo hi ");
        body.command("");
        body.command("echo a\necho b");
        assert_eq!(
            body.text(),
            "echo $'\\x1b[32;1m$ echo hi\\x1b[0;m'\necho hi\necho\n\
             echo $'\\x1b[32;1m$ echo a # collapsed multi-line command\\x1b[0;m'\necho a\necho b\n"
        );
    }

    #[test]
    fn envelope_sets_errexit_and_pipefail() {
        let script = ScriptBody::default().into_script(false);
        assert!(script.starts_with("#!/usr/bin/env bash\n"));
        assert!(script.contains("set -o pipefail"));
        assert!(script.contains("set -o errexit"));
        assert!(script.ends_with("exit 0\n"));
        assert!(!script.contains("xtrace"));
    }
}
