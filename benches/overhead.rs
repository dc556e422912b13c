//! Per-call cost of the attributes beside a bare call, a raw atomic add, a clock pair and the
//! `metrics` crate with metrics-exporter-prometheus, all in one run:
//! `cargo bench -p obs-benches --bench overhead`. No subscriber is installed, so `#[traced]`
//! and `tracing::instrument` are measured with their level disabled.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use obs_benches as b;

static RAW: AtomicU64 = AtomicU64::new(0);

#[inline(never)]
fn raw_atomic(x: u64) -> u64 {
    let out = b::work(x);
    RAW.fetch_add(1, Ordering::Relaxed);
    out
}

#[inline(never)]
fn clock_pair(x: u64) -> u64 {
    let start = Instant::now();
    let out = b::work(x);
    black_box(start.elapsed());
    out
}

#[inline(never)]
fn metrics_counter(x: u64) -> u64 {
    let out = b::work(x);
    metrics::counter!("function_calls_total", "function" => "metrics_counter", "status" => "ok").increment(1);
    out
}

#[inline(never)]
fn metrics_histogram(x: u64) -> u64 {
    let start = Instant::now();
    let out = b::work(x);
    metrics::histogram!("function_duration_seconds", "function" => "metrics_histogram", "status" => "ok")
        .record(start.elapsed().as_secs_f64());
    out
}

fn overhead(c: &mut Criterion) {
    // The peer's recorder, installed the way its docs show; its upkeep is left to scrapes.
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .expect("install metrics-exporter-prometheus");
    let cached_counter = metrics::counter!("cached_calls_total");
    let cached_histogram = metrics::histogram!("cached_duration_seconds");

    let mut group = c.benchmark_group("overhead");
    group.bench_function("bare", |bench| bench.iter(|| b::bare(black_box(7))));
    group.bench_function("raw_atomic_add", |bench| bench.iter(|| raw_atomic(black_box(7))));
    group.bench_function("clock_pair", |bench| bench.iter(|| clock_pair(black_box(7))));
    group.bench_function("obs_counted", |bench| bench.iter(|| b::counted(black_box(7))));
    group.bench_function("obs_timed", |bench| bench.iter(|| b::timed(black_box(7))));
    group.bench_function("obs_in_flight", |bench| bench.iter(|| b::in_flight(black_box(7))));
    group.bench_function("obs_counted_timed", |bench| bench.iter(|| b::counted_timed(black_box(7))));
    group.bench_function("obs_traced_disabled", |bench| bench.iter(|| b::traced(black_box(7))));
    group.bench_function("tracing_instrument_disabled", |bench| bench.iter(|| b::instrumented(black_box(7))));
    group.bench_function("metrics_counter_per_call", |bench| bench.iter(|| metrics_counter(black_box(7))));
    group.bench_function("metrics_counter_cached", |bench| {
        bench.iter(|| {
            let out = b::work(black_box(7));
            cached_counter.increment(1);
            out
        });
    });
    group.bench_function("metrics_histogram_per_call", |bench| bench.iter(|| metrics_histogram(black_box(7))));
    group.bench_function("metrics_histogram_cached", |bench| {
        bench.iter(|| {
            let start = Instant::now();
            let out = b::work(black_box(7));
            cached_histogram.record(start.elapsed().as_secs_f64());
            out
        });
    });
    group.finish();
    // Drain what the peer buffered, as a scrape would.
    black_box(handle.render().len());
}

criterion_group!(benches, overhead);
criterion_main!(benches);
