//! Overhead per stage of the custom executor over running the same scripts directly, and over
//! the shell executor, measured side by side in one run (issue #17; prints figures, asserts
//! nothing about speed).
//!
//! ```sh
//! cargo bench -p runner-executor-custom --bench stage_overhead
//! ```
//!
//! `CUSTOM_BENCH_ROUNDS` (default 15) and `CUSTOM_BENCH_STEPS` (default 20) change the number of
//! rounds and of steps in the long job.
//!
//! Each round runs, alternately, for a job of 1 step and one of `CUSTOM_BENCH_STEPS` steps,
//! every step `echo ok`, `GIT_STRATEGY=none`:
//!
//! 1. the job through [`CustomExecutor`] with a trivial host driver: only `run_exec`, a bash
//!    script doing `exec bash <script>` (no config, prepare or cleanup driver);
//! 2. the same job through the shell executor (a `bash -l` per stage);
//! 3. the driver itself, `run <script> <stage>`, called in a loop on the custom executor's own
//!    stage scripts of that job (captured once by the driver): what the driver costs without
//!    the runner;
//! 4. the same scripts with `bash <script>` in a loop: no runner, no driver.
//!
//! Modes 3 and 4 pipe the output as the executors do. The job's fixed stages
//! (`prepare_script`, `get_sources`, `cleanup_file_variables`) run in every job, so a job of N
//! steps has N + 3 stages. "Per added stage" is the slope between the two jobs' medians (what
//! one more stage costs, per-job costs left out); "per stage of the long job" divides the
//! difference of the long job's medians by its stages (per-job costs included).
//!
//! On a loaded machine the figures move by a few ms per stage from run to run: compare the
//! modes of one run, and raise `CUSTOM_BENCH_ROUNDS` for steadier medians.
//!
//! The bench re-runs itself with a fresh, empty `HOME`: a login shell would otherwise read the
//! profile of whoever runs it (the build machine's runs pyenv, ~100 ms per shell), which would
//! swamp what is measured here.

#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]
#![expect(clippy::unwrap_used, reason = "a benchmark stops at the first failure")]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use runner_executor::test_util::TraceCapture;
use runner_executor::{Backend, Cancellation, JobSpec, Step, Variable, run_job};
use runner_executor_custom::{CustomExecutor, Settings};
use runner_executor_shell::ShellExecutor;

/// Set in the re-run with the clean `HOME`.
const CLEAN_HOME_MARK: &str = "CUSTOM_BENCH_CLEAN_HOME";
const SHORT_STEPS: usize = 1;
const NAMES: [&str; 4] = [
    "custom executor (run_exec driver)",
    "shell executor (bash -l)",
    "driver loop, no runner",
    "bash <script> loop, no runner",
];

fn main() {
    if std::env::var_os(CLEAN_HOME_MARK).is_none() {
        let home = tempfile::tempdir().unwrap();
        let status = Command::new(std::env::current_exe().unwrap())
            .args(std::env::args_os().skip(1))
            .env("HOME", home.path())
            .env(CLEAN_HOME_MARK, "1")
            .env_remove("BASH_ENV")
            .env_remove("ENV")
            .status()
            .unwrap();
        drop(home);
        std::process::exit(status.code().unwrap_or(1));
    }
    let rounds = from_env("CUSTOM_BENCH_ROUNDS", 15);
    let long_steps = from_env("CUSTOM_BENCH_STEPS", 20).max(SHORT_STEPS + 1);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let capture = root.join("captured");
    let custom = custom_executor(root, "run", "exec bash \"$1\"");
    let shell = ShellExecutor::new(root.join("shell"));

    let mut sizes = Vec::new();
    for steps in [SHORT_STEPS, long_steps] {
        // Capturing the scripts is also the warm-up of the custom executor.
        let scripts = capture.join(steps.to_string());
        std::fs::create_dir_all(&scripts).unwrap();
        let driver = custom_executor(
            root,
            &format!("run-capture-{steps}"),
            &format!(
                "n=$(ls {dir} | wc -l)\ncp \"$1\" {dir}/\"$(printf %04d \"$n\")-$2\"\nexec bash \"$1\"",
                dir = scripts.display()
            ),
        );
        runtime.block_on(job(&driver, root, steps));
        let mut files: Vec<PathBuf> = std::fs::read_dir(&scripts)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        // Warm-ups of the other two.
        runtime.block_on(job(&shell, root, steps));
        direct(None, &files);
        sizes.push((steps, files));
    }

    let run_driver = root.join("run");
    // samples[size][mode], modes in the order of NAMES.
    let mut samples = vec![[const { Vec::new() }; 4]; sizes.len()];
    for _ in 0..rounds {
        for (index, (steps, files)) in sizes.iter().enumerate() {
            let started = Instant::now();
            runtime.block_on(job(&custom, root, *steps));
            samples[index][0].push(started.elapsed());
            let started = Instant::now();
            runtime.block_on(job(&shell, root, *steps));
            samples[index][1].push(started.elapsed());
            let started = Instant::now();
            direct(Some(&run_driver), files);
            samples[index][2].push(started.elapsed());
            let started = Instant::now();
            direct(None, files);
            samples[index][3].push(started.elapsed());
        }
    }

    let medians: Vec<[f64; 4]> = samples
        .iter_mut()
        .map(|modes| std::array::from_fn(|mode| median_ms(&mut modes[mode])))
        .collect();
    let stages: Vec<f64> = sizes.iter().map(|(_, files)| files.len() as f64).collect();
    println!(
        "rounds: {rounds} (medians), HOME empty, bash {}, {} CPUs, load {}",
        bash_version(),
        std::thread::available_parallelism().map_or(0, usize::from),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    for (index, (steps, files)) in sizes.iter().enumerate() {
        let bytes: Vec<u64> = files
            .iter()
            .map(|file| std::fs::metadata(file).unwrap().len())
            .collect();
        println!(
            "job of {steps} step(s): {} stages, scripts of {}..{} bytes",
            stages[index],
            bytes.iter().min().unwrap(),
            bytes.iter().max().unwrap()
        );
    }
    // One more stage: the slope between the two jobs, which leaves the per-job costs out.
    let added = stages[1] - stages[0];
    let per_stage: Vec<f64> = (0..4)
        .map(|mode| (medians[1][mode] - medians[0][mode]) / added)
        .collect();
    println!(
        "{:<34} {:>10} {:>10} {:>14}",
        "ms (median)",
        format!("{} stages", stages[0]),
        format!("{} stages", stages[1]),
        "per added stage"
    );
    for (mode, name) in NAMES.iter().enumerate() {
        println!(
            "{name:<34} {:>10.1} {:>10.1} {:>14.2}",
            medians[0][mode], medians[1][mode], per_stage[mode]
        );
    }
    for (other, label) in [(3, "direct bash"), (2, "the driver alone"), (1, "shell")] {
        println!(
            "custom over {label}: {:+.2} ms per added stage ({:.2}x), {:+.2} ms per stage of the long job",
            per_stage[0] - per_stage[other],
            per_stage[0] / per_stage[other],
            (medians[1][0] - medians[1][other]) / stages[1]
        );
    }
}

/// A custom executor whose only driver is `run_exec`, a bash script `name` running `body`.
fn custom_executor(root: &Path, name: &str, body: &str) -> CustomExecutor {
    let path = root.join(name);
    std::fs::write(&path, format!("#!/usr/bin/env bash\n{body}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = runner_config::CustomConfig {
        run_exec: path.to_string_lossy().into_owned(),
        ..Default::default()
    };
    let tmp = root.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    CustomExecutor::new(Some(Settings::from_config(&config)), tmp)
}

/// Runs a job of `steps` steps of `echo ok` on `executor` and checks that it succeeded and
/// that every step printed.
async fn job(executor: &impl Backend, root: &Path, steps: usize) {
    let mut builder = JobSpec::builder(1, "glcbt-jobtoken-0123456789")
        .builds_dir(root.join("builds").to_string_lossy().into_owned())
        .variable(Variable::new("GIT_STRATEGY", "none"));
    for step in 0..steps {
        builder = builder.step(Step::new(format!("s{step}"), ["echo ok"]));
    }
    let cache = root.join("cache").to_string_lossy().into_owned();
    let job = builder
        .runner(move |runner| runner.cache_dir = Some(cache))
        .build();
    let (trace, capture) = TraceCapture::for_job(&job);
    let outcome = run_job(executor, job, trace, Cancellation::default()).await;
    let text = capture.text().await;
    assert!(outcome.is_success(), "{text}");
    assert_eq!(
        text.lines().filter(|line| *line == "ok").count(),
        steps,
        "{text}"
    );
}

/// The stage scripts one after the other, output piped: with `bash <script>`, or with
/// `<driver> <script> <stage>` as the custom executor calls the driver.
fn direct(driver: Option<&Path>, scripts: &[PathBuf]) {
    for script in scripts {
        let mut command = match driver {
            Some(driver) => {
                let mut command = Command::new(driver);
                let stage = script.file_name().unwrap().to_string_lossy();
                command.arg(script).arg(&stage[5..]);
                command
            }
            None => {
                let mut command = Command::new("bash");
                command.arg(script);
                command
            }
        };
        let output = command.stdin(Stdio::null()).output().unwrap();
        assert!(output.status.success(), "{}: {output:?}", script.display());
    }
}

fn median_ms(samples: &mut [Duration]) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1e3
}

fn from_env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn bash_version() -> String {
    let output = Command::new("bash")
        .args(["-c", "echo $BASH_VERSION"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}
