//! Functions measured by the benches, instrumented in a crate of their own so the benches see
//! them as a user's crate would: obs's attributes and the peers' doing the same job, each on
//! the same small body, sync and async.
#![allow(missing_docs)]
// Peer macros expand to code that trips pedantic lints in this crate.
#![allow(clippy::pedantic)]

use metered::{ErrorCount, HitCount, InFlight, ResponseTime};
use obs_runtime::{counted, in_flight, timed, traced};

/// The work every variant does: small enough that instrumentation dominates.
#[inline(never)]
pub fn work(x: u64) -> u64 {
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17)
}

#[inline(never)]
pub fn bare(x: u64) -> u64 {
    work(x)
}

#[counted]
#[inline(never)]
pub fn counted(x: u64) -> u64 {
    work(x)
}

#[timed]
#[inline(never)]
pub fn timed(x: u64) -> u64 {
    work(x)
}

/// `#[timed]` keeping a native histogram (schema 3) beside its buckets.
#[timed(native)]
#[inline(never)]
pub fn timed_native(x: u64) -> u64 {
    work(x)
}

#[in_flight]
#[inline(never)]
pub fn in_flight(x: u64) -> u64 {
    work(x)
}

#[counted]
#[timed]
#[inline(never)]
pub fn counted_timed(x: u64) -> u64 {
    work(x)
}

#[traced]
#[inline(never)]
pub fn traced(x: u64) -> u64 {
    work(x)
}

/// What the `exemplars` group measures: a timed call with a span of its own.
#[traced]
#[timed]
#[inline(never)]
pub fn traced_timed(x: u64) -> u64 {
    work(x)
}

#[traced]
#[counted]
#[timed]
#[in_flight]
#[inline(never)]
pub fn all_four(x: u64) -> u64 {
    work(x)
}

#[tracing::instrument]
#[inline(never)]
pub fn instrumented(x: u64) -> u64 {
    work(x)
}

/// `err` and `ret` with the level off: the issue asks that they add nothing then.
#[traced(err, ret)]
#[inline(never)]
pub fn traced_err_ret(x: u64) -> Result<u64, std::fmt::Error> {
    Ok(work(x))
}

#[tracing::instrument(err, ret)]
#[inline(never)]
pub fn instrumented_err_ret(x: u64) -> Result<u64, std::fmt::Error> {
    Ok(work(x))
}

/// `record!` into a declared field, with the level off: nothing is evaluated.
#[traced(fields(doubled))]
#[inline(never)]
pub fn traced_record(x: u64) -> u64 {
    let out = work(x);
    obs_runtime::record!(doubled = out * 2);
    out
}

#[fastrace::trace]
#[inline(never)]
pub fn fastraced(x: u64) -> u64 {
    work(x)
}

// The async twins: the same body in an `async fn`, polled once to completion by the bench.

#[inline(never)]
pub async fn bare_async(x: u64) -> u64 {
    work(x)
}

#[counted]
#[inline(never)]
pub async fn counted_async(x: u64) -> u64 {
    work(x)
}

#[timed]
#[inline(never)]
pub async fn timed_async(x: u64) -> u64 {
    work(x)
}

#[in_flight]
#[inline(never)]
pub async fn in_flight_async(x: u64) -> u64 {
    work(x)
}

#[counted]
#[timed]
#[inline(never)]
pub async fn counted_timed_async(x: u64) -> u64 {
    work(x)
}

#[traced]
#[inline(never)]
pub async fn traced_async(x: u64) -> u64 {
    work(x)
}

#[traced]
#[counted]
#[timed]
#[in_flight]
#[inline(never)]
pub async fn all_four_async(x: u64) -> u64 {
    work(x)
}

#[tracing::instrument]
#[inline(never)]
pub async fn instrumented_async(x: u64) -> u64 {
    work(x)
}

#[fastrace::trace]
#[inline(never)]
pub async fn fastraced_async(x: u64) -> u64 {
    work(x)
}

/// metered's `#[measure]` works on methods of a struct that owns its registry.
#[derive(Default, Debug)]
pub struct Metered {
    hits: MeteredHits,
    all: MeteredAll,
}

#[metered::metered(registry = MeteredHits, registry_expr = self.hits)]
impl Metered {
    /// `HitCount` alone: metered's counter.
    #[measure(HitCount)]
    #[inline(never)]
    pub fn hit_count(&self, x: u64) -> u64 {
        work(x)
    }

    #[measure(HitCount)]
    #[inline(never)]
    pub async fn hit_count_async(&self, x: u64) -> u64 {
        work(x)
    }
}

#[metered::metered(registry = MeteredAll, registry_expr = self.all)]
impl Metered {
    /// Calls, errors, in flight and an HDR response-time histogram: what `#[counted]`,
    /// `#[timed]` and `#[in_flight]` record together.
    #[measure([HitCount, ErrorCount, InFlight, ResponseTime])]
    #[inline(never)]
    pub fn all(&self, x: u64) -> Result<u64, ()> {
        Ok(work(x))
    }

    #[measure([HitCount, ErrorCount, InFlight, ResponseTime])]
    #[inline(never)]
    pub async fn all_async(&self, x: u64) -> Result<u64, ()> {
        Ok(work(x))
    }
}

// The nested shape of `benches/spans.rs`: one `handle` calling three `leaf`s, every function
// instrumented, so each call of a `handle` closes four spans, the `handle` the root of its own
// trace. Each takes and records one `u64` argument (fastrace's `#[trace]` records none).

#[traced]
#[inline(never)]
pub fn obs_leaf(x: u64) -> u64 {
    work(x)
}

#[traced]
#[inline(never)]
pub fn obs_handle(x: u64) -> u64 {
    obs_leaf(x) ^ obs_leaf(x + 1) ^ obs_leaf(x + 2)
}

/// `obs_leaf` that fails when `x` is a multiple of 100, for the tail sampling case.
#[traced]
#[inline(never)]
pub fn obs_leaf_fallible(x: u64) -> Result<u64, u64> {
    if x.is_multiple_of(100) {
        Err(x)
    } else {
        Ok(work(x))
    }
}

/// `obs_handle` whose last leaf fails in 1 % of the calls: tail sampling keeps those traces.
#[traced]
#[inline(never)]
pub fn obs_handle_fallible(x: u64) -> u64 {
    obs_leaf(x) ^ obs_leaf(x + 1) ^ obs_leaf_fallible(x + 2).unwrap_or_else(work)
}

/// `obs_leaf` with a log line, for obs's JSON logs case.
#[traced]
#[inline(never)]
pub fn obs_leaf_logged(x: u64) -> u64 {
    tracing::info!(x, "leaf done");
    work(x)
}

#[traced]
#[inline(never)]
pub fn obs_handle_logged(x: u64) -> u64 {
    obs_leaf_logged(x) ^ obs_leaf_logged(x + 1) ^ obs_leaf_logged(x + 2)
}

#[tracing::instrument]
#[inline(never)]
pub fn tracing_leaf(x: u64) -> u64 {
    work(x)
}

#[tracing::instrument]
#[inline(never)]
pub fn tracing_handle(x: u64) -> u64 {
    tracing_leaf(x) ^ tracing_leaf(x + 1) ^ tracing_leaf(x + 2)
}

#[fastrace::trace]
#[inline(never)]
pub fn fastrace_leaf(x: u64) -> u64 {
    work(x)
}

/// fastrace's `#[trace]` records a span only under a parent, so the entry point opens the
/// root of the trace itself, as a fastrace service does: a root span, the thread's local
/// parent for the three leaves.
#[inline(never)]
pub fn fastrace_handle(x: u64) -> u64 {
    let root = fastrace::Span::root("fastrace_handle", fastrace::prelude::SpanContext::random());
    let _parent = root.set_local_parent();
    fastrace_leaf(x) ^ fastrace_leaf(x + 1) ^ fastrace_leaf(x + 2)
}
