//! What a driver sees: the order of calls, their arguments and environment, and what
//! `config_exec`'s output changes (upstream-details.md §1.3-§1.6).

use runner_config::CustomConfig;
use runner_executor::Variable;

use crate::support::World;

#[tokio::test]
async fn drivers_are_called_in_upstream_order_with_script_path_and_stage_name() {
    let world = World::new();
    let config = CustomConfig {
        config_exec: world.driver("config", ""),
        config_args: vec!["c1".to_owned()],
        prepare_args: vec!["p1".to_owned(), "p2".to_owned()],
        run_args: vec!["A".to_owned()],
        cleanup_args: vec!["x".to_owned()],
        ..world.config()
    };
    let job = world
        .job()
        .script(["echo from-the-script"])
        .after_script(["echo from-after-script"])
        .build();
    let done = world.run(&config, job).await;
    assert_eq!(done.reason(), "success", "{}", done.text);
    assert!(done.text.contains("from-the-script"), "{}", done.text);
    assert!(done.text.contains("from-after-script"), "{}", done.text);
    assert!(
        done.text.contains("Using Custom executor..."),
        "{}",
        done.text
    );
    assert!(
        done.text.contains("WARNING: Starting with version 17.0 the 'build_script' stage will be replaced with 'step_script': https://gitlab.com/groups/gitlab-org/-/epics/6112"),
        "{}",
        done.text
    );
    let calls = world.calls();
    let tmp = world.path().join("tmp");
    let mut shape = Vec::new();
    for call in &calls {
        let words: Vec<&str> = call.split(' ').collect();
        if words[0] == "run" {
            // run A <tmp>/custom-executor<digits>/script<digits>/script <stage>
            assert_eq!(words.len(), 4, "{call}");
            assert_eq!(words[1], "A");
            let script = std::path::Path::new(words[2]);
            assert!(script.starts_with(&tmp), "{call}");
            assert!(script.ends_with("script"), "{call}");
            let parent = script
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy();
            assert!(parent.starts_with("script"), "{call}");
            shape.push(format!("run {}", words[3]));
        } else {
            shape.push(call.clone());
        }
    }
    assert_eq!(
        shape,
        [
            "config c1",
            "prepare p1 p2",
            "run prepare_script",
            "run get_sources",
            "run build_script",
            "run after_script",
            "run cleanup_file_variables",
            "cleanup x",
        ]
    );
    assert_eq!(
        world.leftover_temp_dirs(),
        0,
        "the job's directory is removed"
    );
}

#[tokio::test]
async fn drivers_see_custom_env_variables_and_the_runner_files() {
    let world = World::new();
    let env_dump = world.path().join("env");
    let dump = |name: &str| {
        format!(
            "{{ echo \"{name} tmp=$TMPDIR build=$BUILD_FAILURE_EXIT_CODE system=$SYSTEM_FAILURE_EXIT_CODE \
             file=$BUILD_EXIT_CODE_FILE response=$JOB_RESPONSE_FILE var=$CUSTOM_ENV_MY_VAR \
             project=$CUSTOM_ENV_CI_PROJECT_DIR services=[$CUSTOM_ENV_CI_JOB_SERVICES] \
             shared=$CUSTOM_ENV_CI_SHARED_ENVIRONMENT pwd=$PWD\"; \
             grep -c glcbt-jobtoken \"$JOB_RESPONSE_FILE\"; stat -c %a \"$JOB_RESPONSE_FILE\"; }} >> {}",
            env_dump.display()
        )
    };
    let config = CustomConfig {
        config_exec: world.driver("config", &dump("config")),
        prepare_exec: world.driver("prepare", &dump("prepare")),
        ..world.config()
    };
    let job = world
        .job()
        .variable(Variable::new("MY_VAR", "my value"))
        .script(["echo \"script sees $MY_VAR and ${CUSTOM_ENV_MY_VAR:-no custom env}\""])
        .build();
    let done = world.run(&config, job).await;
    assert_eq!(done.reason(), "success", "{}", done.text);
    let dumped = std::fs::read_to_string(&env_dump).unwrap();
    let lines: Vec<&str> = dumped.lines().collect();
    assert_eq!(lines.len(), 6, "{dumped}");
    let project = world.path().join("builds/group/project");
    for (index, name) in ["config", "prepare"].iter().enumerate() {
        let line = lines[index * 3];
        let tmp = line
            .split(' ')
            .find_map(|w| w.strip_prefix("tmp="))
            .unwrap();
        assert!(tmp.contains("/custom-executor"), "{line}");
        assert!(line.starts_with(name), "{line}");
        assert!(line.contains(" build=1 system=2 "), "{line}");
        assert!(
            line.contains(&format!("file={tmp}/build_exit_code")),
            "{line}"
        );
        assert!(
            line.contains(&format!("response={tmp}/response.json")),
            "{line}"
        );
        assert!(line.contains("var=my value"), "{line}");
        assert!(line.contains("services=[]"), "{line}");
        assert!(line.contains("shared=true"), "{line}");
        assert!(line.contains(&format!("pwd={tmp}")), "{line}");
        assert_eq!(
            lines[index * 3 + 1],
            "1",
            "the response file holds the job token"
        );
        assert_eq!(lines[index * 3 + 2], "600");
    }
    // The builds dir is not known while config_exec runs.
    assert!(lines[0].contains("project= "), "{}", lines[0]);
    assert!(
        lines[3].contains(&format!("project={} ", project.display())),
        "{}",
        lines[3]
    );
    assert!(
        done.text.contains("script sees my value and no custom env")
            || done.text.contains("script sees my value and my value"),
        "{}",
        done.text
    );
}

#[tokio::test]
async fn config_exec_output_sets_builds_dir_hostname_driver_and_job_env() {
    let world = World::new();
    let builds = world.path().join("elsewhere");
    let json = format!(
        r#"{{"builds_dir":"{}","builds_dir_is_shared":true,"hostname":"vm-17","driver":{{"name":"test-driver","version":"v1.2"}},"job_env":{{"FROM_CONFIG":"yes","BUILD_FAILURE_EXIT_CODE":"9"}},"unknown_key":[1,2]}}"#,
        builds.display()
    );
    let job_env_dump = world.path().join("job_env");
    let record = |name: &str| {
        format!(
            "echo \"{name} $FROM_CONFIG $BUILD_FAILURE_EXIT_CODE\" >> {}",
            job_env_dump.display()
        )
    };
    let config = CustomConfig {
        config_exec: world.driver("config", &format!("echo '{json}'; echo config-stderr >&2")),
        prepare_exec: world.driver("prepare", &record("prepare")),
        run_exec: world.driver(
            "run",
            &format!("{}\nexec bash \"${{@: -2:1}}\"", record("run")),
        ),
        cleanup_exec: world.driver("cleanup", &record("cleanup")),
        ..CustomConfig::default()
    };
    let job = world.job().script(["echo \"dir=$CI_PROJECT_DIR\""]).build();
    let done = world.run(&config, job).await;
    assert_eq!(done.reason(), "success", "{}", done.text);
    assert!(
        done.text
            .contains("Using Custom executor with driver test-driver v1.2..."),
        "{}",
        done.text
    );
    assert!(done.text.contains("config-stderr"), "{}", done.text);
    assert!(done.text.contains(" via vm-17..."), "{}", done.text);
    let project = builds.join("abcdefghi/0/group/project");
    assert!(
        done.text.contains(&format!("dir={}", project.display())),
        "{}",
        done.text
    );
    assert!(
        project.is_dir(),
        "the job ran in the builds dir config_exec named"
    );
    let dumped = std::fs::read_to_string(&job_env_dump).unwrap();
    assert!(dumped.starts_with("prepare yes 9\n"), "{dumped}");
    assert!(dumped.contains("run yes 9\n"), "{dumped}");
    assert!(dumped.ends_with("cleanup yes 9\n"), "{dumped}");
}

#[tokio::test]
async fn services_reach_the_driver_as_json() {
    let world = World::new();
    let services = world.path().join("services");
    let config = CustomConfig {
        prepare_exec: world.driver(
            "prepare",
            &format!(
                "printf '%s' \"$CUSTOM_ENV_CI_JOB_SERVICES\" > {}",
                services.display()
            ),
        ),
        ..world.config()
    };
    let job = world
        .job()
        .script(["true"])
        .with(|job| {
            job.services.push(runner_executor::Image {
                name: "postgres:16".to_owned(),
                alias: "db".to_owned(),
                ..runner_executor::Image::default()
            });
        })
        .build();
    let done = world.run(&config, job).await;
    assert_eq!(done.reason(), "success", "{}", done.text);
    assert_eq!(
        std::fs::read_to_string(&services).unwrap(),
        r#"[{"alias":"db","command":null,"entrypoint":null,"name":"postgres:16"}]"#
    );
}
