//! Per-call cost of obs's attributes beside a bare call, a raw atomic add, a clock pair and the
//! peers doing the same job, sync and async, all in one run:
//!
//! ```text
//! cargo bench -p obs-benches --bench overhead
//! ```
//!
//! Groups run in this order, because tracing's global level hint only ever goes up once a
//! subscriber has been seen:
//!
//! - `sync`, `async`: no `tracing` subscriber (so `#[traced]` and `tracing::instrument` are
//!   level-disabled), fastrace with no reporter and no parent span;
//! - `registry`: the same `#[traced]` / `tracing::instrument` functions under a bare
//!   `tracing_subscriber::Registry` (scoped to the group);
//! - `fastrace_recording`: fastrace with a reporter set and a root span, so every call records
//!   a local span (a root per 1,000 calls; the reporter drops what it gets);
//! - `threads`: the same function called by one thread, then by two at once (per-call wall
//!   time of each thread).
//! - `exemplars`: obs's trace layer with a console exporter (run with stdout redirected: it
//!   prints every sampled span): `#[traced] #[timed]` with its span sampled (the span, its
//!   export and the exemplar) and unsampled, and `#[timed]` with no span beside the same
//!   function in a sampled span (the exemplar alone). `sync/obs_timed` is the row it must stay
//!   within 1 ns of.
//!
//! `benches/report.sh` reads the medians criterion writes and puts them in `BENCHMARKS.md`.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
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

/// The clock `#[timed]` reads: raw TSC ticks, scaled to nanoseconds once.
#[inline(never)]
fn quanta_clock_pair(clock: &quanta::Clock, x: u64) -> u64 {
    let start = clock.raw();
    let out = b::work(x);
    black_box(clock.delta_as_nanos(start, clock.raw()));
    out
}

#[inline(never)]
fn metrics_counter(x: u64) -> u64 {
    let out = b::work(x);
    metrics::counter!("function_calls_total", "function" => "metrics_counter", "status" => "ok")
        .increment(1);
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

/// Polls a future that completes on its first poll, as an executor would, without one.
#[inline]
fn poll_once<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => unreachable!("the benched futures complete on their first poll"),
    }
}

fn sync_fn(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, f: impl Fn(u64) -> u64) {
    group.bench_function(name, |bench| bench.iter(|| f(black_box(7))));
}

fn async_fn<F: Future<Output = u64>>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    f: impl Fn(u64) -> F,
) {
    group.bench_function(name, |bench| bench.iter(|| poll_once(f(black_box(7)))));
}

/// Half a second of warm-up and 1.5 s of samples: a case here takes nanoseconds, so that is
/// still millions of calls, and the 55 cases take 2 minutes rather than 4 (`report.sh`).
fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500));
}

#[allow(clippy::too_many_lines)] // one run, one list of cases
fn overhead(c: &mut Criterion) {
    // The `metrics` peer's recorder, installed the way its docs show; upkeep is left to scrapes.
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .expect("install metrics-exporter-prometheus");
    let cached_counter = metrics::counter!("cached_calls_total");
    let cached_histogram = metrics::histogram!("cached_duration_seconds");
    // The `prometheus` crate's own types, registered in a registry as its docs show.
    let registry = prometheus::Registry::new();
    let prom_counter = prometheus::IntCounter::new("calls_total", "calls").expect("counter");
    let prom_counter_vec = prometheus::IntCounterVec::new(
        prometheus::Opts::new("calls_by_fn_total", "calls"),
        &["function", "status"],
    )
    .expect("counter vec");
    let prom_histogram = prometheus::Histogram::with_opts(prometheus::HistogramOpts::new(
        "duration_seconds",
        "duration",
    ))
    .expect("histogram");
    registry.register(Box::new(prom_counter.clone())).unwrap();
    registry
        .register(Box::new(prom_counter_vec.clone()))
        .unwrap();
    registry.register(Box::new(prom_histogram.clone())).unwrap();
    let metered = b::Metered::default();
    let clock = quanta::Clock::new();

    let mut group = c.benchmark_group("sync");
    configure(&mut group);
    sync_fn(&mut group, "bare", b::bare);
    sync_fn(&mut group, "raw_atomic_add", raw_atomic);
    sync_fn(&mut group, "clock_pair", clock_pair);
    sync_fn(&mut group, "quanta_clock_pair", |x| {
        quanta_clock_pair(&clock, x)
    });
    sync_fn(&mut group, "obs_counted", b::counted);
    sync_fn(&mut group, "obs_timed", b::timed);
    sync_fn(&mut group, "obs_in_flight", b::in_flight);
    sync_fn(&mut group, "obs_counted_timed", b::counted_timed);
    sync_fn(&mut group, "obs_traced_disabled", b::traced);
    sync_fn(&mut group, "obs_all_four_disabled", b::all_four);
    sync_fn(&mut group, "tracing_instrument_disabled", b::instrumented);
    sync_fn(&mut group, "obs_traced_err_ret_disabled", |x| {
        b::traced_err_ret(x).unwrap_or(0)
    });
    sync_fn(&mut group, "tracing_instrument_err_ret_disabled", |x| {
        b::instrumented_err_ret(x).unwrap_or(0)
    });
    sync_fn(&mut group, "obs_traced_record_disabled", b::traced_record);
    sync_fn(&mut group, "fastrace_no_reporter", b::fastraced);
    sync_fn(&mut group, "metrics_counter_per_call", metrics_counter);
    sync_fn(&mut group, "metrics_counter_cached", |x| {
        let out = b::work(x);
        cached_counter.increment(1);
        out
    });
    sync_fn(&mut group, "metrics_histogram_per_call", metrics_histogram);
    sync_fn(&mut group, "metrics_histogram_cached", |x| {
        let start = Instant::now();
        let out = b::work(x);
        cached_histogram.record(start.elapsed().as_secs_f64());
        out
    });
    sync_fn(&mut group, "prometheus_int_counter", |x| {
        let out = b::work(x);
        prom_counter.inc();
        out
    });
    sync_fn(&mut group, "prometheus_counter_with_label_values", |x| {
        let out = b::work(x);
        prom_counter_vec.with_label_values(&["f", "ok"]).inc();
        out
    });
    sync_fn(&mut group, "prometheus_histogram_timer", |x| {
        let timer = prom_histogram.start_timer();
        let out = b::work(x);
        timer.observe_duration();
        out
    });
    sync_fn(&mut group, "metered_hit_count", |x| metered.hit_count(x));
    sync_fn(&mut group, "metered_all", |x| metered.all(x).unwrap_or(0));
    group.finish();

    let mut group = c.benchmark_group("async");
    configure(&mut group);
    async_fn(&mut group, "bare", b::bare_async);
    async_fn(&mut group, "obs_counted", b::counted_async);
    async_fn(&mut group, "obs_timed", b::timed_async);
    async_fn(&mut group, "obs_in_flight", b::in_flight_async);
    async_fn(&mut group, "obs_counted_timed", b::counted_timed_async);
    async_fn(&mut group, "obs_traced_disabled", b::traced_async);
    async_fn(&mut group, "obs_all_four_disabled", b::all_four_async);
    async_fn(
        &mut group,
        "tracing_instrument_disabled",
        b::instrumented_async,
    );
    async_fn(&mut group, "fastrace_no_reporter", b::fastraced_async);
    async_fn(&mut group, "metered_hit_count", |x| {
        metered.hit_count_async(x)
    });
    let metered = &metered;
    async_fn(&mut group, "metered_all", |x| async move {
        metered.all_async(x).await.unwrap_or(0)
    });
    group.finish();

    // A bare Registry: spans are built, entered and closed, nothing is exported.
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry::Registry::default());
    tracing::dispatcher::with_default(&dispatch, || {
        let mut group = c.benchmark_group("registry");
        configure(&mut group);
        sync_fn(&mut group, "bare", b::bare);
        sync_fn(&mut group, "obs_traced", b::traced);
        sync_fn(&mut group, "obs_all_four", b::all_four);
        sync_fn(&mut group, "tracing_instrument", b::instrumented);
        async_fn(&mut group, "bare_async", b::bare_async);
        async_fn(&mut group, "obs_traced_async", b::traced_async);
        async_fn(&mut group, "obs_all_four_async", b::all_four_async);
        async_fn(
            &mut group,
            "tracing_instrument_async",
            b::instrumented_async,
        );
        group.finish();
    });

    fastrace::set_reporter(DropReporter, fastrace::collector::Config::default());
    let mut group = c.benchmark_group("fastrace_recording");
    configure(&mut group);
    group.bench_function("bare", |bench| bench.iter(|| b::bare(black_box(7))));
    group.bench_function("fastrace_trace", |bench| {
        bench.iter_custom(|iters| under_roots(iters, || black_box(b::fastraced(black_box(7)))));
    });
    group.bench_function("fastrace_trace_async", |bench| {
        bench.iter_custom(|iters| {
            under_roots(iters, || {
                black_box(poll_once(b::fastraced_async(black_box(7))))
            })
        });
    });
    group.finish();
    fastrace::flush();

    let mut group = c.benchmark_group("threads");
    configure(&mut group);
    let cases: [Case; 6] = [
        ("bare", b::bare),
        ("raw_atomic_add", raw_atomic),
        ("obs_counted", b::counted),
        ("obs_timed", b::timed),
        ("obs_in_flight", b::in_flight),
        ("obs_counted_timed", b::counted_timed),
    ];
    for (name, f) in cases {
        group.bench_function(format!("{name}/1"), |bench| {
            bench.iter_custom(|iters| on_threads(1, iters, f));
        });
        group.bench_function(format!("{name}/2"), |bench| {
            bench.iter_custom(|iters| on_threads(2, iters, f));
        });
    }
    group.finish();

    exemplars(c);

    // Drain what the `metrics` peer buffered, as a scrape would.
    black_box(handle.render().len());
    black_box(registry.gather().len());
}

/// Exemplars: the cost with the current span sampled, unsampled and absent.
fn exemplars(c: &mut Criterion) {
    use tracing_subscriber::layer::SubscriberExt as _;

    for (sampler, case) in [
        (obs_runtime::Sampler::AlwaysOn, "sampled"),
        (obs_runtime::Sampler::AlwaysOff, "unsampled"),
    ] {
        let obs = obs_runtime::Builder::new()
            .without_server()
            .without_subscriber()
            .without_recorder()
            .without_process_metrics()
            .env(|_| None)
            .traces_exporter(obs_runtime::TracesExporter::Console)
            .sampler(sampler)
            .install()
            .expect("install obs");
        let subscriber = tracing_subscriber::registry().with(obs_runtime::trace_layer());
        tracing::subscriber::with_default(subscriber, || {
            let mut group = c.benchmark_group("exemplars");
            configure(&mut group);
            sync_fn(
                &mut group,
                &format!("obs_traced_timed_{case}"),
                b::traced_timed,
            );
            if case == "sampled" {
                sync_fn(&mut group, "obs_timed_no_span", b::timed);
                let span = tracing::info_span!("request");
                let _entered = span.enter();
                sync_fn(&mut group, "obs_timed_in_sampled_span", b::timed);
            }
            group.finish();
        });
        drop(obs);
    }
}

/// A function measured on one thread and on two.
type Case = (&'static str, fn(u64) -> u64);

/// fastrace's reporter for the bench: spans reach it through fastrace's collector thread, as
/// they would reach an exporter, and are dropped.
struct DropReporter;

impl fastrace::collector::Reporter for DropReporter {
    fn report(&mut self, spans: Vec<fastrace::prelude::SpanRecord>) {
        black_box(spans.len());
    }
}

/// Runs `iters` calls of `f` under fastrace root spans of 1,000 calls each, so each call
/// records a child span; the time includes the roots, amortised.
fn under_roots(iters: u64, mut f: impl FnMut() -> u64) -> Duration {
    let start = Instant::now();
    let mut left = iters;
    while left > 0 {
        let chunk = left.min(1_000);
        let root = fastrace::Span::root("bench", fastrace::prelude::SpanContext::random());
        let guard = root.set_local_parent();
        for _ in 0..chunk {
            f();
        }
        drop(guard);
        drop(root);
        left -= chunk;
    }
    start.elapsed()
}

/// Wall time of `iters` calls of `f` on each of `threads` threads started together: with two
/// threads hitting one function's cells, this is the per-call cost under contention.
fn on_threads(threads: usize, iters: u64, f: fn(u64) -> u64) -> Duration {
    let barrier = Barrier::new(threads);
    let run = || {
        for i in 0..iters {
            black_box(f(black_box(i)));
        }
    };
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(|| {
                barrier.wait();
                run();
            });
        }
        barrier.wait();
        let start = Instant::now();
        run();
        // Scoped threads are joined here, before the clock is read: the slowest thread counts.
        start
    })
    .elapsed()
}

criterion_group!(benches, overhead);
criterion_main!(benches);
