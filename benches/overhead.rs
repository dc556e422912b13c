//! Per-call cost of the attributes beside a bare call, a raw atomic add and a clock pair,
//! in one run. `cargo bench -p obs-benches --bench overhead`.

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

fn overhead(c: &mut Criterion) {
    let mut group = c.benchmark_group("overhead");
    group.bench_function("bare", |bench| bench.iter(|| b::bare(black_box(7))));
    group.bench_function("raw_atomic_add", |bench| {
        bench.iter(|| raw_atomic(black_box(7)))
    });
    group.bench_function("clock_pair", |bench| {
        bench.iter(|| clock_pair(black_box(7)))
    });
    group.bench_function("counted", |bench| bench.iter(|| b::counted(black_box(7))));
    group.bench_function("timed", |bench| bench.iter(|| b::timed(black_box(7))));
    group.bench_function("in_flight", |bench| {
        bench.iter(|| b::in_flight(black_box(7)))
    });
    group.bench_function("counted_timed", |bench| {
        bench.iter(|| b::counted_timed(black_box(7)))
    });
    group.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
