//! `health-check` (helper mode, cli.md 11): waits until a service answers on TCP.
//!
//! With `--port` it dials `localhost` until **every** port answers (the Kubernetes executor
//! runs it in the helper container of the build pod). Without, it reads Docker-link style
//! variables, `<NAME>_TCP_ADDR` and `<NAME>_<port>_TCP_PORT`, and succeeds on the **first**
//! port that answers. It runs until then; the caller owns the timeout.

use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use crate::logging::FATAL;

/// How long one dial may take, and the pause between rounds.
const DIAL_TIMEOUT: Duration = Duration::from_secs(1);
const PAUSE: Duration = Duration::from_secs(1);

/// Flags of `health-check`.
#[derive(Debug, clap::Args)]
pub(crate) struct HealthCheckArgs {
    /// A port on localhost that must answer (repeat for several; all must answer).
    #[arg(short = 'p', long = "port")]
    ports: Vec<u16>,
}

/// What to dial, and whether one answer is enough.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    address: String,
    ports: Vec<u16>,
    all: bool,
}

pub(crate) fn run(args: &HealthCheckArgs) -> ExitCode {
    let target = if args.ports.is_empty() {
        target_from_environment(std::env::vars())
    } else {
        Some(Target {
            address: "localhost".to_owned(),
            ports: args.ports.clone(),
            all: true,
        })
    };
    let Some(target) = target else {
        tracing::error!(target: FATAL, "No HOST or PORT found");
        return ExitCode::FAILURE;
    };
    wait(&target);
    ExitCode::SUCCESS
}

/// `*_TCP_ADDR` and every `*_TCP_PORT` from the environment.
fn target_from_environment(variables: impl Iterator<Item = (String, String)>) -> Option<Target> {
    let mut address = None;
    let mut ports = Vec::new();
    for (name, value) in variables {
        if name.ends_with("_TCP_ADDR") && address.is_none() && !value.is_empty() {
            address = Some(value);
        } else if name.ends_with("_TCP_PORT")
            && let Ok(port) = value.trim().parse::<u16>()
        {
            ports.push(port);
        }
    }
    ports.sort_unstable();
    ports.dedup();
    let address = address?;
    (!ports.is_empty()).then_some(Target {
        address,
        ports,
        all: false,
    })
}

#[expect(
    clippy::print_stdout,
    reason = "the helper's progress lines are the container's output, read by the job trace"
)]
fn wait(target: &Target) {
    let listed: Vec<String> = target.ports.iter().map(u16::to_string).collect();
    println!(
        "waiting for TCP connection to {} on [{}]...",
        target.address,
        listed.join(" ")
    );
    let mut pending = target.ports.clone();
    loop {
        let mut answered = Vec::new();
        for port in &pending {
            println!("dialing {}:{port}...", target.address);
            if dial(&target.address, *port) {
                if !target.all {
                    return;
                }
                answered.push(*port);
            }
        }
        pending.retain(|port| !answered.contains(port));
        if pending.is_empty() {
            return;
        }
        std::thread::sleep(PAUSE);
    }
}

fn dial(address: &str, port: u16) -> bool {
    let Ok(addresses) = (address, port).to_socket_addrs() else {
        return false;
    };
    addresses
        .into_iter()
        .any(|socket| TcpStream::connect_timeout(&socket, DIAL_TIMEOUT).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variables(list: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        list.iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn docker_link_variables_name_the_address_and_ports() {
        let target = target_from_environment(variables(&[
            ("PATH", "/bin"),
            ("WAIT_FOR_SERVICE_TCP_ADDR", "10.0.0.2"),
            ("WAIT_FOR_SERVICE_6379_TCP_PORT", "6379"),
            ("WAIT_FOR_SERVICE_80_TCP_PORT", "80"),
        ]));
        assert_eq!(
            target,
            Some(Target {
                address: "10.0.0.2".to_owned(),
                ports: vec![80, 6379],
                all: false,
            })
        );
        assert_eq!(
            target_from_environment(variables(&[("X_TCP_PORT", "1")])),
            None
        );
        assert_eq!(
            target_from_environment(variables(&[("X_TCP_ADDR", "h")])),
            None
        );
    }

    #[test]
    fn a_listening_port_ends_the_wait() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // Returns only because the port answers; a broken dial would loop forever and the
        // test harness would report the hang.
        wait(&Target {
            address: "127.0.0.1".to_owned(),
            ports: vec![port],
            all: true,
        });
        assert!(dial("127.0.0.1", port));
        drop(listener);
    }
}
