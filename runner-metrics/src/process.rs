//! `process_*` metrics read from `/proc/self` at scrape time, with the names and meanings of
//! the Prometheus client libraries' process collector. Nothing is reported where `/proc` is
//! missing; a file that cannot be read drops only its metrics from that scrape.

use std::path::PathBuf;
use std::sync::OnceLock;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

/// Linux reports times in `/proc/<pid>/stat` in clock ticks of `USER_HZ`, which is 100 on
/// every architecture the runner supports (the Go procfs library makes the same assumption).
const USER_HZ: f64 = 100.0;

/// Collector of the `process_*` families for the process whose `/proc` directory it reads.
#[derive(Debug)]
pub(crate) struct ProcessCollector {
    proc_root: PathBuf,
    /// `btime` of `/proc/stat`, read once: the boot time does not change while the process
    /// lives, and the kernel formats every CPU's counters each time the file is read.
    boot_time: OnceLock<f64>,
}

/// One reading of the process' resource usage.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ProcessSample {
    pub(crate) cpu_seconds: Option<f64>,
    pub(crate) start_time_seconds: Option<f64>,
    pub(crate) resident_memory_bytes: Option<f64>,
    pub(crate) virtual_memory_bytes: Option<f64>,
    pub(crate) virtual_memory_max_bytes: Option<f64>,
    pub(crate) open_fds: Option<f64>,
    pub(crate) max_fds: Option<f64>,
    pub(crate) network_receive_bytes: Option<f64>,
    pub(crate) network_transmit_bytes: Option<f64>,
}

impl ProcessCollector {
    pub(crate) fn for_self() -> Self {
        Self {
            proc_root: PathBuf::from("/proc"),
            boot_time: OnceLock::new(),
        }
    }

    pub(crate) fn sample(&self) -> ProcessSample {
        let dir = self.proc_root.join("self");
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
        let mut sample = ProcessSample::default();
        if let Some(stat) = read("stat") {
            if let Some(parsed) = parse_stat(&stat) {
                sample.cpu_seconds = Some((parsed.utime + parsed.stime) / USER_HZ);
                sample.start_time_seconds = self
                    .boot_time()
                    .map(|boot| boot + parsed.starttime / USER_HZ);
            }
        }
        if let Some(status) = read("status") {
            sample.resident_memory_bytes = status_kib(&status, "VmRSS:");
            sample.virtual_memory_bytes = status_kib(&status, "VmSize:");
        }
        if let Some(limits) = read("limits") {
            sample.max_fds = soft_limit(&limits, "Max open files");
            sample.virtual_memory_max_bytes = soft_limit(&limits, "Max address space");
        }
        sample.open_fds = std::fs::read_dir(dir.join("fd"))
            .ok()
            .map(|entries| entries.count() as f64);
        if let Some(netstat) = read("net/netstat") {
            sample.network_receive_bytes = netstat_value(&netstat, "IpExt:", "InOctets");
            sample.network_transmit_bytes = netstat_value(&netstat, "IpExt:", "OutOctets");
        }
        sample
    }
}

impl ProcessCollector {
    /// A failed read is not cached, so a later scrape tries again.
    fn boot_time(&self) -> Option<f64> {
        if let Some(boot_time) = self.boot_time.get() {
            return Some(*boot_time);
        }
        let boot_time = std::fs::read_to_string(self.proc_root.join("stat"))
            .ok()
            .and_then(|text| parse_boot_time(&text))?;
        Some(*self.boot_time.get_or_init(|| boot_time))
    }
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let sample = self.sample();
        let families: [(&str, &str, MetricType, Option<f64>); 9] = [
            (
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds.",
                MetricType::Counter,
                sample.cpu_seconds,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors.",
                MetricType::Gauge,
                sample.open_fds,
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors.",
                MetricType::Gauge,
                sample.max_fds,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                MetricType::Gauge,
                sample.virtual_memory_bytes,
            ),
            (
                "process_virtual_memory_max_bytes",
                "Maximum amount of virtual memory available in bytes.",
                MetricType::Gauge,
                sample.virtual_memory_max_bytes,
            ),
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                MetricType::Gauge,
                sample.resident_memory_bytes,
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                MetricType::Gauge,
                sample.start_time_seconds,
            ),
            (
                "process_network_receive_bytes",
                "Number of bytes received by the process over the network.",
                MetricType::Counter,
                sample.network_receive_bytes,
            ),
            (
                "process_network_transmit_bytes",
                "Number of bytes sent by the process over the network.",
                MetricType::Counter,
                sample.network_transmit_bytes,
            ),
        ];
        for (name, help, metric_type, value) in families {
            let Some(value) = value else { continue };
            let mut metric = encoder.encode_descriptor(name, help, None, metric_type)?;
            match metric_type {
                MetricType::Counter => metric.encode_counter::<NoLabelSet, _, f64>(&value, None)?,
                _ => metric.encode_gauge(&value)?,
            }
        }
        Ok(())
    }
}

#[derive(Debug, PartialEq)]
struct StatFields {
    utime: f64,
    stime: f64,
    starttime: f64,
}

/// Fields 14, 15 and 22 of `/proc/<pid>/stat`. The command name (field 2) may contain spaces
/// and parentheses, so counting starts after its last `)`.
fn parse_stat(stat: &str) -> Option<StatFields> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    // `fields[0]` is field 3 (state).
    let field = |number: usize| fields.get(number - 3)?.parse::<f64>().ok();
    Some(StatFields {
        utime: field(14)?,
        stime: field(15)?,
        starttime: field(22)?,
    })
}

fn parse_boot_time(stat: &str) -> Option<f64> {
    stat.lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|value| value.trim().parse().ok())
}

fn status_kib(status: &str, key: &str) -> Option<f64> {
    let line = status.lines().find(|line| line.starts_with(key))?;
    let kib: f64 = line[key.len()..].split_whitespace().next()?.parse().ok()?;
    Some(kib * 1024.0)
}

/// Soft limit of a row of `/proc/<pid>/limits`; `unlimited` is reported like Go does, as the
/// largest 64-bit value.
fn soft_limit(limits: &str, row: &str) -> Option<f64> {
    let line = limits.lines().find(|line| line.starts_with(row))?;
    match line[row.len()..].split_whitespace().next()? {
        "unlimited" => Some(u64::MAX as f64),
        value => value.parse().ok(),
    }
}

/// A counter of `/proc/<pid>/net/netstat`, whose sections are a header line of names
/// followed by a line of values, both starting with the section prefix.
fn netstat_value(netstat: &str, section: &str, name: &str) -> Option<f64> {
    let mut lines = netstat.lines().filter(|line| line.starts_with(section));
    let names = lines.next()?;
    let values = lines.next()?;
    let index = names.split_whitespace().position(|n| n == name)?;
    values.split_whitespace().nth(index)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_spaces_in_command_name() {
        let stat = "1234 (my (odd) cmd) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 \
                    4 0 98765 1000000 500 18446744073709551615";
        assert_eq!(
            parse_stat(stat),
            Some(StatFields {
                utime: 250.0,
                stime: 50.0,
                starttime: 98765.0
            })
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn status_limits_and_netstat() {
        assert_eq!(
            status_kib("Name:\tx\nVmRSS:\t   2048 kB\n", "VmRSS:"),
            Some(2_097_152.0)
        );
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n\
                      Max address space         unlimited            unlimited            bytes\n";
        assert_eq!(soft_limit(limits, "Max open files"), Some(1024.0));
        assert_eq!(
            soft_limit(limits, "Max address space"),
            Some(u64::MAX as f64)
        );
        let netstat = "TcpExt: SyncookiesSent X\nTcpExt: 0 1\nIpExt: InNoRoutes InOctets OutOctets\n\
                       IpExt: 0 1500 900\n";
        assert_eq!(netstat_value(netstat, "IpExt:", "InOctets"), Some(1500.0));
        assert_eq!(netstat_value(netstat, "IpExt:", "OutOctets"), Some(900.0));
        assert_eq!(parse_boot_time("cpu 1 2\nbtime 1700000000\n"), Some(1.7e9));
    }

    #[test]
    fn live_sample_of_this_process_is_sane() {
        let sample = ProcessCollector::for_self().sample();
        if !std::path::Path::new("/proc/self/stat").exists() {
            return;
        }
        assert!(sample.resident_memory_bytes.unwrap() > 0.0);
        assert!(sample.open_fds.unwrap() > 0.0);
        assert!(sample.max_fds.unwrap() >= sample.open_fds.unwrap());
    }
}
