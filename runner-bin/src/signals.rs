//! Unix signals of `run` and `run-single` mapped onto the two shutdown tokens
//! (cli.md 2.3): SIGQUIT stops taking jobs, SIGTERM/SIGINT also abort running ones,
//! a signal during a forceful shutdown exits at once, SIGHUP asks for a reload.

use runner_agent::Shutdown;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

/// What the process has been asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Request {
    /// Reload the configuration now (SIGHUP).
    Reload,
    /// A signal arrived while a forceful shutdown was already under way: exit now.
    ForceExit(&'static str),
}

/// Installs the handlers and returns the channel of requests the main loop acts on.
///
/// The handler task lives as long as the process: it is owned by the runtime and
/// ends with it, which is the lifetime a signal handler has to have.
pub(crate) fn listen(shutdown: Shutdown) -> std::io::Result<mpsc::UnboundedReceiver<Request>> {
    let mut quit = signal(SignalKind::quit())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let name = tokio::select! {
                _ = quit.recv() => "quit",
                _ = terminate.recv() => "terminated",
                _ = interrupt.recv() => "interrupt",
                _ = hangup.recv() => {
                    if sender.send(Request::Reload).is_err() { return; }
                    continue;
                }
            };
            tracing::warn!(stop_signal = name, "[runWait] received stop signal");
            if shutdown.abort.is_cancelled() {
                // A second signal during a forceful shutdown: upstream exits at once.
                let _ = sender.send(Request::ForceExit(name));
                return;
            }
            if name == "quit" {
                shutdown.stop(name);
            } else {
                shutdown.abort(name);
            }
        }
    });
    Ok(receiver)
}
