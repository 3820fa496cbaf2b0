//! [`ScriptBody`]: builds a stage body line by line and wraps it in upstream's envelope
//! (§4.1, §4.6), in bash or POSIX sh syntax.

use crate::plan::PlannedOp;
use crate::script::dialect::Dialect;
use crate::script::posix::to_posix;
use crate::trace::writer::ansi;

/// The commands of one stage, before the envelope, and the same stage as [`PlannedOp`]s for as
/// long as it contains nothing else.
#[derive(Debug, Clone)]
pub(crate) struct ScriptBody {
    text: String,
    plan: Option<Vec<PlannedOp>>,
    dialect: Dialect,
}

impl Default for ScriptBody {
    fn default() -> Self {
        Self::new(Dialect::Bash)
    }
}

/// A stage's complete script and, when it has one, its plan (see [`crate::StageScript::plan`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GeneratedScript {
    pub(crate) script: String,
    pub(crate) plan: Option<Vec<PlannedOp>>,
}

impl GeneratedScript {
    /// One script that runs `sh` in a shell other than bash and `bash` in bash, for a backend
    /// that learns only at run time which shell the image has ([`crate::ScriptShell::Detected`]).
    ///
    /// A shell reading a script parses one complete command at a time, so the non-bash shell
    /// parses only the first `if` (plain POSIX), runs the `sh` version inside it, which always
    /// ends with `exit`, and never reads the bash text with its `$'...'` words. Bash skips the
    /// `if` and runs exactly the script it would run on its own. Both versions hold the same
    /// plan.
    pub(crate) fn either(bash: Self, sh: Self) -> Self {
        let without_shebang = |script: &str| {
            script
                .split_once('\n')
                .map_or(String::new(), |(_, rest)| rest.to_owned())
        };
        let mut script =
            String::from("#!/usr/bin/env bash\n\nif [ -z \"${BASH_VERSION-}\" ]; then\n");
        script.push_str(&without_shebang(&sh.script));
        script.push_str("fi\n");
        script.push_str(&without_shebang(&bash.script));
        Self {
            script,
            plan: bash.plan,
        }
    }
}

impl ScriptBody {
    /// An empty body written in `dialect`.
    pub(crate) fn new(dialect: Dialect) -> Self {
        Self {
            text: String::new(),
            plan: Some(Vec::new()),
            dialect,
        }
    }

    /// The syntax of this body.
    pub(crate) fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// `text` quoted as one word of this body's dialect.
    pub(crate) fn quote(&self, text: &str) -> String {
        self.dialect.quote(text)
    }

    /// A line a caller rendered in bash syntax (the cache and artifact stages'), made POSIX
    /// for an `sh` body; the stage needs a shell from now on.
    pub(crate) fn bash_line(&mut self, line: &str) {
        match self.dialect {
            Dialect::Bash => self.line(line),
            Dialect::Sh => self.line(&to_posix(line)),
        }
    }

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
        let line = self
            .dialect
            .print_line(&format!("{prefix}{text}{}", ansi::RESET));
        self.push(&line);
    }

    /// A user command (§4.6): echoed in green with `$ `, then run.
    pub(crate) fn command(&mut self, command: &str) {
        let command = command.trim();
        self.plan = None;
        if command.is_empty() {
            // A bare `echo` prints an empty line in every shell.
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
        let line = format!("export {}={}", self.quote(key), self.quote(value));
        self.setup_line(&line);
    }

    /// Creates `dir` when it is missing. The test is a builtin, so the common case (the
    /// directory is there since an earlier stage or job) starts no process.
    pub(crate) fn ensure_dir(&mut self, dir: &str) {
        self.planned(PlannedOp::EnsureDir(dir.to_owned()));
        self.setup_dir(dir);
    }

    /// Creates `dir` when it is missing, as environment setup (see [`Self::setup_line`]).
    pub(crate) fn setup_dir(&mut self, dir: &str) {
        let dir = self.quote(dir);
        self.setup_line(&format!("[ -d {dir} ] || mkdir -p {dir}"));
    }

    /// Removes `file` when it exists (or is a dangling link), without a process otherwise.
    pub(crate) fn remove_file(&mut self, file: &str) {
        self.planned(PlannedOp::RemoveFiles(vec![file.to_owned()]));
        let file = self.quote(file);
        self.push(&format!(
            "if [ -e {file} ] || [ -L {file} ]; then rm -f {file}; fi"
        ));
    }

    /// `rm -f` of `files`.
    pub(crate) fn remove_files(&mut self, files: &[String]) {
        self.planned(PlannedOp::RemoveFiles(files.to_vec()));
        let quoted: Vec<String> = files.iter().map(|f| self.quote(f)).collect();
        self.push(&format!("rm -f {}", quoted.join(" ")));
    }

    /// `cd` into `dir`; failure ends the stage.
    pub(crate) fn cd(&mut self, dir: &str) {
        let line = format!("cd {}", self.quote(dir));
        self.line(&line);
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
        let mut script = format!("{}\n\ntrap 'exit 1' TERM\n\n", self.dialect.shebang());
        if debug_trace {
            script.push_str("set -o xtrace\n");
        }
        match self.dialect {
            // Bash always has pipefail: asking it costs nothing, where upstream's
            // `set -o | grep pipefail` costs two processes per stage. Other shells are still asked.
            Dialect::Bash => script.push_str(
                "if [ -n \"${BASH_VERSION-}\" ] || set -o | grep pipefail > /dev/null; then set -o pipefail; fi; set -o errexit\n",
            ),
            // dash has no pipefail, busybox ash and bash do; matching `set -o`'s listing in
            // the shell itself saves the `grep` process.
            Dialect::Sh => script.push_str(
                "case \"$(set -o)\" in *pipefail*) set -o pipefail ;; esac; set -o errexit\n",
            ),
        }
        script.push_str("set +o noclobber\n");
        script.push_str("{\ntrap 'exit 1' TERM\neval ");
        script.push_str(&self.dialect.quote(&self.text));
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

    /// Runs `script` on stdin of `shell`, as the backends do: (stdout, exit code).
    fn run_on_stdin(shell: &str, script: &str) -> (String, Option<i32>) {
        use std::io::Write;
        let mut child = std::process::Command::new(shell)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        (
            String::from_utf8_lossy(&output.stdout).into_owned(),
            output.status.code(),
        )
    }

    #[test]
    fn a_detected_script_runs_the_version_of_the_shell_reading_it() {
        let version = |dialect: Dialect, name: &str, exit: &str| {
            let mut body = ScriptBody::new(dialect);
            body.export("QUOTED", "it's \\ here");
            body.command(&format!("echo \"{name}: $QUOTED\""));
            body.command(exit);
            body.generate(false)
        };
        for (exit, code) in [("true", 0), ("exit 3", 3)] {
            let either = GeneratedScript::either(
                version(Dialect::Bash, "bash", exit),
                version(Dialect::Sh, "sh", exit),
            );
            assert!(either.script.contains("\neval $'"), "{}", either.script);
            for (shell, other) in [("bash", "sh"), ("sh", "bash")] {
                let (output, status) = run_on_stdin(shell, &either.script);
                let has_line = |line: &str| output.lines().any(|l| l == line);
                assert!(has_line(&format!("{shell}: it's \\ here")), "{output}");
                assert!(!has_line(&format!("{other}: it's \\ here")), "{output}");
                assert_eq!(status, Some(code), "{shell}");
            }
        }
    }

    #[test]
    fn sh_envelope_is_posix_and_keeps_the_failure_rules() {
        let mut body = ScriptBody::new(Dialect::Sh);
        body.command("echo one");
        body.command("false");
        body.command("echo never");
        let script = body.into_script(false);
        assert!(script.starts_with("#!/usr/bin/env sh\n"), "{script}");
        assert!(!script.contains("$'"), "{script}");
        let (output, status) = run_on_stdin("sh", &script);
        assert!(output.contains("$ echo one\x1b[0;m\none\n"), "{output}");
        assert!(!output.contains("never\n"), "{output}");
        assert_eq!(status, Some(1));
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
