//! `shell = "sh"`: whole jobs with POSIX scripts run by the host's `/bin/sh` (dash on Debian).

use runner_executor::script::{escape, notice_line, warning_line_expanding};
use runner_executor::{JobSpecBuilder, Variable};

use crate::support::{Finished, job, run, workdir};

fn sh_job(dir: &std::path::Path) -> JobSpecBuilder {
    job(dir).runner(|runner| runner.shell = "sh".to_owned())
}

async fn run_sh(spec: JobSpecBuilder, dir: &std::path::Path) -> Finished {
    run(dir, spec.build()).await
}

#[tokio::test]
async fn a_job_runs_through_its_stages_with_sh() {
    let dir = workdir();
    let spec = sh_job(dir.path())
        .variable(Variable::new("GREETING", "it's a \"quoted\" \\ value"))
        .script([
            "echo \"${BASH_VERSION:-not bash}\"",
            "echo \"$GREETING\"",
            "printf '%s\\n' 'line with \\backslash'",
        ])
        .after_script(["echo \"after: $CI_JOB_STATUS\""]);
    let done = run_sh(spec, dir.path()).await;
    assert!(done.outcome.is_success(), "{}", done.text);
    assert!(
        done.has_line("Using Shell (sh) executor..."),
        "{}",
        done.text
    );
    assert!(
        done.has_line("not bash"),
        "the stages ran in bash: {}",
        done.text
    );
    assert!(done.has_line("it's a \"quoted\" \\ value"), "{}", done.text);
    assert!(
        done.has_line("$ printf '%s\\n' 'line with \\backslash'"),
        "{}",
        done.text
    );
    assert!(done.has_line("line with \\backslash"), "{}", done.text);
    assert!(done.has_line("Running after script..."), "{}", done.text);
    assert!(done.has_line("after: success"), "{}", done.text);
    let order = [
        "Preparing environment",
        "Running on ",
        "Getting source from Git repository",
        "Skipping Git repository setup",
        "Executing \"step_script\" stage of the job script",
        "Running after script...",
        "Cleaning up project directory and file based variables",
        "Job succeeded",
    ];
    let mut position = 0;
    for text in order {
        let found = done.text[position..]
            .find(text)
            .unwrap_or_else(|| panic!("{text} missing: {}", done.text));
        position += found;
    }
}

#[tokio::test]
async fn a_failing_command_ends_the_job_with_its_exit_code_and_after_script_runs() {
    let dir = workdir();
    let spec = sh_job(dir.path())
        .script(["echo before", "sh -c 'exit 3'", "echo after"])
        .after_script(["echo \"after_script: $CI_JOB_STATUS\"", "exit 7"]);
    let done = run_sh(spec, dir.path()).await;
    assert_eq!(done.reason(), "script_failure", "{}", done.text);
    assert_eq!(done.exit_code(), Some(3));
    assert!(done.has_line("before"));
    assert!(!done.has_line("after"), "errexit applies: {}", done.text);
    assert!(done.has_line("after_script: failed"), "{}", done.text);
    assert_eq!(
        done.text.lines().last(),
        Some("ERROR: Job failed: exit status 3")
    );
}

#[tokio::test]
async fn masked_variables_stay_masked_and_file_variables_hold_a_path() {
    let dir = workdir();
    let spec = sh_job(dir.path())
        .variable(Variable::masked("SECRET", "supersecret'123"))
        .variable(Variable::file("MY_FILE", "file 'content'\nsecond line"))
        .script([
            "echo \"$SECRET\"",
            "echo \"path=$MY_FILE\"",
            "cat \"$MY_FILE\"; echo",
            "echo GREETING=from-env >> \"$GITLAB_ENV\"",
        ])
        .after_script(["echo \"env: $GREETING\""]);
    let done = run_sh(spec, dir.path()).await;
    assert!(done.outcome.is_success(), "{}", done.text);
    assert!(!done.text.contains("supersecret"), "{}", done.text);
    assert!(done.has_line("[MASKED]"), "{}", done.text);
    let project = dir.path().join("builds/abcdefghi/0/group/project");
    let file = format!("{}.tmp/MY_FILE", project.display());
    assert!(done.has_line(&format!("path={file}")), "{}", done.text);
    assert!(done.has_line("file 'content'"), "{}", done.text);
    assert!(done.has_line("second line"), "{}", done.text);
    assert!(done.has_line("env: from-env"), "{}", done.text);
    assert!(
        !std::path::Path::new(&file).exists(),
        "cleanup removes the file"
    );
}

#[tokio::test]
async fn bash_rendered_transfer_lines_print_the_same_under_sh() {
    let dir = workdir();
    let lines = vec![
        notice_line("Checking cache for main\\1..."),
        warning_line_expanding("Missing $CI_JOB_STATUS. Extracting cache is disabled."),
        format!("printf '<%s>\\n' {}", escape("two words, it's")),
    ];
    let spec = sh_job(dir.path())
        .script(["true"])
        .with(|job| job.transfer.restore_cache = lines);
    let done = run_sh(spec, dir.path()).await;
    assert!(done.outcome.is_success(), "{}", done.text);
    assert!(
        done.has_line("Checking cache for main\\1..."),
        "{}",
        done.text
    );
    assert!(
        done.has_line("Missing running. Extracting cache is disabled."),
        "{}",
        done.text
    );
    assert!(done.has_line("<two words, it's>"), "{}", done.text);
}

#[tokio::test]
async fn powershell_is_still_refused() {
    let dir = workdir();
    let spec = job(dir.path())
        .runner(|runner| {
            runner.shell = "pwsh".to_owned();
            runner.prepare_retry_delay = std::time::Duration::ZERO;
        })
        .script(["echo never"]);
    let done = run(dir.path(), spec.build()).await;
    assert_eq!(done.reason(), "runner_system_failure", "{}", done.text);
    assert!(
        done.text
            .contains("shell \"pwsh\" is not supported by the shell executor, use bash or sh"),
        "{}",
        done.text
    );
}

#[tokio::test]
async fn git_sources_are_cloned_and_checked_out_with_sh() {
    let dir = workdir();
    let repo = dir.path().join("origin");
    let commits =
        runner_executor::test_util::git_repo(&repo, &[("a.txt", "first\n"), ("b.txt", "second\n")]);
    let spec = sh_job(dir.path())
        .variable(Variable::new("GIT_STRATEGY", "clone"))
        .repo(format!("file://{}", repo.display()), &commits[0], "main")
        .refspecs(["+refs/heads/main:refs/remotes/origin/main"])
        .script(["cat a.txt", "test ! -e b.txt", "git rev-parse HEAD"]);
    let done = run_sh(spec, dir.path()).await;
    assert!(done.outcome.is_success(), "{}", done.text);
    assert!(done.has_line("Created fresh repository."), "{}", done.text);
    let short = &commits[0][..8];
    assert!(done.has_line(&format!(
        "Checking out {short} as detached HEAD (ref is main)..."
    )));
    assert!(done.has_line("first"));
    assert!(done.has_line(&commits[0]));
}
