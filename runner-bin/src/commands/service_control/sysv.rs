//! The service as a System V init script, for machines without systemd: the script at
//! `/etc/init.d/<name>` starts `run` in the background with a pid file under `/var/run` and
//! its output appended to `/var/log/<name>.log` and `.err`; `rc?.d` links start it at boot.

use std::path::PathBuf;

use nix::sys::signal::kill;
use nix::unistd::Pid;

use super::{Action, Definition, Status, System, run_command};

/// Runlevels that start the service, and those that stop it, with their link names.
const START_LINKS: [&str; 4] = ["rc2.d", "rc3.d", "rc4.d", "rc5.d"];
const STOP_LINKS: [&str; 3] = ["rc0.d", "rc1.d", "rc6.d"];

pub(super) struct SysV {
    name: String,
    script: PathBuf,
    pid_file: PathBuf,
    log: PathBuf,
    error_log: PathBuf,
    environment_file: PathBuf,
    rc_directory: PathBuf,
}

impl SysV {
    pub(super) fn new(system: &System, name: &str) -> Self {
        Self {
            name: name.to_owned(),
            script: system.path("/etc/init.d").join(name),
            pid_file: system.path("/var/run").join(format!("{name}.pid")),
            log: system.path("/var/log").join(format!("{name}.log")),
            error_log: system.path("/var/log").join(format!("{name}.err")),
            environment_file: system.path("/etc/sysconfig").join(name),
            rc_directory: system.path("/etc"),
        }
    }

    /// The installed init script.
    pub(super) fn file(&self) -> &std::path::Path {
        &self.script
    }

    pub(super) fn install(&self, definition: &Definition) -> Result<(), String> {
        if self.script.exists() {
            return Err(format!("Init already exists: {}", self.script.display()));
        }
        for directory in [
            self.script.parent(),
            self.pid_file.parent(),
            self.log.parent(),
        ]
        .into_iter()
        .flatten()
        {
            std::fs::create_dir_all(directory)
                .map_err(|error| format!("{}: {error}", directory.display()))?;
        }
        write_executable(&self.script, &self.script_text(definition))?;
        for link in self.rc_links() {
            if let Some(directory) = link.parent() {
                std::fs::create_dir_all(directory)
                    .map_err(|error| format!("{}: {error}", directory.display()))?;
            }
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&self.script, &link)
                .map_err(|error| format!("{}: {error}", link.display()))?;
        }
        Ok(())
    }

    /// The `rc?.d` links that start the service at boot and stop it at shutdown.
    fn rc_links(&self) -> impl Iterator<Item = PathBuf> + '_ {
        let start = START_LINKS.iter().map(|directory| (directory, "S50"));
        let stop = STOP_LINKS.iter().map(|directory| (directory, "K02"));
        start.chain(stop).map(|(directory, prefix)| {
            self.rc_directory
                .join(directory)
                .join(format!("{prefix}{}", self.name))
        })
    }

    pub(super) fn uninstall(&self) -> Result<(), String> {
        if !self.script.exists() {
            return Err("the service is not installed".to_owned());
        }
        for link in self.rc_links() {
            let _ = std::fs::remove_file(link);
        }
        std::fs::remove_file(&self.script)
            .map_err(|error| format!("{}: {error}", self.script.display()))
    }

    pub(super) fn control(&self, action: Action) -> Result<(), String> {
        if !self.script.exists() {
            return Err("the service is not installed".to_owned());
        }
        run_command(&self.script, &[action.verb()])
    }

    pub(super) fn status(&self) -> Status {
        if !self.script.exists() {
            return Status::NotInstalled;
        }
        let pid = std::fs::read_to_string(&self.pid_file)
            .ok()
            .and_then(|text| text.trim().parse::<i32>().ok());
        match pid {
            Some(pid) if pid > 0 && kill(Pid::from_raw(pid), None).is_ok() => Status::Running,
            _ => Status::Stopped,
        }
    }

    /// The init script: POSIX sh, every path and word single-quoted.
    fn script_text(&self, definition: &Definition) -> String {
        let mut command = sh_quote(&definition.executable.to_string_lossy());
        for argument in &definition.arguments {
            command.push(' ');
            command.push_str(&sh_quote(argument));
        }
        // The service user runs the command; su passes TERM on to it.
        let launch = match &definition.init_user {
            Some(user) => format!(
                "su -s /bin/sh -c {} {}",
                sh_quote(&format!("exec {command}")),
                sh_quote(user)
            ),
            None => command,
        };
        format!(
            r#"#!/bin/sh
### BEGIN INIT INFO
# Provides:          {name}
# Required-Start:    $local_fs $remote_fs $network $syslog
# Required-Stop:     $local_fs $remote_fs $network $syslog
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: GitLab Runner
# Description:       GitLab Runner ({name}), written by gitlab-runner-rs install
### END INIT INFO

name={quoted_name}
pid_file={pid_file}
log={log}
error_log={error_log}

# Environment for the runner, as systemd's EnvironmentFile.
if [ -r {environment_file} ]; then
    set -a
    . {environment_file}
    set +a
fi

is_running() {{
    [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}}

start() {{
    if is_running; then
        echo "$name is already running"
        return 0
    fi
    cd {working_directory} || return 1
    {launch} </dev/null >>"$log" 2>>"$error_log" &
    echo $! >"$pid_file"
    if is_running; then
        echo "Started $name"
    else
        echo "$name did not start; see $log and $error_log" >&2
        return 1
    fi
}}

stop() {{
    if ! is_running; then
        echo "$name is not running"
        rm -f "$pid_file"
        return 0
    fi
    kill "$(cat "$pid_file")"
    waited=0
    while is_running && [ "$waited" -lt 60 ]; do
        sleep 1
        waited=$((waited + 1))
    done
    if is_running; then
        echo "$name did not stop within 60 seconds" >&2
        return 1
    fi
    rm -f "$pid_file"
    echo "Stopped $name"
}}

case "$1" in
    start) start ;;
    stop) stop ;;
    restart) stop && start ;;
    status)
        if is_running; then
            echo "$name is running"
        else
            echo "$name is stopped"
            exit 3
        fi
        ;;
    *)
        echo "Usage: $0 {{start|stop|restart|status}}" >&2
        exit 2
        ;;
esac
"#,
            name = definition.name,
            quoted_name = sh_quote(&definition.name),
            pid_file = sh_quote(&self.pid_file.to_string_lossy()),
            log = sh_quote(&self.log.to_string_lossy()),
            error_log = sh_quote(&self.error_log.to_string_lossy()),
            environment_file = sh_quote(&self.environment_file.to_string_lossy()),
            working_directory = sh_quote(&definition.working_directory.to_string_lossy()),
        )
    }
}

/// A POSIX sh word: single quotes, with `'` written as `'\''`.
fn sh_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

fn write_executable(path: &std::path::Path, text: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).map_err(|error| format!("{}: {error}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|error| format!("{}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn the_script_runs_the_definition_and_is_valid_sh() {
        let system = System {
            root: PathBuf::from("/srv/root"),
        };
        let sysv = SysV::new(&system, "gitlab-runner");
        let definition = Definition {
            name: "gitlab-runner".to_owned(),
            executable: PathBuf::from("/usr/bin/gitlab-runner-rs"),
            arguments: ["run", "--config", "/etc/gitlab-runner/config.toml"]
                .map(str::to_owned)
                .to_vec(),
            working_directory: PathBuf::from("/home/gitlab-runner"),
            init_user: Some("runner".to_owned()),
        };
        let script = sysv.script_text(&definition);
        assert!(script.starts_with("#!/bin/sh\n"));
        assert!(
            script.contains(
                r"su -s /bin/sh -c 'exec '\''/usr/bin/gitlab-runner-rs'\'' '\''run'\'' '\''--config'\'' '\''/etc/gitlab-runner/config.toml'\''' 'runner'"
            ),
            "{script}"
        );
        assert!(script.contains("pid_file='/srv/root/var/run/gitlab-runner.pid'"));
        // The script is valid sh.
        let checked = std::process::Command::new("sh")
            .args(["-n", "-c", &script])
            .status()
            .unwrap();
        assert!(checked.success());
    }
}
