//! Memory of 10 million timed calls with no scrape, obs beside metrics-exporter-prometheus,
//! in one run: `cargo bench -p obs-benches --bench memory`. Prints the growth of the resident
//! set after each.

use std::hint::black_box;
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

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
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
}
