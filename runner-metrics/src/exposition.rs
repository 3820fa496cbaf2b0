//! Text exposition: prometheus-client writes OpenMetrics; the Prometheus 0.0.4 text format
//! that upstream serves by default is derived from it line by line.

mod convert;
mod segments;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicUsize, Ordering};

use prometheus_client::registry::Registry;

use self::convert::{rename_colliding_counters, to_prometheus_text};
use crate::error::{Error, Result};

/// A text exposition format of `/metrics`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4, upstream's default.
    Prometheus,
    /// OpenMetrics 1.0 text, for scrapers that ask for it.
    OpenMetrics,
}

impl Format {
    /// Picks the format from an `Accept` header: OpenMetrics only when asked for by name.
    pub fn negotiate(accept: Option<&str>) -> Self {
        let wants_openmetrics = accept.is_some_and(|accept| {
            accept.split(',').any(|range| {
                let mut parts = range.split(';').map(str::trim);
                let media = parts.next().unwrap_or_default();
                let refused = parts.any(|p| p.replace(' ', "") == "q=0");
                media.eq_ignore_ascii_case("application/openmetrics-text") && !refused
            })
        });
        if wants_openmetrics {
            Self::OpenMetrics
        } else {
            Self::Prometheus
        }
    }

    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The buffer prometheus-client writes into. It writes a scrape piece by piece, and about
/// half of the pieces are one byte long (quotes, braces, `_`, spaces, newlines): pushing those
/// as a `char` spares a `memcpy` call each, about a tenth of a scrape in the bench.
struct Sink(String);

impl std::fmt::Write for Sink {
    #[inline]
    fn write_str(&mut self, piece: &str) -> std::fmt::Result {
        match piece.as_bytes() {
            // A one-byte `str` is ASCII.
            &[byte] => self.0.push(char::from(byte)),
            _ => self.0.push_str(piece),
        }
        Ok(())
    }
}

/// Length of the last OpenMetrics text encoded, the size hint of the next one: a registry
/// changes little between scrapes, and growing a `String` to ~700 KB from a small guess costs
/// more copying than the encoding itself. A process has one registry; with several, the hint
/// only costs some spare capacity.
static LAST_OPENMETRICS_LEN: AtomicUsize = AtomicUsize::new(0);

/// Encodes every metric of `registry` in `format`.
pub fn encode(registry: &Registry, format: Format) -> Result<String> {
    let last = LAST_OPENMETRICS_LEN.load(Ordering::Relaxed);
    // A margin for series created since the last scrape, so they do not trigger a regrowth.
    let mut sink = Sink(String::with_capacity((last + last / 16).max(64 * 1024)));
    prometheus_client::encoding::text::encode(&mut sink, registry).map_err(Error::Encode)?;
    let Sink(openmetrics) = sink;
    LAST_OPENMETRICS_LEN.store(openmetrics.len(), Ordering::Relaxed);
    Ok(match format {
        Format::OpenMetrics => rename_colliding_counters(openmetrics),
        Format::Prometheus => to_prometheus_text(&openmetrics),
    })
}
