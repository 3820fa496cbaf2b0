//! The body of every stage except `get_sources` (executors.md §4.2, §4.5, §4.7, §4.9).

use crate::job::{JobSpec, Step};
use crate::layout::Layout;
use crate::script::bash::{GeneratedScript, ScriptBody};
use crate::script::dialect::{Dialect, ScriptShell};
use crate::settings::Settings;
use crate::variables::JobVariables;

/// What script generation reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScriptContext<'a> {
    pub(crate) job: &'a JobSpec,
    pub(crate) layout: &'a Layout,
    pub(crate) variables: &'a JobVariables,
    pub(crate) settings: &'a Settings,
    /// The shell the scripts are written for.
    pub(crate) shell: ScriptShell,
}

impl ScriptContext<'_> {
    /// The stage script `build` writes, wrapped in the envelope: once in the backend's
    /// dialect, or once per dialect when the shell is only known at run time.
    pub(crate) fn generate(&self, build: impl Fn(&mut ScriptBody)) -> GeneratedScript {
        let one = |dialect: Dialect| {
            let mut body = ScriptBody::new(dialect);
            build(&mut body);
            body.generate(self.settings.debug_trace)
        };
        match self.shell {
            ScriptShell::Bash => one(Dialect::Bash),
            ScriptShell::Sh => one(Dialect::Sh),
            ScriptShell::Detected => GeneratedScript::either(one(Dialect::Bash), one(Dialect::Sh)),
        }
    }

    /// The common preamble (§4.2): exports, file variables, `GITLAB_ENV`.
    pub(crate) fn preamble(&self, body: &mut ScriptBody) {
        let tmp = &self.layout.tmp_dir;
        body.setup_dir(tmp);
        for variable in self.variables.iter() {
            if variable.file {
                let path = self.variables.file_path(&variable.key);
                let line = format!(
                    "printf '%s' {} > {}",
                    body.quote(&variable.value),
                    body.quote(&path)
                );
                body.setup_line(&line);
                body.export(&variable.key, &path);
            } else {
                body.export(&variable.key, &variable.value);
            }
        }
        body.export("GITLAB_ENV", &format!("{tmp}/gitlab_runner_env"));
        // `>>` creates the file like `touch` would, without a process.
        body.setup_line(": >> \"$GITLAB_ENV\"");
        body.setup_line(
            "while IFS= read -r gitlab_env_line || [ -n \"$gitlab_env_line\" ]; do \
             if [ -n \"$gitlab_env_line\" ]; then export \"$gitlab_env_line\"; fi; done < \"$GITLAB_ENV\"",
        );
    }

    /// `prepare_script`: where the job runs; drops the previous job's `GITLAB_ENV`.
    pub(crate) fn prepare_script(&self) -> GeneratedScript {
        self.generate(|body| {
            // Bash sets `HOSTNAME` itself, and Docker and Kubernetes export the container's
            // hostname; `hostname` is only asked when neither did. The custom executor's
            // `config_exec` may name the machine the driver runs jobs on: `via <hostname>`.
            let via = self
                .layout
                .hostname
                .as_deref()
                .map(|hostname| format!(" via {hostname}"))
                .unwrap_or_default();
            let running = format!(
                "Running on ${{HOSTNAME:-$(hostname)}}{}...",
                escape_double_quoted(&via)
            );
            match body.dialect() {
                Dialect::Bash => {
                    body.line(&format!("echo $'\\x1b[32;1m'\"{running}\"$'\\x1b[0;m'"));
                }
                Dialect::Sh => {
                    body.line(&format!("printf '\\033[32;1m%s\\033[0;m\\n' \"{running}\""))
                }
            }
            body.remove_file(&format!("{}/gitlab_runner_env", self.layout.tmp_dir));
        })
    }

    /// `clear_worktree`: before a second `get_sources` attempt.
    pub(crate) fn clear_worktree(&self) -> GeneratedScript {
        self.generate(|body| {
            body.notice("Deleting tracked and untracked files...");
            let dir = body.quote(&self.layout.project_dir);
            body.line(&format!(
                "if [ -d {dir} ]; then chmod -R u+w {dir} 2>/dev/null || true; rm -r -f {dir}; fi"
            ));
        })
    }

    /// `step_<name>`: `pre_build_script`, the step's lines, `post_build_script`.
    pub(crate) fn user_step(&self, step: &Step) -> GeneratedScript {
        self.generate(|body| self.user_step_body(body, step))
    }

    fn user_step_body(&self, body: &mut ScriptBody, step: &Step) {
        self.preamble(body);
        body.cd(&self.layout.project_dir);
        if let Some(pre) = self
            .job
            .runner
            .pre_build_script
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            body.command(pre);
        }
        for line in &step.script {
            body.command(line);
        }
        if let Some(post) = self
            .job
            .runner
            .post_build_script
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            body.command(post);
        }
    }

    /// `after_script` in a fresh shell.
    pub(crate) fn after_script(&self, step: &Step) -> GeneratedScript {
        self.generate(|body| {
            self.preamble(body);
            body.cd(&self.layout.project_dir);
            body.notice("Running after script...");
            for line in &step.script {
                body.command(line);
            }
        })
    }

    /// A cache or artifact stage (§4.4, §4.8): preamble, the transfer variables, `cd` into the
    /// project directory, then the caller's lines verbatim.
    pub(crate) fn transfer(
        &self,
        lines: &[String],
        exports: &[(String, String)],
    ) -> GeneratedScript {
        self.generate(|body| {
            self.preamble(body);
            for (key, value) in exports {
                body.export(key, value);
            }
            body.cd(&self.layout.project_dir);
            for line in lines {
                body.bash_line(line);
            }
        })
    }

    /// `cleanup_file_variables`: removes the env file, git config helpers and file variables.
    pub(crate) fn cleanup_file_variables(&self) -> GeneratedScript {
        let tmp = &self.layout.tmp_dir;
        let mut files: Vec<String> = [
            "gitlab_runner_env",
            "masking.db",
            ".gitlab-runner.ext.conf",
            ".glr.gconf",
        ]
        .iter()
        .map(|name| format!("{tmp}/{name}"))
        .collect();
        files.extend(
            self.variables
                .iter()
                .filter(|v| v.file)
                .map(|v| self.variables.file_path(&v.key)),
        );
        files.sort();
        files.dedup();
        self.generate(|body| body.remove_files(&files))
    }
}

/// `text` for use inside double quotes, in bash and POSIX sh alike: `\`, `"`, `$` and a
/// backquote lose their meaning (a driver's hostname is data, never code).
fn escape_double_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        if matches!(character, '\\' | '"' | '$' | '`') {
            out.push('\\');
        }
        out.push(character);
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::backend::BackendDefaults;
    use crate::job::Variable;
    use crate::plan::PlannedOp;

    /// Runs `f` with the script context of `job` on a shell-like backend writing bash.
    pub(crate) fn with_context<T>(job: &JobSpec, f: impl FnOnce(&ScriptContext<'_>) -> T) -> T {
        with_shell_context(job, ScriptShell::Bash, f)
    }

    /// Runs `f` with the script context of `job` on a shell-like backend writing for `shell`.
    pub(crate) fn with_shell_context<T>(
        job: &JobSpec,
        shell: ScriptShell,
        f: impl FnOnce(&ScriptContext<'_>) -> T,
    ) -> T {
        let defaults = BackendDefaults {
            name: "shell".to_owned(),
            builds_dir: "/b".to_owned(),
            cache_dir: "/c".to_owned(),
            shared_builds_dir: true,
            custom_build_dir: false,
            shared_environment: true,
            scrub_git_config: false,
        };
        let layout = Layout::new(job, &defaults, None, false).unwrap();
        let variables = JobVariables::assemble(job, &layout, &defaults);
        let settings = Settings::read(
            &variables,
            job.allow_git_fetch,
            job.git.depth,
            job.timeout,
            false,
        );
        let context = ScriptContext {
            job,
            layout: &layout,
            variables: &variables,
            settings: &settings,
            shell,
        };
        f(&context)
    }

    #[test]
    fn sh_scripts_of_every_stage_parse_in_dash_and_avoid_bash_quoting() {
        use crate::script::{notice_line, warning_line_expanding};
        let job = JobSpec::builder(9, "glcbt-tok")
            .repo(
                "https://gitlab-ci-token:glcbt-tok@gitlab.example.com/g/p.git",
                "0123456789abcdef",
                "main",
            )
            .refspecs(["+refs/heads/main:refs/remotes/origin/main"])
            .variable(Variable::masked("SECRET", "it's a $ecret"))
            .variable(Variable::file("CONFIG", "line 1\nline 'two'"))
            .variable(Variable::new("GIT_SUBMODULE_STRATEGY", "recursive"))
            .build();
        let step = Step {
            name: "script".to_owned(),
            script: vec!["echo \"$SECRET\"".to_owned(), "cat \"$CONFIG\"".to_owned()],
            timeout: None,
            when: crate::job::When::OnSuccess,
            allow_failure: false,
        };
        let transfer_lines = [
            notice_line("Checking cache for main-1..."),
            warning_line_expanding(
                "Missing $GITLAB_RUNNER_RS_HELPER. Extracting cache is disabled.",
            ),
        ];
        let scripts = with_shell_context(&job, ScriptShell::Sh, |context| {
            vec![
                context.prepare_script(),
                context.get_sources(true),
                context.clear_worktree(),
                context.user_step(&step),
                context.after_script(&step),
                context.transfer(&transfer_lines, &[("EXTRA".to_owned(), "a b".to_owned())]),
                context.cleanup_file_variables(),
            ]
        });
        for generated in scripts {
            let script = &generated.script;
            assert!(script.starts_with("#!/usr/bin/env sh\n"), "{script}");
            assert!(!script.contains("$'"), "{script}");
            assert!(!script.contains("\necho $"), "{script}");
            let checked = std::process::Command::new("sh")
                .arg("-n")
                .arg("-c")
                .arg(script)
                .status()
                .unwrap();
            assert!(checked.success(), "dash cannot parse: {script}");
        }
    }

    #[test]
    fn prepare_needs_the_shell_and_cleanup_is_planned() {
        let job = JobSpec::builder(9, "t")
            .variable(Variable::file("CONFIG", "secret file"))
            .build();
        let prepare = with_context(&job, |c| c.prepare_script());
        assert_eq!(
            prepare.plan, None,
            "a broken login profile must fail prepare (J8)"
        );
        let cleanup = with_context(&job, |c| c.cleanup_file_variables());
        let Some([PlannedOp::RemoveFiles(files)]) = cleanup.plan.as_deref() else {
            panic!("cleanup is one removal: {:?}", cleanup.plan);
        };
        assert!(files.iter().any(|f| f.ends_with("/gitlab_runner_env")));
        assert!(files.iter().any(|f| f.ends_with("/CONFIG")), "{files:?}");
        let step = with_context(&job, |context| {
            context.user_step(&Step {
                name: "script".to_owned(),
                script: vec!["echo ok".to_owned()],
                timeout: None,
                when: crate::job::When::OnSuccess,
                allow_failure: false,
            })
        });
        assert_eq!(step.plan, None);
    }
}
