//! Memory of 10 million timed calls with no scrape, obs beside metrics-exporter-prometheus, in
//! one run: `cargo bench -p obs-benches --bench memory`.
//!
//! Prints the growth of the resident set after each, and fails (exit status 1) if obs's
//! `#[timed]` grew the process by 1 MiB or more: its memory is fixed per function, whatever the
//! number of calls. The peer buffers every observation until a scrape or an upkeep drains it.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

const CALLS: u64 = 10_000_000;
const LIMIT_KIB: u64 = 1024;

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; there is nothing to choose, arguments are ignored.
    let before = rss_kib();
    for i in 0..CALLS {
        black_box(obs_benches::timed(black_box(i)));
    }
    let obs = rss_kib().saturating_sub(before);

    let _handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .expect("install metrics-exporter-prometheus");
    let histogram = metrics::histogram!("function_duration_seconds", "function" => "timed");
    let before = rss_kib();
    for i in 0..CALLS {
        let start = Instant::now();
        black_box(obs_benches::work(black_box(i)));
        histogram.record(start.elapsed().as_secs_f64());
    }
    let peer = rss_kib().saturating_sub(before);

    println!("memory/obs_timed_10M_calls_rss_growth_kib {obs}");
    println!("memory/metrics_exporter_prometheus_10M_records_rss_growth_kib {peer}");
    if obs < LIMIT_KIB {
        println!("memory/target obs < {LIMIT_KIB} KiB: met");
        ExitCode::SUCCESS
    } else {
        println!("memory/target obs < {LIMIT_KIB} KiB: MISSED");
        ExitCode::FAILURE
    }
}
