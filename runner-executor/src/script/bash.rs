//! [`ScriptBody`]: builds a stage body line by line and wraps it in upstream's bash envelope (§4.1, §4.6).

use crate::plan::PlannedOp;
use crate::script::escape::escape;
use crate::trace::writer::ansi;

/// The commands of one stage, before the envelope, and the same stage as [`PlannedOp`]s for as
/// long as it contains nothing else.
#[derive(Debug, Clone)]
pub(crate) struct ScriptBody {
    text: String,
    plan: Option<Vec<PlannedOp>>,
}

impl Default for ScriptBody {
    fn default() -> Self {
        Self {
            text: String::new(),
            plan: Some(Vec::new()),
        }
    }
}

/// A stage's complete script and, when it has one, its plan (see [`crate::StageScript::plan`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GeneratedScript {
    pub(crate) script: String,
    pub(crate) plan: Option<Vec<PlannedOp>>,
}

impl ScriptBody {
    /// A line emitted verbatim; the stage needs a shell from now on.
    pub(crate) fn line(&mut self, line: &str) {
        self.plan = None;
        self.push(line);
    }

    /// A line that only prepares the environment for the stage's commands (exports, file
    /// variables, `GITLAB_ENV`): a stage without commands does not need it, so it leaves the
    /// plan alone.
    pub(crate) fn setup_line(&mut self, line: &str) {
        self.push(line);
    }

    fn push(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
    }

    fn planned(&mut self, op: PlannedOp) {
        if let Some(plan) = &mut self.plan {
            plan.push(op);
        }
    }

    /// `echo` of a bold green notice.
    pub(crate) fn notice(&mut self, text: &str) {
        self.echo(ansi::GREEN, text);
        self.planned(PlannedOp::Notice(text.to_owned()));
    }

    fn echo(&mut self, prefix: &str, text: &str) {
        let line = format!("echo {}", escape(&format!("{prefix}{text}{}", ansi::RESET)));
        self.push(&line);
    }

    /// A user command (§4.6): echoed in green with `$ `, then run.
    pub(crate) fn command(&mut self, command: &str) {
        let command = command.trim();
        self.plan = None;
        if command.is_empty() {
            self.push("echo");
            return;
        }
        let shown = match command.split_once('\n') {
            None => command.to_owned(),
            Some((first, _)) => format!("{} # collapsed multi-line command", first.trim_end()),
        };
        self.echo(ansi::GREEN, &format!("$ {shown}"));
        self.push(command);
    }

    /// `export KEY=<value>`. The key is quoted too: the driver refuses names that are not
    /// shell identifiers before any script is generated, and quoting keeps a name that slipped
    /// through an error of `export` instead of code (issue #14).
    pub(crate) fn export(&mut self, key: &str, value: &str) {
        self.setup_line(&format!("export {}={}", escape(key), escape(value)));
    }

    /// Creates `dir` when it is missing. The test is a builtin, so the common case (the
    /// directory is there since an earlier stage or job) starts no process.
    pub(crate) fn ensure_dir(&mut self, dir: &str) {
        self.planned(PlannedOp::EnsureDir(dir.to_owned()));
        self.setup_dir(dir);
    }

    /// Creates `dir` when it is missing, as environment setup (see [`Self::setup_line`]).
    pub(crate) fn setup_dir(&mut self, dir: &str) {
        let dir = escape(dir);
        self.setup_line(&format!("[ -d {dir} ] || mkdir -p {dir}"));
    }

    /// Removes `file` when it exists (or is a dangling link), without a process otherwise.
    pub(crate) fn remove_file(&mut self, file: &str) {
        self.planned(PlannedOp::RemoveFiles(vec![file.to_owned()]));
        let file = escape(file);
        self.push(&format!(
            "if [ -e {file} ] || [ -L {file} ]; then rm -f {file}; fi"
        ));
    }

    /// `rm -f` of `files`.
    pub(crate) fn remove_files(&mut self, files: &[String]) {
        self.planned(PlannedOp::RemoveFiles(files.to_vec()));
        let quoted: Vec<String> = files.iter().map(|f| escape(f)).collect();
        self.push(&format!("rm -f {}", quoted.join(" ")));
    }

    /// `cd` into `dir`; failure ends the stage.
    pub(crate) fn cd(&mut self, dir: &str) {
        self.line(&format!("cd {}", escape(dir)));
    }

    /// The script and its plan; a stage traced with `xtrace` shows its commands, so it is
    /// never planned.
    pub(crate) fn generate(mut self, debug_trace: bool) -> GeneratedScript {
        let plan = self.plan.take().filter(|_| !debug_trace);
        GeneratedScript {
            script: self.into_script(debug_trace),
            plan,
        }
    }

    /// The complete script: shebang, TERM trap, options, the body `eval`ed in a group with
    /// stdin from `/dev/null`, `exit 0`.
    ///
    /// Upstream evals the body in a subshell. The stage's shell exists only for that body, so a
    /// brace group behaves the same (`exit`, errexit and traps end the stage with the same
    /// status) and saves a fork per stage, about a sixth of a trivial stage's CPU.
    pub(crate) fn into_script(self, debug_trace: bool) -> String {
        let mut script = String::from("#!/usr/bin/env bash\n\ntrap 'exit 1' TERM\n\n");
        if debug_trace {
            script.push_str("set -o xtrace\n");
        }
        // Bash always has pipefail: asking it costs nothing, where upstream's
        // `set -o | grep pipefail` costs two processes per stage. Other shells are still asked.
        script.push_str(
            "if [ -n \"${BASH_VERSION-}\" ] || set -o | grep pipefail > /dev/null; then set -o pipefail; fi; set -o errexit\n",
        );
        script.push_str("set +o noclobber\n");
        script.push_str("{\ntrap 'exit 1' TERM\neval ");
        script.push_str(&escape(&self.text));
        script.push_str("\n} < /dev/null\nexit 0\n");
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
    fn a_key_is_quoted_so_bash_never_runs_it() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("F");
        let key = format!("X$(touch {})", marker.display());
        let mut body = ScriptBody::default();
        body.export(&key, "v");
        assert!(
            body.text().starts_with("export $'X$(touch "),
            "{}",
            body.text()
        );
        let status = std::process::Command::new("bash")
            .arg("-c")
            .arg(body.text())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(!status.success(), "bash refuses the name");
        assert!(!marker.exists(), "the key ran as a command");
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
