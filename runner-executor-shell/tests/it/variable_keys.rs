//! Variable names: a name is never run as code, and one no shell can export fails the job
//! before any stage runs (issue #14).

use runner_executor::Variable;

use crate::support::{job, run, workdir};

#[tokio::test]
async fn a_command_in_a_variable_name_never_runs() {
    let dir = workdir();
    let marker = dir.path().join("F");
    let key = format!("X$(touch {})", marker.display());
    let spec = job(dir.path())
        .variable(Variable::new(key.clone(), "value"))
        .variable(Variable::file(
            format!("Y`touch {}`", marker.display()),
            "x",
        ))
        .script(["echo the script ran"])
        .build();
    let done = run(dir.path(), spec).await;
    assert!(!marker.exists(), "the key ran as a command: {}", done.text);
    assert_eq!(done.reason(), "script_failure", "{}", done.text);
    assert!(!done.has_line("the script ran"), "{}", done.text);
    assert!(
        !done.text.contains("Preparing environment"),
        "no stage may run: {}",
        done.text
    );
    let expected = format!(
        "ERROR: Job failed: invalid variable name {key:?}: a name starts with a letter or \"_\" \
         and contains only letters, digits and \"_\""
    );
    assert_eq!(
        done.text.lines().last(),
        Some(expected.as_str()),
        "{}",
        done.text
    );
}

#[tokio::test]
async fn a_name_that_is_no_shell_identifier_fails_the_job_naming_it() {
    for key in ["MY-VAR", "1ABC", "A B", ""] {
        let dir = workdir();
        let spec = job(dir.path())
            .variable(Variable::new(key, "value"))
            .script(["echo the script ran"])
            .build();
        let done = run(dir.path(), spec).await;
        assert_eq!(done.reason(), "script_failure", "{key}: {}", done.text);
        assert!(
            done.text
                .contains(&format!("invalid variable name {key:?}")),
            "{key}: {}",
            done.text
        );
        assert!(!done.has_line("the script ran"), "{}", done.text);
    }
}

#[tokio::test]
async fn usual_names_still_reach_the_script() {
    let dir = workdir();
    let spec = job(dir.path())
        .variable(Variable::new("_lower_1", "a"))
        .variable(Variable::new("UPPER_2", "b"))
        .script(["echo \"got $_lower_1 $UPPER_2\""])
        .build();
    let done = run(dir.path(), spec).await;
    assert!(done.outcome.is_success(), "{}", done.text);
    assert!(done.has_line("got a b"), "{}", done.text);
}
