//! What the live page costs to render: `GET /obs/` of 1,000 instrumented functions, each
//! with calls, errors, two objectives and a full 15-minute chart (180 sampler points).
//!
//! ```text
//! cargo bench -p obs-benches --bench live
//! ```
//!
//! - `live/page/1000`: the whole page as the server renders it: every site read, each row's
//!   windows, quantiles and budgets, the HTML with its charts. The goal is at most 50 ms.
//! - `live/tick/1000`: one sampler tick (every 5 s on obs's own thread, never on a call).
//! - `live/read/1000`, `live/stats/1000`: the page's first steps alone, reading every site,
//!   then also each row's windows: what is left of `page` is the HTML.
//! - Printed before the groups: the page's size.
//!
//! The 1,000 functions are `#[counted] #[timed]` with objectives, one per module `aN::bN::cN`,
//! written by three nested `macro_rules!` here rather than generated (`benches/gen` builds
//! crates of its own, for the compile-time and scrape benches).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

/// A generated function.
type Function = fn(u64) -> Result<u64, String>;

/// One module per function: `pub fn f(i)`, which fails one call in ten.
macro_rules! functions {
    ($($c:ident)*) => {
        $(pub(crate) mod $c {
            #[obs_runtime::counted(objective(success = 99.0))]
            #[obs_runtime::timed(objective(latency = "250ms", percentile = 99))]
            pub(crate) fn f(i: u64) -> Result<u64, String> {
                if i % 10 == 0 { Err(format!("call {i} failed")) } else { Ok(i) }
            }
        })*
        /// Adds every function of this module to `out`.
        pub(crate) fn all(out: &mut Vec<crate::Function>) {
            out.extend_from_slice(&[$($c::f as crate::Function),*]);
        }
    };
}

macro_rules! tens {
    ($inner:ident; $($m:ident)*) => {
        $(pub(crate) mod $m { $inner!(); })*
        /// Adds every function under this module to `out`.
        pub(crate) fn all(out: &mut Vec<crate::Function>) {
            $($m::all(out);)*
        }
    };
}

macro_rules! tens_of_functions {
    () => {
        functions!(c0 c1 c2 c3 c4 c5 c6 c7 c8 c9);
    };
}

macro_rules! hundreds {
    () => {
        tens!(tens_of_functions; b0 b1 b2 b3 b4 b5 b6 b7 b8 b9);
    };
}

mod generated {
    tens!(hundreds; a0 a1 a2 a3 a4 a5 a6 a7 a8 a9);
}

/// Calls every generated function `n` times; returns how many there are.
fn call_all(n: u64) -> usize {
    let mut all = Vec::with_capacity(1000);
    generated::all(&mut all);
    for f in &all {
        for i in 0..n {
            let _ = black_box(f(black_box(i)));
        }
    }
    all.len()
}

fn live(c: &mut Criterion) {
    // A full ring: 180 ticks with calls between them, as after 15 minutes of traffic.
    let mut functions = 0;
    for _ in 0..180 {
        functions = call_all(3);
        obs_runtime::__private::live::tick();
    }
    assert_eq!(functions, 1000);
    let page = obs_runtime::__private::live::page();
    let rows = page.matches("<tr data-function=").count();
    println!(
        "live page: {rows} rows, {} bytes ({} bytes a row)",
        page.len(),
        page.len() / rows.max(1)
    );
    let mut group = c.benchmark_group("live");
    group.sample_size(20);
    group.bench_function("page/1000", |b| {
        b.iter(|| black_box(obs_runtime::__private::live::page()));
    });
    group.bench_function("tick/1000", |b| b.iter(obs_runtime::__private::live::tick));
    group.bench_function("read/1000", |b| b.iter(obs_runtime::__private::live::read));
    group.bench_function("stats/1000", |b| {
        b.iter(obs_runtime::__private::live::stats);
    });
    group.finish();
}

criterion_group!(benches, live);
criterion_main!(benches);
