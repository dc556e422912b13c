//! The process's own metrics, under the names every Prometheus client library uses, so the
//! usual dashboards and alerts on memory, CPU and file descriptors work unchanged:
//!
//! | series | type | |
//! |---|---|---|
//! | `process_cpu_seconds_total` | counter | user and system CPU time |
//! | `process_resident_memory_bytes` | gauge | resident set size |
//! | `process_virtual_memory_bytes` | gauge | virtual memory size |
//! | `process_open_fds` | gauge | open file descriptors |
//! | `process_max_fds` | gauge | the soft limit on them |
//! | `process_start_time_seconds` | gauge | start time, Unix seconds (uptime is `time() -` it) |
//!
//! They are on the page once [`init`](crate::init) ran, read from `/proc` at each scrape, on
//! Linux; elsewhere, and for any file that cannot be read, the series is left out.
//! [`Builder::without_process_metrics`](crate::Builder::without_process_metrics) leaves them
//! off.

use core::sync::atomic::{AtomicBool, Ordering};

use crate::exposition::{Collector, Labels, MetricKind};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// `/proc` reports CPU times in `USER_HZ` ticks, 100 per second on every Linux architecture
/// (what `sysconf(_SC_CLK_TCK)` returns; Prometheus' own procfs reader assumes it too).
const USER_HZ: f64 = 100.0;

/// Puts the process's metrics on the page from now on.
pub(crate) fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// When the process started, in Unix nanoseconds, read once: the created timestamp of the
/// protobuf page's counters and histograms. `None` where `/proc` does not say.
pub(crate) fn start_unix_nanos() -> Option<u64> {
    static START: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *START.get_or_init(|| {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // a positive time
        read().start_time_seconds.map(|s| (s * 1e9) as u64)
    })
}

/// What `/proc` says of this process.
#[derive(Debug, Default, PartialEq)]
struct Sample {
    cpu_seconds: Option<f64>,
    resident_bytes: Option<f64>,
    virtual_bytes: Option<f64>,
    open_fds: Option<f64>,
    max_fds: Option<f64>,
    start_time_seconds: Option<f64>,
}

/// Adds the process's series, if enabled.
pub(crate) fn collect(out: &mut Collector) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    let sample = read();
    let none = Labels::empty();
    if let Some(cpu) = sample.cpu_seconds {
        out.family(
            "process_cpu_seconds_total",
            MetricKind::Counter,
            "Total user and system CPU time spent in seconds.",
        )
        .counter_f64(&none, cpu);
    }
    let gauges = [
        (
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            sample.resident_bytes,
        ),
        (
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            sample.virtual_bytes,
        ),
        (
            "process_open_fds",
            "Number of open file descriptors.",
            sample.open_fds,
        ),
        (
            "process_max_fds",
            "Maximum number of open file descriptors.",
            sample.max_fds,
        ),
        (
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            sample.start_time_seconds,
        ),
    ];
    for (name, help, value) in gauges {
        if let Some(value) = value {
            out.family(name, MetricKind::Gauge, help)
                .gauge(&none, value);
        }
    }
}

#[cfg(target_os = "linux")]
fn read() -> Sample {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let mut sample = read("/proc/self/stat")
        .map(|stat| parse_stat(&stat, read("/proc/stat").as_deref().and_then(boot_time)))
        .unwrap_or_default();
    sample.resident_bytes = read("/proc/self/status")
        .as_deref()
        .and_then(resident_bytes);
    sample.open_fds = std::fs::read_dir("/proc/self/fd").ok().map(|dir| {
        #[allow(clippy::cast_precision_loss)] // a count of descriptors
        let n = dir.count() as f64;
        n
    });
    sample.max_fds = read("/proc/self/limits")
        .as_deref()
        .and_then(max_open_files);
    sample
}

#[cfg(not(target_os = "linux"))]
fn read() -> Sample {
    Sample::default()
}

/// CPU time, virtual memory and start time from `/proc/self/stat`; `boot_time` is `btime`
/// of `/proc/stat`, in Unix seconds.
fn parse_stat(stat: &str, boot_time: Option<f64>) -> Sample {
    // `pid (comm) state ppid …`: the command may hold spaces and parentheses, so the fields
    // are counted from after its last `)`. Field n (1-based, as in proc(5)) is at n - 3.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<f64>().ok());
    let cpu_seconds = field(14)
        .zip(field(15))
        .map(|(user, system)| (user + system) / USER_HZ);
    let start_time_seconds = field(22)
        .zip(boot_time)
        .map(|(ticks, boot)| boot + ticks / USER_HZ);
    Sample {
        cpu_seconds,
        virtual_bytes: field(23),
        start_time_seconds,
        ..Sample::default()
    }
}

/// `btime` of `/proc/stat`: when the machine booted, in Unix seconds.
fn boot_time(stat: &str) -> Option<f64> {
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// `VmRSS` of `/proc/self/status`, in bytes.
fn resident_bytes(status: &str) -> Option<f64> {
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse::<f64>()
        .ok()?;
    Some(kb * 1024.0)
}

/// The soft limit on open files in `/proc/self/limits`; `None` when unlimited.
fn max_open_files(limits: &str) -> Option<f64> {
    limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files_as_the_kernel_writes_them() {
        // A command with a space and a parenthesis in it.
        let stat = "4242 (my (odd) app) S 1 4242 4242 0 -1 4194560 2000 0 0 0 250 125 0 0 20 0 \
                    9 0 360000 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 \
                    17 1 0 0 0 0 0";
        let sample = parse_stat(stat, Some(1_700_000_000.0));
        assert_eq!(sample.cpu_seconds, Some(3.75));
        assert_eq!(sample.virtual_bytes, Some(104_857_600.0));
        assert_eq!(sample.start_time_seconds, Some(1_700_003_600.0));
        assert_eq!(parse_stat("garbage", None), Sample::default());

        assert_eq!(
            boot_time("cpu  1 2 3\nbtime 1700000000\nprocesses 9\n"),
            Some(1_700_000_000.0)
        );
        assert_eq!(
            resident_bytes("Name:\tapp\nVmRSS:\t    2048 kB\nThreads:\t9\n"),
            Some(2_097_152.0)
        );
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(max_open_files(limits), Some(1024.0));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(max_open_files(unlimited), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process() {
        let sample = read();
        assert!(sample.cpu_seconds.is_some_and(|s| s >= 0.0), "{sample:?}");
        assert!(sample.resident_bytes.is_some_and(|b| b > 1e5), "{sample:?}");
        assert!(sample.open_fds.is_some_and(|n| n >= 3.0), "{sample:?}");
        assert!(
            sample.start_time_seconds.is_some_and(|t| t > 1e9),
            "{sample:?}"
        );
    }
}
