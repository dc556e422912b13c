//! What recording and exporting a span costs the calling thread: obs beside
//! tracing-opentelemetry, fastrace and a bare `tracing_subscriber::Registry`, one after
//! another in one process, every exporter sending OTLP/HTTP to the same local receiver
//! (`receiver.rs`); then the spans per second obs's exporter sustains.
//!
//! ```text
//! cargo bench -p obs-benches --bench spans 2>/dev/null
//! ```
//!
//! (obs's JSON logs go to standard error: send it to a sink.) Each case runs the same nested
//! shape, one `handle` calling three `leaf`s, every function instrumented (`benches/lib.rs`), so
//! an iteration closes four spans (`Throughput::Elements(4)`; criterion's time is per
//! `handle`). Each case runs under its own subscriber with `tracing::subscriber::with_default`,
//! in this order:
//!
//! - `spans/registry_floor`: `#[tracing::instrument]` under a bare `Registry`, nothing exported;
//! - `spans/obs_no_exporter`: `#[traced]` under a `Registry` with obs's `trace_layer()`, obs
//!   installed with `TracesExporter::None`;
//! - `spans/obs_unsampled`: the same with an OTLP exporter and `Sampler::AlwaysOff`;
//! - `spans/obs_exported`: OTLP/HTTP to the receiver, `Sampler::AlwaysOn`;
//! - `spans/obs_init_no_exporter`, `spans/obs_init_unsampled`, `spans/obs_init_exported`: the
//!   same three under the subscriber `init()` installs (`__private::init_subscriber`: the
//!   trace layer behind `OBS_TRACES_FILTER`'s default, the text log layer at `info`), the one
//!   a user of `init()` pays;
//! - `spans/obs_tail_1pct_errors`: the same with tail sampling (`errors,ratio=0.01`) on
//!   `obs_handle_fallible`, whose last leaf fails in 1 % of the calls: every span recorded,
//!   1 % of the traces kept from their start, the failed ones kept at their end, the rest
//!   held in their trace and dropped whole where its root closes;
//! - `spans/obs_init_tail_1pct_errors`: the same under the subscriber `init()` installs;
//! - `spans/obs_collector_down`: the same to a port nobody listens on (issue 13's faults: the
//!   calling thread should pay what it pays when the collector is healthy);
//! - `spans/obs_json_logs`: the same, a `tracing::info!` in each leaf, and obs's
//!   `log_layer(LogFormat::Json)` (at `INFO`) in the subscriber;
//! - `spans/tracing_otel`: `#[tracing::instrument]` under a `Registry` with
//!   tracing-opentelemetry 0.34, the SDK 0.33's batch span processor (its own thread) and
//!   opentelemetry-otlp 0.33's HTTP/protobuf exporter on its default blocking reqwest client;
//! - `spans/fastrace`: fastrace 0.7 `#[trace]` leaves under a root span per `handle`, reported
//!   by fastrace-opentelemetry 0.19 through the same opentelemetry-otlp exporter.
//!
//! Every exporter keeps its default batching (obs and the SDK: a queue of 2,048 spans, batches
//! of 512, a 5 s delay; fastrace: a report each second, no queue limit). After each case,
//! outside the timed loop, the exporter is flushed and the receiver's count checked: an
//! exporting case must have delivered spans, the others none. One `check` line per case on
//! standard output says how many spans were closed, received and (obs) dropped.
//!
//! Last, unless a filter that does not match `exporter_throughput` is given: one obs worker
//! exporting to the receiver while one thread closes spans as fast as it can (a queue of
//! 262,144 spans), then at 90 % of the rate it reached, which must drop nothing. The figures
//! are read from `obs_runtime::render()` (`obs_spans_exported_total`,
//! `obs_spans_dropped_total`) and printed as `throughput` lines.
//!
//! Two knobs, for spans on two threads (docs/design.md, "Spans on two threads"):
//! `SPANS_BESIDE=1` runs a second thread making the same calls under the same subscriber
//! while each case is measured; `SPANS_GLOBAL=<case>` makes that case's subscriber the
//! global default, as `init()` does, instead of a scoped one (every span clones a scoped
//! dispatcher's `Arc`: a count both threads write, which a program under a global default
//! does not have). A global default is set once per process, so give a filter of that case:
//!
//! ```text
//! SPANS_GLOBAL=obs_init_unsampled SPANS_BESIDE=1 \
//!     cargo bench -p obs-benches --bench spans -- 'spans/obs_init_unsampled$' 2>/dev/null
//! ```

// Span counts and rates, far below 2^52: exact as `f64`.
#![allow(clippy::cast_precision_loss)]

#[path = "receiver.rs"]
mod receiver;

use std::borrow::Cow;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, Throughput, measurement::WallTime};
use obs_benches as b;
use obs_runtime::{LogFormat, ObsGuard, OtlpProtocol, Sampler, TracesExporter};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use receiver::Receiver;
use tracing::Dispatch;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::Registry;

/// Spans per iteration: a `handle` and its three `leaf`s.
const SPANS_PER_CALL: u64 = 4;

/// What a case must have delivered to the receiver once flushed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    Spans,
    Nothing,
}

/// Runs `f` as the case `name` under `dispatch`; returns how many calls were made.
fn case(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    dispatch: &Dispatch,
    f: fn(u64) -> u64,
) -> u64 {
    let mut calls = 0u64;
    // `SPANS_BESIDE`, `SPANS_GLOBAL`: see the module's documentation.
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let global = std::env::var("SPANS_GLOBAL").is_ok_and(|c| c == name);
    if global {
        let _ = tracing::dispatcher::set_global_default(dispatch.clone());
    }
    let none = Dispatch::none();
    let dispatch = if global { &none } else { dispatch };
    let beside = std::env::var_os("SPANS_BESIDE").map(|_| {
        let (stop, dispatch) = (std::sync::Arc::clone(&stop), dispatch.clone());
        std::thread::spawn(move || {
            let run = || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    black_box(f(black_box(i)));
                    i += 1;
                }
                i
            };
            if global {
                run()
            } else {
                tracing::dispatcher::with_default(&dispatch, run)
            }
        })
    });
    let mut measure = || {
        group.bench_function(name, |bench| {
            bench.iter_custom(|iters| {
                let start = Instant::now();
                for i in 0..iters {
                    black_box(f(black_box(i)));
                }
                let elapsed = start.elapsed();
                calls += iters;
                elapsed
            });
        });
    };
    if global {
        measure();
    } else {
        tracing::dispatcher::with_default(dispatch, measure);
    }
    stop.store(true, Ordering::Relaxed);
    if let Some(t) = beside {
        calls += t.join().expect("the second thread");
    }
    calls
}

/// Checks what reached the receiver after a case was flushed, and prints it.
fn check(name: &str, receiver: &Receiver, before: u64, calls: u64, expect: Expect) {
    if calls == 0 {
        return; // filtered out
    }
    let closed = calls * SPANS_PER_CALL;
    let arrived = receiver.settle(before + closed) - before;
    let page = obs_runtime::render();
    println!(
        "check spans/{name} closed={closed} received={arrived} received_pct={:.1} \
         obs_exported_total={} obs_dropped_total={}",
        100.0 * arrived as f64 / closed.max(1) as f64,
        counter(&page, "obs_spans_exported_total"),
        counter(&page, "obs_spans_dropped_total"),
    );
    // Said on standard output too: `report.sh` sends standard error (obs's JSON logs) away.
    let failed = match expect {
        Expect::Spans => (arrived == 0).then_some("nothing reached the receiver"),
        Expect::Nothing => (arrived > 0).then_some("spans reached the receiver"),
    };
    if let Some(failed) = failed {
        println!("check spans/{name} FAILED: {failed}");
        panic!("spans/{name}: {failed}");
    }
}

/// The sum of a counter's series on obs's page (0 before any exporter ran).
fn counter(page: &str, name: &str) -> u64 {
    page.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with([' ', '{']))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// obs installed beside the bench's own subscribers, reading no process environment: only
/// the exporter, so each case runs under a subscriber of its own.
fn obs(
    receiver: &Receiver,
    exporter: TracesExporter,
    sampler: Sampler,
    queue: Option<usize>,
) -> ObsGuard {
    obs_to(&receiver.endpoint(), exporter, sampler, queue)
}

/// [`obs`], exporting to `endpoint`.
fn obs_to(
    endpoint: &str,
    exporter: TracesExporter,
    sampler: Sampler,
    queue: Option<usize>,
) -> ObsGuard {
    obs_builder(endpoint, exporter, sampler, queue)
        .install()
        .expect("obs installs")
}

/// The `Builder` of [`obs_to`], before `install`.
fn obs_builder(
    endpoint: &str,
    exporter: TracesExporter,
    sampler: Sampler,
    queue: Option<usize>,
) -> obs_runtime::Builder {
    obs_runtime::Builder::new()
        .without_server()
        .without_subscriber()
        .without_recorder()
        .without_process_metrics()
        .env(move |var| match (var, queue) {
            ("OTEL_BSP_MAX_QUEUE_SIZE", Some(n)) => Some(n.to_string()),
            // `OTEL_EXPORTER_OTLP_COMPRESSION=gzip cargo bench …` measures gzip.
            ("OTEL_EXPORTER_OTLP_COMPRESSION", _) => std::env::var(var).ok(),
            _ => None,
        })
        .service_name("obs-benches")
        .traces_exporter(exporter)
        .otlp_traces_endpoint(endpoint)
        .otlp_protocol(OtlpProtocol::HttpProtobuf)
        .sampler(sampler)
        .flush_timeout(Duration::from_secs(30))
}

fn obs_dispatch(logs: bool) -> Dispatch {
    let registry = Registry::default().with(obs_runtime::trace_layer());
    if logs {
        Dispatch::new(
            registry.with(
                obs_runtime::log_layer(LogFormat::Json)
                    .with_filter(tracing_subscriber::filter::LevelFilter::INFO),
            ),
        )
    } else {
        Dispatch::new(registry)
    }
}

/// opentelemetry-otlp's HTTP/protobuf exporter to the receiver, on its default client.
fn otlp_exporter(receiver: &Receiver) -> opentelemetry_otlp::SpanExporter {
    opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(receiver.endpoint())
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .build()
        .expect("the OTLP/HTTP exporter builds")
}

fn resource() -> opentelemetry_sdk::Resource {
    opentelemetry_sdk::Resource::builder_empty()
        .with_service_name("obs-benches")
        .build()
}

fn spans(c: &mut Criterion, receiver: &Receiver) {
    let mut group = c.benchmark_group("spans");
    group.throughput(Throughput::Elements(SPANS_PER_CALL));

    // The floor: spans built, entered and closed by the Registry, nothing else.
    let before = receiver.spans();
    let floor = Dispatch::new(Registry::default());
    let calls = case(&mut group, "registry_floor", &floor, b::tracing_handle);
    drop(floor);
    check("registry_floor", receiver, before, calls, Expect::Nothing);

    let before = receiver.spans();
    let guard = obs(receiver, TracesExporter::None, Sampler::AlwaysOn, None);
    let dispatch = obs_dispatch(false);
    let calls = case(&mut group, "obs_no_exporter", &dispatch, b::obs_handle);
    drop((dispatch, guard));
    check("obs_no_exporter", receiver, before, calls, Expect::Nothing);

    let before = receiver.spans();
    let guard = obs(receiver, TracesExporter::Otlp, Sampler::AlwaysOff, None);
    let dispatch = obs_dispatch(false);
    let calls = case(&mut group, "obs_unsampled", &dispatch, b::obs_handle);
    drop((dispatch, guard));
    check("obs_unsampled", receiver, before, calls, Expect::Nothing);

    let before = receiver.spans();
    let guard = obs(receiver, TracesExporter::Otlp, Sampler::AlwaysOn, None);
    let dispatch = obs_dispatch(false);
    let calls = case(&mut group, "obs_exported", &dispatch, b::obs_handle);
    // Dropping the guard sends what the queue and the thread's buffer hold.
    drop((dispatch, guard));
    check("obs_exported", receiver, before, calls, Expect::Spans);

    init_cases(&mut group, receiver);
    tail_case(&mut group, receiver);

    // The collector down (a port nobody listens on): the calling thread's cost should stay
    // that of the healthy case, every span dropped and counted.
    let before = receiver.spans();
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    // A 2 s flush timeout, not the others' 30: the guard's drop waits it out against a port
    // nobody listens on (30.5 s of the report's time), and nothing it would flush can arrive.
    let guard = obs_builder(
        &format!("http://{dead}"),
        TracesExporter::Otlp,
        Sampler::AlwaysOn,
        None,
    )
    .flush_timeout(Duration::from_secs(2))
    .install()
    .expect("obs installs");
    let dispatch = obs_dispatch(false);
    let calls = case(&mut group, "obs_collector_down", &dispatch, b::obs_handle);
    drop((dispatch, guard));
    check(
        "obs_collector_down",
        receiver,
        before,
        calls,
        Expect::Nothing,
    );

    let before = receiver.spans();
    let guard = obs(receiver, TracesExporter::Otlp, Sampler::AlwaysOn, None);
    let dispatch = obs_dispatch(true);
    let calls = case(&mut group, "obs_json_logs", &dispatch, b::obs_handle_logged);
    drop((dispatch, guard));
    check("obs_json_logs", receiver, before, calls, Expect::Spans);

    let before = receiver.spans();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(otlp_exporter(receiver))
        .with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOn)
        .with_resource(resource())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("obs-benches"));
    let dispatch = Dispatch::new(Registry::default().with(layer));
    let calls = case(&mut group, "tracing_otel", &dispatch, b::tracing_handle);
    drop(dispatch);
    provider.force_flush().expect("the SDK flushes");
    provider.shutdown().expect("the SDK shuts down");
    check("tracing_otel", receiver, before, calls, Expect::Spans);

    let before = receiver.spans();
    let reporter = fastrace_opentelemetry::OpenTelemetryReporter::new(
        otlp_exporter(receiver),
        Cow::Owned(resource()),
        opentelemetry::InstrumentationScope::builder("obs-benches").build(),
    );
    fastrace::set_reporter(reporter, fastrace::collector::Config::default());
    // fastrace records without a `tracing` subscriber: the floor's is as good as none.
    let none = Dispatch::new(Registry::default());
    let mut calls = case(&mut group, "fastrace", &none, b::fastrace_handle);
    if calls > 0 {
        calls += fastrace_drain(receiver, before, calls);
    }
    check("fastrace", receiver, before, calls, Expect::Spans);

    group.finish();
}

/// `obs_no_exporter`, `obs_unsampled` and `obs_exported` again under the subscriber `init()`
/// installs (its trace layer behind `OBS_TRACES_FILTER=info`, text logs at `info`; the leaves
/// log nothing), a subscriber per case. (One kept across the cases stopped building spans from
/// the second install on, until obs's installs had every dispatcher rebuild callsite interest:
/// docs/design.md, "Installed again".)
fn init_cases(group: &mut BenchmarkGroup<'_, WallTime>, receiver: &Receiver) {
    let modes = [
        (
            "obs_init_no_exporter",
            TracesExporter::None,
            Sampler::AlwaysOn,
            Expect::Nothing,
        ),
        (
            "obs_init_unsampled",
            TracesExporter::Otlp,
            Sampler::AlwaysOff,
            Expect::Nothing,
        ),
        (
            "obs_init_exported",
            TracesExporter::Otlp,
            Sampler::AlwaysOn,
            Expect::Spans,
        ),
    ];
    for (name, exporter, sampler, expect) in modes {
        let before = receiver.spans();
        let guard = obs(receiver, exporter, sampler, None);
        let init = obs_runtime::__private::init_subscriber(LogFormat::Text);
        let calls = case(group, name, &init, b::obs_handle);
        drop((init, guard));
        check(name, receiver, before, calls, expect);
    }
}

/// Tail sampling keeping 1 % of the traces (by trace id, from their start) and every failed
/// one (1 % of the calls fail): every span is recorded, the rest held and dropped whole.
/// Under `trace_layer()` (`obs_tail_1pct_errors`, beside `obs_exported`) and under the
/// subscriber `init()` installs (`obs_init_tail_1pct_errors`, beside `obs_init_exported`).
fn tail_case(group: &mut BenchmarkGroup<'_, WallTime>, receiver: &Receiver) {
    for (name, own) in [
        ("obs_tail_1pct_errors", false),
        ("obs_init_tail_1pct_errors", true),
    ] {
        let before = receiver.spans();
        let guard = obs_builder(
            &receiver.endpoint(),
            TracesExporter::Otlp,
            Sampler::ParentBasedTraceIdRatio(0.01),
            None,
        )
        .tail_sampling(obs_runtime::TailSampling::new().errors().ratio(0.01))
        .install()
        .expect("obs installs");
        let dispatch = if own {
            obs_runtime::__private::init_subscriber(LogFormat::Text)
        } else {
            obs_dispatch(false)
        };
        let kept_before = tail_decisions(r#"decision="kept""#);
        let dropped_before = tail_decisions(r#"decision="dropped""#);
        let calls = case(group, name, &dispatch, b::obs_handle_fallible);
        drop((dispatch, guard));
        check(name, receiver, before, calls, Expect::Spans);
        if calls > 0 {
            println!(
                "check spans/{name} traces_kept={} traces_dropped={}",
                tail_decisions(r#"decision="kept""#) - kept_before,
                tail_decisions(r#"decision="dropped""#) - dropped_before,
            );
        }
    }
}

/// The local traces tail sampling decided so far with `decision` (a label and its value),
/// from `obs_traces_sampled_total` on the page.
fn tail_decisions(decision: &str) -> u64 {
    obs_runtime::render()
        .lines()
        .filter(|l| l.starts_with("obs_traces_sampled_total{") && l.contains(decision))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Sends what fastrace still holds. A thread's submitted spans wait in its own sender when
/// the channel to the collector is full, and move on only at the thread's next submit; so
/// this submits a few more traces, flushes, and repeats while the receiver's count grows, for
/// at most `DRAIN` (its queue has no bound: a full drain of the millions of spans a 4-second
/// case closes took 143 s of the report's time; what arrives after is not counted as
/// received). Returns the calls it made.
fn fastrace_drain(receiver: &Receiver, before: u64, calls: u64) -> u64 {
    const DRAIN: Duration = Duration::from_secs(20);
    let start = Instant::now();
    let mut extra = 0;
    let mut last = receiver.spans();
    loop {
        for i in 0..64 {
            black_box(b::fastrace_handle(black_box(i)));
        }
        extra += 64;
        fastrace::flush();
        let now = receiver.settle(before + (calls + extra) * SPANS_PER_CALL);
        if now >= before + (calls + extra) * SPANS_PER_CALL
            || now == last
            || start.elapsed() > DRAIN
        {
            return extra;
        }
        last = now;
    }
}

/// Spans per second one obs worker exports to the receiver: first with one thread closing
/// spans flat out, then with that thread paced at 90 % of the rate reached.
fn exporter_throughput(receiver: &Receiver) {
    const SECONDS: f64 = 3.0;
    let guard = obs(
        receiver,
        TracesExporter::Otlp,
        Sampler::AlwaysOn,
        Some(1 << 18),
    );
    let dispatch = obs_dispatch(false);
    let saturated = run_producer(receiver, &dispatch, SECONDS, None);
    println!(
        "throughput mode=flat_out producers=1 seconds={SECONDS} closed_per_s={:.0} \
         exported_per_s={:.0} dropped={}",
        saturated.closed_per_s, saturated.exported_per_s, saturated.dropped
    );
    let paced = run_producer(
        receiver,
        &dispatch,
        SECONDS,
        Some(0.9 * saturated.exported_per_s),
    );
    println!(
        "throughput mode=paced producers=1 seconds={SECONDS} closed_per_s={:.0} \
         exported_per_s={:.0} dropped={}",
        paced.closed_per_s, paced.exported_per_s, paced.dropped
    );
    drop((dispatch, guard));
}

struct Rate {
    closed_per_s: f64,
    exported_per_s: f64,
    dropped: u64,
}

/// One thread closes spans for `seconds`, at most `pace` per second; the exported rate is
/// counted from the first half-second on, while the worker is busy.
fn run_producer(receiver: &Receiver, dispatch: &Dispatch, seconds: f64, pace: Option<f64>) -> Rate {
    let stop = AtomicBool::new(false);
    let totals = |page: &str| {
        (
            counter(page, "obs_spans_exported_total"),
            counter(page, "obs_spans_dropped_total"),
        )
    };
    let (_, dropped_before) = totals(&obs_runtime::render());
    std::thread::scope(|s| {
        let producer = s.spawn(|| {
            tracing::dispatcher::with_default(dispatch, || {
                let start = Instant::now();
                let mut calls = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..64 {
                        black_box(b::obs_handle(black_box(calls)));
                        calls += 1;
                    }
                    if let Some(pace) = pace {
                        let due = (calls * SPANS_PER_CALL) as f64 / pace;
                        while start.elapsed().as_secs_f64() < due {
                            std::hint::spin_loop();
                        }
                    }
                }
                (calls * SPANS_PER_CALL) as f64 / start.elapsed().as_secs_f64()
            })
        });
        std::thread::sleep(Duration::from_millis(500));
        let (exported_0, _) = totals(&obs_runtime::render());
        let t0 = Instant::now();
        std::thread::sleep(Duration::from_secs_f64(seconds - 0.5));
        let (exported_1, _) = totals(&obs_runtime::render());
        let window = t0.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        let closed_per_s = producer.join().expect("the producer");
        // The queue drains before the next run (the producer's last, partial batch waits for
        // the worker's schedule delay).
        receiver.settle(u64::MAX);
        let (_, dropped_after) = totals(&obs_runtime::render());
        Rate {
            closed_per_s,
            exported_per_s: (exported_1 - exported_0) as f64 / window,
            dropped: dropped_after - dropped_before,
        }
    })
}

// Criterion's options that take a value: their values are not filters.
const VALUED: [&str; 12] = [
    "--warm-up-time",
    "--measurement-time",
    "--sample-size",
    "--save-baseline",
    "--baseline",
    "--load-baseline",
    "--profile-time",
    "--output-format",
    "--color",
    "--nresamples",
    "--noise-threshold",
    "--plotting-backend",
];

fn main() {
    let receiver = Receiver::start();
    let mut c = Criterion::default().configure_from_args();
    spans(&mut c, &receiver);
    c.final_summary();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filters: Vec<&String> = args
        .iter()
        .enumerate()
        .filter(|(i, a)| {
            !a.starts_with('-') && (*i == 0 || !VALUED.contains(&args[i - 1].as_str()))
        })
        .map(|(_, a)| a)
        .collect();
    let benching = args.iter().any(|a| a == "--bench");
    if benching && (filters.is_empty() || filters.iter().any(|f| f.contains("throughput"))) {
        exporter_throughput(&receiver);
    }
    println!("receiver: {} requests answered", receiver.requests());
}
