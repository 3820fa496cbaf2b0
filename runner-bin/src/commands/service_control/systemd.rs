//! The service as a systemd unit (cli.md 10): `/etc/systemd/system/<name>.service`, or
//! `~/.config/systemd/user/<name>.service` with `--user-service`, driven by `systemctl`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Action, Definition, Status, System, run_command};

pub(super) struct Systemd {
    unit: String,
    unit_file: PathBuf,
    user_mode: bool,
}

impl Systemd {
    pub(super) fn new(system: &System, name: &str, user_mode: bool) -> Self {
        let unit = format!("{name}.service");
        let unit_file = if user_mode {
            let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
            home.join(".config/systemd/user").join(&unit)
        } else {
            system.path("/etc/systemd/system").join(&unit)
        };
        Self {
            unit,
            unit_file,
            user_mode,
        }
    }

    /// The installed unit.
    pub(super) fn file(&self) -> &Path {
        &self.unit_file
    }

    pub(super) fn install(&self, definition: &Definition) -> Result<(), String> {
        if self.unit_file.exists() {
            return Err(format!("Init already exists: {}", self.unit_file.display()));
        }
        if let Some(directory) = self.unit_file.parent() {
            std::fs::create_dir_all(directory)
                .map_err(|error| format!("{}: {error}", directory.display()))?;
        }
        std::fs::write(&self.unit_file, unit_file(definition, self.user_mode))
            .map_err(|error| format!("{}: {error}", self.unit_file.display()))?;
        self.systemctl(&["enable", &self.unit])?;
        self.systemctl(&["daemon-reload"])
    }

    pub(super) fn uninstall(&self) -> Result<(), String> {
        if !self.unit_file.exists() {
            return Err("the service is not installed".to_owned());
        }
        self.systemctl(&["disable", &self.unit])?;
        std::fs::remove_file(&self.unit_file)
            .map_err(|error| format!("{}: {error}", self.unit_file.display()))?;
        self.systemctl(&["daemon-reload"])
    }

    pub(super) fn control(&self, action: Action) -> Result<(), String> {
        if !self.unit_file.exists() {
            return Err("the service is not installed".to_owned());
        }
        self.systemctl(&[action.verb(), &self.unit])
    }

    pub(super) fn status(&self) -> Status {
        if !self.unit_file.exists() {
            return Status::NotInstalled;
        }
        let mut command = Command::new("systemctl");
        if self.user_mode {
            command.arg("--user");
        }
        let Ok(output) = command.args(["is-active", &self.unit]).output() else {
            return Status::Unknown;
        };
        active_state(&String::from_utf8_lossy(&output.stdout))
    }

    fn systemctl(&self, arguments: &[&str]) -> Result<(), String> {
        let mut all = Vec::with_capacity(arguments.len() + 1);
        if self.user_mode {
            all.push("--user");
        }
        all.extend_from_slice(arguments);
        run_command(Path::new("systemctl"), &all)
    }
}

/// `systemctl is-active` output → status.
fn active_state(output: &str) -> Status {
    match output.trim() {
        "active" | "activating" | "reloading" => Status::Running,
        "inactive" | "deactivating" => Status::Stopped,
        "failed" => Status::Failed,
        _ => Status::Unknown,
    }
}

/// The unit: each argument double-quoted, the service user as `User=`, restarts paced as
/// upstream's, and `/etc/sysconfig/<name>` read for environment when it exists.
fn unit_file(definition: &Definition, user_mode: bool) -> String {
    let executable = definition.executable.to_string_lossy();
    let mut exec_start = quote_if_spaced(&executable);
    for argument in &definition.arguments {
        exec_start.push(' ');
        exec_start.push_str(&quote(argument));
    }
    let user = definition
        .init_user
        .as_deref()
        .map(|user| format!("User={user}\n"))
        .unwrap_or_default();
    let wanted_by = if user_mode {
        "default.target"
    } else {
        "multi-user.target"
    };
    format!(
        "[Unit]\n\
         Description=GitLab Runner\n\
         ConditionFileIsExecutable={executable}\n\
         \n\
         After=network.target\n\
         \n\
         [Service]\n\
         StartLimitInterval=5\n\
         StartLimitBurst=10\n\
         ExecStart={exec_start}\n\
         {user}\
         Restart=always\n\
         RestartSec=120\n\
         EnvironmentFile=-/etc/sysconfig/{name}\n\
         \n\
         [Install]\n\
         WantedBy={wanted_by}\n",
        name = definition.name,
    )
}

/// A systemd command-line word: double quotes, with `\` and `"` escaped.
fn quote(word: &str) -> String {
    format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\""))
}

fn quote_if_spaced(word: &str) -> String {
    if word.contains(char::is_whitespace) {
        quote(word)
    } else {
        word.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(init_user: Option<&str>) -> Definition {
        Definition {
            name: "gitlab-runner".to_owned(),
            executable: PathBuf::from("/usr/bin/gitlab-runner"),
            arguments: [
                "run",
                "--config",
                "/etc/gitlab-runner/config.toml",
                "--working-directory",
                "/home/gitlab-runner",
                "--service",
                "gitlab-runner",
                "--user",
                "gitlab-runner",
            ]
            .map(str::to_owned)
            .to_vec(),
            working_directory: PathBuf::from("/home/gitlab-runner"),
            init_user: init_user.map(str::to_owned),
        }
    }

    #[test]
    fn the_unit_is_upstreams() {
        assert_eq!(
            unit_file(&definition(None), false),
            "[Unit]
Description=GitLab Runner
ConditionFileIsExecutable=/usr/bin/gitlab-runner

After=network.target

[Service]
StartLimitInterval=5
StartLimitBurst=10
ExecStart=/usr/bin/gitlab-runner \"run\" \"--config\" \"/etc/gitlab-runner/config.toml\" \"--working-directory\" \"/home/gitlab-runner\" \"--service\" \"gitlab-runner\" \"--user\" \"gitlab-runner\"
Restart=always
RestartSec=120
EnvironmentFile=-/etc/sysconfig/gitlab-runner

[Install]
WantedBy=multi-user.target
"
        );
    }

    #[test]
    fn an_init_user_runs_the_service() {
        let unit = unit_file(&definition(Some("runner")), false);
        assert!(
            unit.contains("\"gitlab-runner\"\nUser=runner\nRestart=always"),
            "{unit}"
        );
        assert!(unit_file(&definition(None), true).contains("WantedBy=default.target"));
    }

    #[test]
    fn words_with_quotes_stay_one_word() {
        assert_eq!(quote(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        assert_eq!(
            quote_if_spaced("/opt/my runner/bin"),
            "\"/opt/my runner/bin\""
        );
    }

    #[test]
    fn is_active_answers_map_to_statuses() {
        assert_eq!(active_state("active\n"), Status::Running);
        assert_eq!(active_state("inactive\n"), Status::Stopped);
        assert_eq!(active_state("failed\n"), Status::Failed);
        assert_eq!(active_state(""), Status::Unknown);
    }
}
