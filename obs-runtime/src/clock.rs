//! The one clock of obs: `#[timed]` reads it for durations, the trace layer for span start
//! and end times.
//!
//! The CPU's time-stamp counter where it ticks at a constant rate (x86 with invariant TSC),
//! scaled to nanoseconds only when a value is used; the OS's monotonic clock elsewhere
//! (`quanta` chooses). A start/stop pair measures 20 ns against 50 ns for
//! `std::time::Instant` on the reference VM (`BENCHMARKS.md`). It is calibrated against the
//! monotonic clock on first use (at least 0.5 ms, at most 200 ms), and the wall-clock time
//! of that moment is kept, so a raw reading converts to Unix time for export.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

struct Clock {
    clock: quanta::Clock,
    /// A raw reading and the Unix time in nanoseconds at the same moment: what OTLP export
    /// converts span times with, and the page its exemplars' times.
    anchor: (u64, u64),
}

static CLOCK: OnceLock<Clock> = OnceLock::new();

#[inline]
fn get() -> &'static Clock {
    CLOCK.get_or_init(|| {
        let clock = quanta::Clock::new();
        let raw = clock.raw();
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        Clock {
            clock,
            anchor: (raw, unix),
        }
    })
}

/// The clock, to read raw and scale differences with `delta_as_nanos`.
#[inline]
pub(crate) fn clock() -> &'static quanta::Clock {
    &get().clock
}

/// A raw reading: cheap, meaningful only against another raw reading of this clock.
#[inline]
pub(crate) fn raw() -> u64 {
    get().clock.raw()
}

/// The Unix time, in nanoseconds, of raw reading `raw`. Readings taken before the clock's
/// first use (there are none: every reading goes through it) would read as its anchor.
pub(crate) fn unix_nanos(raw: u64) -> u64 {
    let c = get();
    let (anchor_raw, anchor_unix) = c.anchor;
    if raw >= anchor_raw {
        anchor_unix.saturating_add(c.clock.delta_as_nanos(anchor_raw, raw))
    } else {
        anchor_unix.saturating_sub(c.clock.delta_as_nanos(raw, anchor_raw))
    }
}
