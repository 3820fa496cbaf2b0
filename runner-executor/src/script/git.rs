//! The `get_sources` stage body (executors.md §4.3): hooks, git init/fetch/checkout, submodules.

use crate::layout::split_url;
use crate::script::bash::{GeneratedScript, ScriptBody};
use crate::script::stages::ScriptContext;
use crate::settings::{GitStrategy, SubmoduleStrategy};

impl ScriptContext<'_> {
    /// The `get_sources` script.
    pub(crate) fn get_sources(&self, scrub_git_config: bool) -> GeneratedScript {
        self.generate(|body| self.get_sources_body(body, scrub_git_config))
    }

    fn get_sources_body(&self, body: &mut ScriptBody, scrub_git_config: bool) {
        let settings = self.settings;
        let job = self.job;
        let dir = &self.layout.project_dir;
        self.preamble(body);
        body.export("GIT_TERMINAL_PROMPT", "0");
        body.export("GCM_INTERACTIVE", "Never");
        let uses_git = matches!(
            settings.git_strategy,
            GitStrategy::Fetch | GitStrategy::Clone
        );
        if uses_git {
            if let Some(pre) = job
                .runner
                .pre_get_sources_script
                .as_deref()
                .filter(|s| !s.trim().is_empty())
            {
                body.command(pre);
            }
            for line in &job.hooks.pre_get_sources_script {
                body.command(line);
            }
        }
        if !settings.lfs_skip_smudge_by_job {
            body.export("GIT_LFS_SKIP_SMUDGE", "1");
        }
        match settings.git_strategy {
            GitStrategy::Fetch | GitStrategy::Clone => self.fetch(body, scrub_git_config),
            GitStrategy::None => {
                body.notice("Skipping Git repository setup");
                body.ensure_dir(dir);
            }
            GitStrategy::Empty => {
                body.notice("Skipping Git repository setup and creating an empty build directory");
                let quoted = body.quote(dir);
                body.line(&format!("rm -r -f {quoted}"));
                body.line(&format!("mkdir -p {quoted}"));
            }
        }
        if uses_git && settings.git_checkout {
            let sha = &job.git.sha;
            let short: String = sha.chars().take(8).collect();
            body.notice(&format!(
                "Checking out {short} as detached HEAD (ref is {})...",
                job.git.ref_name
            ));
            let checkout = format!(
                "git -c submodule.recurse=false checkout -f -q {}",
                body.quote(sha)
            );
            body.line(&checkout);
            if !settings.git_clean_flags.is_empty() {
                let clean = format!("git clean {}", split_flags(body, &settings.git_clean_flags));
                body.line(&clean);
            }
            if !settings.lfs_skip_smudge_by_job {
                body.line("if git lfs version >/dev/null 2>&1; then git lfs pull; fi");
            }
        } else {
            body.notice("Skipping Git checkout");
        }
        self.submodules(body, uses_git);
        if uses_git {
            if let Some(post) = job
                .runner
                .post_get_sources_script
                .as_deref()
                .filter(|s| !s.trim().is_empty())
            {
                body.command(post);
            }
            for line in &job.hooks.post_get_sources_script {
                body.command(line);
            }
        }
    }

    fn fetch(&self, body: &mut ScriptBody, scrub_git_config: bool) {
        let settings = self.settings;
        let git = &self.job.git;
        let dir = &self.layout.project_dir;
        let tmp = &self.layout.tmp_dir;
        let dot_git = format!("{dir}/.git");
        let locks: Vec<String> = [
            "index.lock",
            "shallow.lock",
            "HEAD.lock",
            "config.lock",
            "hooks/post-checkout",
        ]
        .iter()
        .map(|f| body.quote(&format!("{dot_git}/{f}")))
        .collect();
        body.line(&format!("rm -f {}", locks.join(" ")));
        let refs = body.quote(&format!("{dot_git}/refs"));
        body.line(&format!(
            "if [ -d {refs} ]; then find {refs} -type f -name '*.lock' -exec rm -f {{}} +; fi"
        ));
        let quote = |text: &str| body.quote(text);
        let config = quote(&format!("{dot_git}/config"));
        let hooks = quote(&format!("{dot_git}/hooks"));
        let template = format!("{tmp}/git-template");
        let template_config = quote(&format!("{template}/config"));
        let quoted_template = quote(&template);
        let external = format!("{tmp}/.gitlab-runner.ext.conf");
        let quoted_external = quote(&external);
        let quoted_dir = quote(dir);
        if scrub_git_config {
            body.line(&format!("rm -f {config}"));
            body.line(&format!("rm -r -f {hooks}"));
        }
        body.line(&format!("rm -r -f {quoted_template}"));
        body.line(&format!("mkdir -p {quoted_template}"));
        for (key, value) in [
            ("init.defaultBranch", "none"),
            ("fetch.recurseSubmodules", "false"),
            ("credential.interactive", "never"),
            ("gc.autoDetach", "false"),
        ] {
            body.line(&format!("git config -f {template_config} {key} {value}"));
        }
        body.line(&format!("rm -f {quoted_external}"));
        body.line(&format!("touch {quoted_external}"));
        let (plain_url, credential_url) = self.remote_urls();
        let quoted_url = body.quote(&plain_url);
        if plain_url != credential_url {
            let instead_of = body.quote(&format!("url.{credential_url}.insteadOf"));
            body.line(&format!(
                "git config -f {quoted_external} --replace-all {instead_of} {quoted_url}"
            ));
        }
        body.line(&format!(
            "git config -f {template_config} include.path {quoted_external}"
        ));
        body.export("GLR_EXT_GIT_CONFIG_PATH", &external);
        if settings.git_strategy == GitStrategy::Clone {
            body.line(&format!(
                "if [ -d {quoted_dir} ]; then chmod -R u+w {quoted_dir} 2>/dev/null || true; fi"
            ));
            body.line(&format!("rm -r -f {quoted_dir}"));
        }
        if git.depth > 0 {
            body.notice(&format!(
                "Fetching changes with git depth set to {}...",
                git.depth
            ));
        } else {
            body.notice("Fetching changes...");
        }
        let mut init = format!("git init {quoted_dir} --template {quoted_template}");
        if !git.repo_object_format.is_empty() && git.repo_object_format != "sha1" {
            init.push_str(&format!(
                " --object-format {}",
                body.quote(&git.repo_object_format)
            ));
        }
        body.line(&init);
        body.cd(dir);
        let fresh = body
            .dialect()
            .print_line("\x1b[32;1mCreated fresh repository.\x1b[0;m");
        body.line(&format!(
            "if git remote add origin {quoted_url} >/dev/null 2>&1; then {fresh}; else git remote set-url origin {quoted_url}; \
             git config --replace-all include.path {quoted_external}; fi",
        ));
        let mut fetch = format!(
            "git -c {} fetch origin --no-recurse-submodules",
            body.quote(&format!("http.userAgent={}", self.job.runner.user_agent))
        );
        for refspec in &git.refspecs {
            fetch.push(' ');
            fetch.push_str(&body.quote(refspec));
        }
        if git.depth > 0 {
            fetch.push_str(&format!(" --depth {}", git.depth));
        }
        if !settings.git_fetch_extra_flags.is_empty() {
            fetch.push(' ');
            fetch.push_str(&split_flags(body, &settings.git_fetch_extra_flags));
        }
        if git.depth == 0 {
            body.line(&format!(
                "if [ -f .git/shallow ]; then {fetch} --unshallow; else {fetch}; fi"
            ));
        } else {
            body.line(&fetch);
        }
    }

    fn submodules(&self, body: &mut ScriptBody, uses_git: bool) {
        let settings = self.settings;
        let recursive = match settings.submodule_strategy {
            SubmoduleStrategy::Normal if uses_git => false,
            SubmoduleStrategy::Recursive if uses_git => true,
            _ => {
                body.notice("Skipping Git submodules setup");
                return;
            }
        };
        let flag = if recursive { " --recursive" } else { "" };
        let mut notice = format!(
            "Updating/initializing submodules{}",
            if recursive { " recursively" } else { "" }
        );
        if settings.submodule_depth > 0 {
            notice.push_str(&format!(
                " with git depth set to {}",
                settings.submodule_depth
            ));
        }
        body.notice(&format!("{notice}..."));
        let paths = if settings.submodule_paths.trim().is_empty() {
            String::new()
        } else {
            format!(" -- {}", split_flags(body, &settings.submodule_paths))
        };
        body.line(&format!("git submodule init{paths}"));
        body.line(&format!("git submodule sync{flag}{paths}"));
        if !settings.git_clean_flags.is_empty() {
            let clean = format!(
                "git submodule foreach{flag} git clean {}",
                split_flags(body, &settings.git_clean_flags)
            );
            body.line(&clean);
        }
        body.line(&format!("git submodule foreach{flag} git reset --hard"));
        let mut update = format!(
            "git -c include.path=\"$GLR_EXT_GIT_CONFIG_PATH\" submodule update --init{flag}"
        );
        if settings.submodule_depth > 0 {
            update.push_str(&format!(" --depth {}", settings.submodule_depth));
        }
        if !settings.submodule_update_flags.trim().is_empty() {
            update.push(' ');
            update.push_str(&split_flags(body, &settings.submodule_update_flags));
        }
        update.push_str(&paths);
        body.line(&update);
        body.notice("Updated submodules");
        body.line(&format!("git submodule sync{flag}{paths}"));
    }

    /// The remote URL without credentials, and the one git really uses (with the job token).
    fn remote_urls(&self) -> (String, String) {
        let job = self.job;
        let base = match job.runner.clone_url.as_deref().filter(|u| !u.is_empty()) {
            Some(clone_url) => format!(
                "{}/{}.git",
                clone_url.trim_end_matches('/'),
                job.project_path
            ),
            None => job.git.repo_url.clone(),
        };
        match split_url(&base) {
            Some(parts) if matches!(parts.scheme, "http" | "https") && !parts.host.is_empty() => {
                let plain = format!("{}://{}{}", parts.scheme, parts.host, parts.path);
                let with_token = format!(
                    "{}://gitlab-ci-token:{}@{}{}",
                    parts.scheme,
                    job.token.expose(),
                    parts.host,
                    parts.path
                );
                (plain, with_token)
            }
            Some(parts) => {
                let plain = format!("{}://{}{}", parts.scheme, parts.host, parts.path);
                (plain.clone(), plain)
            }
            None => (base.clone(), base),
        }
    }
}

/// Space-separated flags, each quoted for `body`.
fn split_flags(body: &ScriptBody, flags: &str) -> String {
    flags
        .split_whitespace()
        .map(|flag| body.quote(flag))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use crate::job::{JobSpec, Variable};
    use crate::script::stages::tests::with_context;

    fn get_sources(job: &JobSpec) -> String {
        with_context(job, |context| {
            let mut body = crate::script::bash::ScriptBody::default();
            context.get_sources_body(&mut body, false);
            body.text().to_owned()
        })
    }

    fn generated(job: &JobSpec) -> crate::script::bash::GeneratedScript {
        with_context(job, |context| context.get_sources(false))
    }

    #[test]
    fn fetch_uses_refspecs_depth_and_prune() {
        let job = JobSpec::builder(9, "glcbt-tok")
            .repo(
                "https://gitlab-ci-token:glcbt-tok@gitlab.example.com/g/p.git",
                "0123456789abcdef",
                "main",
            )
            .refspecs([
                "+0123456789abcdef:refs/pipelines/77",
                "+refs/heads/main:refs/remotes/origin/main",
            ])
            .depth(50)
            .runner(|r| r.user_agent = "gitlab-runner-rs 0.1.0 linux/amd64".to_owned())
            .build();
        let script = get_sources(&job);
        let expected = "git -c $'http.userAgent=gitlab-runner-rs 0.1.0 linux/amd64' fetch origin \
            --no-recurse-submodules $'+0123456789abcdef:refs/pipelines/77' \
            $'+refs/heads/main:refs/remotes/origin/main' --depth 50 --prune --quiet";
        assert!(script.contains(expected), "{script}");
        assert!(
            script.contains("git remote add origin $'https://gitlab.example.com/g/p.git'"),
            "{script}"
        );
        assert!(script.contains(
            "url.https://gitlab-ci-token:glcbt-tok@gitlab.example.com/g/p.git.insteadOf"
        ));
        assert!(script.contains("Checking out 01234567 as detached HEAD (ref is main)..."));
    }

    #[test]
    fn clean_and_fetch_flags_can_be_turned_off() {
        let job = JobSpec::builder(9, "t")
            .variable(Variable::new("GIT_FETCH_EXTRA_FLAGS", "none"))
            .variable(Variable::new("GIT_CLEAN_FLAGS", "none"))
            .variable(Variable::new("GIT_CHECKOUT", "false"))
            .build();
        let script = get_sources(&job);
        assert!(!script.contains("--prune"), "{script}");
        assert!(!script.contains("git clean"), "{script}");
        assert!(script.contains("Skipping Git checkout"));
        assert!(
            script.contains("--unshallow"),
            "depth 0 unshallows an existing shallow clone"
        );
    }

    #[test]
    fn strategy_none_is_planned_and_fetch_is_not() {
        use crate::plan::PlannedOp;
        let none = JobSpec::builder(9, "t")
            .variable(Variable::new("GIT_STRATEGY", "none"))
            .variable(Variable::file("CONFIG", "secret file"))
            .build();
        let planned = generated(&none);
        let notice = |text: &str| PlannedOp::Notice(text.to_owned());
        let plan = planned.plan.expect("a planned stage");
        assert_eq!(plan.len(), 4, "{plan:?}");
        assert_eq!(plan[0], notice("Skipping Git repository setup"));
        assert!(matches!(&plan[1], PlannedOp::EnsureDir(dir) if dir.ends_with("/group/project")));
        assert_eq!(plan[2], notice("Skipping Git checkout"));
        assert_eq!(plan[3], notice("Skipping Git submodules setup"));
        // The script still says the same for backends that run it.
        assert!(planned.script.contains("Skipping Git repository setup"));

        let with_hook = JobSpec::builder(9, "t")
            .variable(Variable::new("GIT_STRATEGY", "none"))
            .variable(Variable::new("CI_DEBUG_TRACE", "true"))
            .build();
        assert_eq!(
            generated(&with_hook).plan,
            None,
            "xtrace output needs the shell"
        );
        let fetch = JobSpec::builder(9, "t").build();
        assert_eq!(generated(&fetch).plan, None);
    }
}
