//! The detect-shell program (K10): exec the first of bash, sh, busybox sh; the script arrives on stdin.

/// Candidate shells, in upstream's order (executors.md §4.11).
const SHELLS: [&str; 7] = [
    "/usr/local/bin/bash",
    "/usr/bin/bash",
    "/bin/bash",
    "/usr/local/bin/sh",
    "/usr/bin/sh",
    "/bin/sh",
    "/busybox/sh",
];

/// The `sh -c` argument that execs the first executable shell, or prints `shell not found`.
pub(crate) fn detect_shell_script() -> String {
    let mut script = String::new();
    for (index, shell) in SHELLS.iter().enumerate() {
        let keyword = if index == 0 { "if" } else { "elif" };
        script.push_str(&format!(
            "{keyword} [ -x {shell} ]; then\n\texec {shell} \n"
        ));
    }
    script.push_str("else\n\techo shell not found\n\texit 1\nfi\n\n");
    script
}

/// The command of the build and helper containers and of every stage exec: `sh -c <detect>`.
pub(crate) fn detect_shell_command() -> Vec<String> {
    vec!["sh".to_owned(), "-c".to_owned(), detect_shell_script()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bash_comes_first_then_sh_then_busybox() {
        let script = detect_shell_script();
        let bash = script.find("/usr/local/bin/bash").unwrap();
        let sh = script.find("/bin/sh ]").unwrap();
        let busybox = script.find("/busybox/sh").unwrap();
        assert!(bash < sh && sh < busybox);
        assert!(script.contains("echo shell not found"));
    }

    #[test]
    fn the_program_runs_a_script_from_stdin() {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(detect_shell_script())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"echo detected; exit 4\n")
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert_eq!(String::from_utf8_lossy(&output.stdout), "detected\n");
        assert_eq!(output.status.code(), Some(4));
    }
}
