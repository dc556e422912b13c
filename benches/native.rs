//! What native histograms cost, in one run:
//!
//! ```text
//! cargo bench -p obs-benches --bench native
//! ```
//!
//! - `native/call/{bare,obs_timed,obs_timed_native}`: a call of the same small body, bare,
//!   with `#[timed]` (22 classic buckets) and with `#[timed(native)]` (the same plus a native
//!   histogram of schema 3). The issue's target: native ≤ `#[timed]` + 3 ns.
//! - `native/body/{bare,obs_timed,obs_timed_native}`: the same with a body of 32 dependent
//!   multiplies kept between the clock reads (`black_box` each step: the compiler moves the
//!   small body of `native/call` past the second read, so there the two reads are back to
//!   back).
//! - `native/observe/{classic,native}`: the same recording without the clock: one
//!   `HistogramSite::observe` of a 20 ns call into a site without and with native buckets
//!   (schema 3), its cells already allocated. What native adds to the work itself, apart from
//!   how it sits between the clock reads of a call.
//! - `native/page/{text,openmetrics,protobuf}`: the whole page of this binary, whose 1,000
//!   `#[counted] #[timed(native)]` functions (below) were each called once with `ok` and once
//!   with `error`, in each format. The target: protobuf no slower than text. (The 10,000-function
//!   page is timed by `benches/gen/generate.py scrape`, in `BENCHMARKS.md`.)

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use obs_benches as b;
use obs_runtime::__private::{FnMeta, HistogramSite, Spec, Status};

/// The body of `native/body/*`: 32 dependent steps no read of the clock can pass.
#[inline(always)]
#[allow(clippy::inline_always)] // the body of each function below, as written there
fn steps(mut x: u64) -> u64 {
    for _ in 0..32 {
        x = black_box(x.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17));
    }
    x
}

#[inline(never)]
fn body_bare(x: u64) -> u64 {
    steps(x)
}

#[obs_runtime::timed]
#[inline(never)]
fn body_timed(x: u64) -> u64 {
    steps(x)
}

#[obs_runtime::timed(native)]
#[inline(never)]
fn body_timed_native(x: u64) -> u64 {
    steps(x)
}

/// A function of `native/body/*`.
type Body = fn(u64) -> u64;

fn here() -> &'static str {
    "obs_benches::native::here"
}

static META: FnMeta = FnMeta::new("native", file!(), line!(), "observe", here);
static CLASSIC: HistogramSite<22> = HistogramSite::new(
    &META,
    Spec::new("bench_classic_seconds", "", &[]),
    obs_runtime::DEFAULT_BUCKETS,
);
static NATIVE: HistogramSite<22> = HistogramSite::new(
    &META,
    Spec::new("bench_native_seconds", "", &[]).with_native(3),
    obs_runtime::DEFAULT_BUCKETS,
);

/// Ten functions per module, a module per digit: 10 × 10 × 10 = 1,000 functions, told apart
/// by their `module` label.
macro_rules! ten_fns {
    ($($f:ident)*) => {
        $(
            #[obs_runtime::counted]
            #[obs_runtime::timed(native)]
            pub(crate) fn $f(x: u64) -> Result<u64, u64> {
                if x % 2 == 0 { Ok(x) } else { Err(x) }
            }
        )*
        pub(crate) fn call_all() {
            $( let _ = $f(0); let _ = $f(1); )*
        }
    };
}

macro_rules! ten_mods {
    ($body:ident; $($m:ident)*) => {
        $( pub(crate) mod $m { $body!(); } )*
        pub(crate) fn call_all() { $( $m::call_all(); )* }
    };
}

macro_rules! leaf {
    () => {
        ten_fns!(f0 f1 f2 f3 f4 f5 f6 f7 f8 f9);
    };
}

macro_rules! middle {
    () => {
        ten_mods!(leaf; a0 a1 a2 a3 a4 a5 a6 a7 a8 a9);
    };
}

mod many {
    ten_mods!(middle; b0 b1 b2 b3 b4 b5 b6 b7 b8 b9);
}

fn native(c: &mut Criterion) {
    let mut group = c.benchmark_group("native/call");
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("bare", |bench| bench.iter(|| b::bare(black_box(7))));
    group.bench_function("obs_timed", |bench| bench.iter(|| b::timed(black_box(7))));
    group.bench_function("obs_timed_native", |bench| {
        bench.iter(|| b::timed_native(black_box(7)));
    });
    group.finish();

    let mut group = c.benchmark_group("native/body");
    group.measurement_time(Duration::from_secs(3));
    let bodies: [(&str, Body); 3] = [
        ("bare", body_bare),
        ("obs_timed", body_timed),
        ("obs_timed_native", body_timed_native),
    ];
    for (name, f) in bodies {
        group.bench_function(name, |bench| bench.iter(|| f(black_box(7))));
    }
    group.finish();

    let mut group = c.benchmark_group("native/observe");
    group.measurement_time(Duration::from_secs(3));
    for (name, site) in [("classic", &CLASSIC), ("native", &NATIVE)] {
        group.bench_function(name, |bench| {
            bench.iter(|| site.observe(Status::OK, black_box(20)));
        });
    }
    group.finish();

    many::call_all();
    let text = obs_runtime::render();
    let protobuf = obs_runtime::render_protobuf();
    println!(
        "page of {} functions: text {} bytes, protobuf {} bytes",
        text.matches("function_calls_total{").count() / 2,
        text.len(),
        protobuf.len()
    );
    let mut group = c.benchmark_group("native/page");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("text", |bench| bench.iter(obs_runtime::render));
    group.bench_function("openmetrics", |bench| {
        bench.iter(obs_runtime::render_openmetrics);
    });
    group.bench_function("protobuf", |bench| bench.iter(obs_runtime::render_protobuf));
    group.finish();
}

criterion_group!(benches, native);
criterion_main!(benches);
