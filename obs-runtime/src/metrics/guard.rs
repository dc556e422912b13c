//! Drop guards the expansion of the metric attributes holds for the length of one call.
//!
//! Each guard is created before the body runs and either finished with the call's status or
//! dropped without it. A guard dropped unfinished records `panic` while the thread unwinds and
//! `cancelled` otherwise: for an async fn, the future was dropped before it completed.
//! `finish` forgets the guard after recording, so each call records exactly once.

use core::mem;

use super::site::{CounterSite, GaugeSite, HistogramSite};
use crate::clock::clock;
use crate::status::{Status, unfinished};

/// Guard of `#[counted]`.
#[must_use]
pub struct Counted {
    site: &'static CounterSite,
}

impl Counted {
    /// Starts a call.
    #[inline]
    pub fn start(site: &'static CounterSite) -> Self {
        Counted { site }
    }

    /// Ends the call with `status`.
    #[inline]
    pub fn finish(self, status: Status) {
        self.site.add(status);
        mem::forget(self);
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.site.add(unfinished());
    }
}

/// Guard of `#[timed]`: holds the start time, in raw clock ticks. `NATIVE` is the site's own
/// native schema (`#[timed(native(schema = N))]`), or `i8::MIN` for none (the program's switch
/// decides): a constant, so each guard compiles only the native code its site can run.
#[must_use]
pub struct Timed<const N: usize, const NATIVE: i8 = { i8::MIN }> {
    site: &'static HistogramSite<N>,
    start: u64,
}

impl<const N: usize> Timed<N> {
    /// Starts a call of `#[timed]`: reads the clock.
    #[inline]
    pub fn start(site: &'static HistogramSite<N>) -> Self {
        Self::start_native(site)
    }

    /// Starts a call of `#[timed(native(schema = SCHEMA))]`, whose site's spec has the same
    /// schema: reads the clock.
    #[inline]
    pub fn start_native<const SCHEMA: i8>(site: &'static HistogramSite<N>) -> Timed<N, SCHEMA> {
        Timed {
            site,
            start: clock().raw(),
        }
    }
}

impl<const N: usize, const NATIVE: i8> Timed<N, NATIVE> {
    /// Ends the call with `status`: reads the clock and records the elapsed time. Always
    /// inlined, so the site's constant schema reaches `HistogramSite::record`.
    #[inline(always)]
    #[allow(clippy::inline_always)] // the constants must reach the index: see above
    pub fn finish(self, status: Status) {
        self.record(status);
        mem::forget(self);
    }

    #[inline(always)]
    #[allow(clippy::inline_always)] // the constants must reach the index: see above
    fn record(&self, status: Status) {
        let clock = clock();
        // Saturates at 0 if the counter went backwards.
        let nanos = clock.delta_as_nanos(self.start, clock.raw());
        self.site.record::<NATIVE>(status, nanos);
    }
}

impl<const N: usize, const NATIVE: i8> Drop for Timed<N, NATIVE> {
    fn drop(&mut self) {
        self.record(unfinished());
    }
}

/// Guard of `#[in_flight]`: the gauge is up while it lives, whatever way the call ends.
#[must_use]
pub struct InFlight {
    site: &'static GaugeSite,
}

impl InFlight {
    /// Starts a call: one more in flight.
    #[inline]
    pub fn start(site: &'static GaugeSite) -> Self {
        site.add(1);
        InFlight { site }
    }

    /// Ends the call. Dropping the guard does the same; this only reads better in expansions.
    #[inline]
    pub fn finish(self) {}
}

impl Drop for InFlight {
    #[inline]
    fn drop(&mut self) {
        self.site.add(-1);
    }
}
