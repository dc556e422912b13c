//! What `#[timed]`'s default buckets cost: OTel's 14 duration bounds (5 ms to 10 s, the
//! default until 2026-12) beside the 22 of `DEFAULT_BUCKETS` (10 µs to 10 s), and a relaxed
//! atomic add as the floor, in one run:
//!
//! ```text
//! cargo bench -p obs-benches --bench buckets
//! ```
//!
//! - `buckets/observe/{floor,otel14,default22}/{5us,18us,300ms,20s}`: one
//!   `HistogramSite::observe` of a call that took that long, the site's cells already
//!   allocated. The bucket is found by a scan of integer bounds, so the cost grows with the
//!   index of the bucket a call lands in: a 5 µs call is in the first bucket of both, a 300 ms
//!   one in the 7th of OTel's and the 15th of the default.
//! - Printed before the groups: what one function's histogram adds to the page with each set
//!   of bounds (lines and bytes of its `ok` and `error` series, as `render()` writes them).

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use obs_runtime::__private::{FnMeta, HistogramSite, Spec, Status};

/// OTel's advised duration buckets: `#[timed]`'s default before the microsecond bounds.
const OTEL: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

fn here() -> &'static str {
    "obs_benches::buckets::here"
}

static META_OTEL: FnMeta = FnMeta::new("buckets", file!(), line!(), "otel14", here);
static META_DEFAULT: FnMeta = FnMeta::new("buckets", file!(), line!(), "default22", here);
static SITE_OTEL: HistogramSite<14> =
    HistogramSite::new(&META_OTEL, Spec::new("bench_otel14_seconds", "", &[]), OTEL);
static SITE_DEFAULT: HistogramSite<22> = HistogramSite::new(
    &META_DEFAULT,
    Spec::new("bench_default22_seconds", "", &[]),
    obs_runtime::DEFAULT_BUCKETS,
);

// Registered so that `render()` writes them: the page's share of each is measured from it.
#[linkme::distributed_slice(obs_runtime::__private::SITES)]
#[linkme(crate = linkme)]
static REGISTERED: &[&dyn obs_runtime::__private::Site] = &[&SITE_OTEL, &SITE_DEFAULT];

static FLOOR: AtomicU64 = AtomicU64::new(0);

/// Lines and bytes of the page that belong to the family `name`.
fn page_share(page: &str, name: &str) -> (usize, usize) {
    page.lines()
        .filter(|l| l.contains(name))
        .fold((0, 0), |(lines, bytes), l| (lines + 1, bytes + l.len() + 1))
}

fn buckets(c: &mut Criterion) {
    SITE_OTEL.observe(Status::OK, 1);
    SITE_DEFAULT.observe(Status::OK, 1);
    let page = obs_runtime::render();
    for name in ["bench_otel14_seconds", "bench_default22_seconds"] {
        let (lines, bytes) = page_share(&page, name);
        println!(
            "page: {name}: {lines} lines, {bytes} bytes for one function (its ok and error \
             series, # HELP and # TYPE)"
        );
    }

    let mut group = c.benchmark_group("buckets/observe");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for (label, nanos) in [
        ("5us", 5_000u64),
        ("18us", 18_000),
        ("300ms", 300_000_000),
        ("20s", 20_000_000_000),
    ] {
        group.bench_function(format!("floor/{label}"), |b| {
            b.iter(|| FLOOR.fetch_add(black_box(nanos), Ordering::Relaxed));
        });
        group.bench_function(format!("otel14/{label}"), |b| {
            b.iter(|| SITE_OTEL.observe(Status::OK, black_box(nanos)));
        });
        group.bench_function(format!("default22/{label}"), |b| {
            b.iter(|| SITE_DEFAULT.observe(Status::OK, black_box(nanos)));
        });
    }
    group.finish();
}

criterion_group!(benches, buckets);
criterion_main!(benches);
