//! `#[autometrics]` per call beside a bare call and obs's `#[counted] #[timed]`, in one run,
//! with the backend this build enabled (see Cargo.toml for why one backend per process):
//!
//! ```text
//! cargo bench -p obs-peer-autometrics --no-default-features --features prometheus-client
//! ```

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use obs_peer_autometrics::{BACKEND, autometrics_async, autometrics_fn};

fn poll_once<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => unreachable!("the benched futures complete on their first poll"),
    }
}

/// Installs what the backend records into, as autometrics' docs ask; `None` where nothing is
/// needed (the `prometheus` and `prometheus-client` backends have their own registries).
fn install() -> Option<Box<dyn std::any::Any>> {
    #[cfg(feature = "metrics")]
    {
        let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .expect("install metrics-exporter-prometheus");
        return Some(Box::new(handle));
    }
    #[cfg(feature = "opentelemetry")]
    {
        let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
            .with_reader(opentelemetry_sdk::metrics::ManualReader::builder().build())
            .build();
        opentelemetry::global::set_meter_provider(provider.clone());
        return Some(Box::new(provider));
    }
    #[allow(unreachable_code)]
    None
}

fn autometrics(c: &mut Criterion) {
    let _installed = install();
    let mut group = c.benchmark_group(format!("autometrics_{BACKEND}"));
    // As `benches/overhead.rs`: nanosecond cases, millions of calls in 1.5 s.
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500));
    group.bench_function("bare", |b| b.iter(|| obs_benches::bare(black_box(7))));
    group.bench_function("obs_counted_timed", |b| {
        b.iter(|| obs_benches::counted_timed(black_box(7)));
    });
    group.bench_function("autometrics", |b| b.iter(|| autometrics_fn(black_box(7))));
    group.bench_function("bare_async", |b| {
        b.iter(|| poll_once(obs_benches::bare_async(black_box(7))));
    });
    group.bench_function("obs_counted_timed_async", |b| {
        b.iter(|| poll_once(obs_benches::counted_timed_async(black_box(7))));
    });
    group.bench_function("autometrics_async", |b| {
        b.iter(|| poll_once(autometrics_async(black_box(7))));
    });
    group.finish();
}

criterion_group!(benches, autometrics);
criterion_main!(benches);
