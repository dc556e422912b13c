//! What one OTLP metrics push costs the exporter thread, beside rendering the text page of the
//! same series in the same run: 10,000 series, half counters and half histograms.
//!
//! ```text
//! cargo bench -p obs-benches --bench metrics_push
//! ```
//!
//! - `metrics_push/otlp/10000`: the page gathered as `render()` gathers it and written as one
//!   `ExportMetricsServiceRequest` (cumulative), what the pusher does each interval before it
//!   sends. The target is at most 50 ms of CPU.
//! - `metrics_push/text/10000`: `render()`, the text page of the same series: the peer.
//! - `metrics_push/call/quiet` and `metrics_push/call/while_pushing`: one call of the
//!   instrumented function (`#[counted]`, `#[timed]`, a label from the call, an existing
//!   series) on this thread, alone and while another thread encodes pushes of the 10,000
//!   series back to back: the worst case of the issue's "the instrumented calls' cost
//!   unchanged while it runs" (a real pusher reads the cells once a minute). The reader only
//!   loads the cells the caller writes, so what it can cost the caller is the cache lines it
//!   takes away.
//! - Printed before the groups: the request's and the page's sizes, and the CPU time of each
//!   on this thread (user + system, from `/proc/thread-self/stat`, over 40 runs): on a shared
//!   machine the wall time criterion reports includes the waits for a core, which the
//!   exporter's budget (CPU time) does not.
//!
//! The series: one function, `#[counted]` and `#[timed]` with a label from the call, called
//! with 2,500 values, each once `ok` and once `error`: 5,000 counter series and 5,000
//! histogram series of the 22 default buckets. Sending is not measured: it is the transport's
//! (`benches/spans.rs` measures it for spans).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

/// Label values per metric: each gives an `ok` and an `error` series.
const SHARDS: u32 = 2_500;

#[obs_runtime::counted(labels(shard = shard))]
#[obs_runtime::timed(labels(shard = shard))]
fn work(shard: u32, fail: bool) -> Result<u32, String> {
    if fail {
        Err(format!("shard {shard} failed"))
    } else {
        Ok(shard)
    }
}

fn metrics_push(c: &mut Criterion) {
    obs_runtime::set_series_limit(2 * SHARDS as usize);
    for shard in 0..SHARDS {
        let _ = black_box(work(shard, false));
        let _ = black_box(work(shard, true));
    }
    let mut request = Vec::new();
    let points = obs_runtime::__private::otlp_metrics_encode(&mut request);
    let text = obs_runtime::render();
    println!(
        "{points} series: OTLP request {} bytes, text page {} bytes",
        request.len(),
        text.len()
    );
    assert_eq!(points, 4 * u64::from(SHARDS), "10,000 series");
    let otlp = cpu_ms_per_run(|| {
        black_box(obs_runtime::__private::otlp_metrics_encode(&mut request));
    });
    let text = cpu_ms_per_run(|| {
        black_box(obs_runtime::render());
    });
    if let (Some(otlp), Some(text)) = (otlp, text) {
        println!(
            "CPU per run on this thread: OTLP push {otlp:.1} ms, text page {text:.1} ms ({:.2} x)",
            otlp / text
        );
    }

    let mut group = c.benchmark_group("metrics_push");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("otlp/10000", |bench| {
        bench.iter(|| obs_runtime::__private::otlp_metrics_encode(black_box(&mut request)));
    });
    group.bench_function("text/10000", |bench| bench.iter(obs_runtime::render));
    group.finish();

    calls_while_pushing(c);
}

/// A call's cost alone, then while another thread pushes back to back.
fn calls_while_pushing(c: &mut Criterion) {
    let mut group = c.benchmark_group("metrics_push/call");
    group.sample_size(50);
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("quiet", |bench| {
        bench.iter(|| black_box(work(black_box(7), false)));
    });
    let stop = std::sync::atomic::AtomicBool::new(false);
    let pushes = std::thread::scope(|scope| {
        let pusher = scope.spawn(|| {
            let mut request = Vec::new();
            let mut pushes = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                black_box(obs_runtime::__private::otlp_metrics_encode(&mut request));
                pushes += 1;
            }
            pushes
        });
        group.bench_function("while_pushing", |bench| {
            bench.iter(|| black_box(work(black_box(7), false)));
        });
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        pusher.join().unwrap_or(0)
    });
    group.finish();
    println!("pushes encoded while `while_pushing` ran: {pushes}");
    assert!(pushes > 0, "the pusher ran beside the calls");
}

/// This thread's CPU time (user + system) in clock ticks, from `/proc/thread-self/stat`.
fn thread_cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // After the command name in parentheses: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some(user + system)
}

/// Milliseconds of this thread's CPU per run of `f`, over 40 runs (a tick is 10 ms).
fn cpu_ms_per_run(mut f: impl FnMut()) -> Option<f64> {
    const RUNS: u32 = 40;
    let before = thread_cpu_ticks()?;
    for _ in 0..RUNS {
        f();
    }
    let ticks = thread_cpu_ticks()? - before;
    #[allow(clippy::cast_precision_loss)]
    Some(ticks as f64 * 10.0 / f64::from(RUNS))
}

criterion_group!(benches, metrics_push);
criterion_main!(benches);
