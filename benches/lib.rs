//! Functions measured by the benches, instrumented in a crate of their own so the bench sees
//! them as a user's crate would.
#![allow(missing_docs)]

use obs_runtime::{counted, in_flight, timed};

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

#[obs_runtime::traced]
#[inline(never)]
pub fn traced(x: u64) -> u64 {
    work(x)
}

#[tracing::instrument]
#[inline(never)]
pub fn instrumented(x: u64) -> u64 {
    work(x)
}
