//! Exemplars: the latest sampled span that recorded into a bucket or a counter, kept in fixed
//! cells next to the counts.
//!
//! An [`ExemplarCell`] is a seqlock over plain atomics (obs has no `unsafe`): a version that is
//! odd while a writer is inside, the span's ids, the value recorded and the raw clock reading
//! of the moment. A writer makes the version odd, stores the fields and makes it even again; a
//! reader that saw the same even version before and after reading the fields has one writer's
//! fields, never a mix of two. A reader that keeps meeting writers gives up after a few tries and
//! shows no exemplar for that cell in this scrape: an exemplar is a hint, never a count.
//!
//! A shard's own cells have one writer, so writing is plain loads and stores, as for the counts.
//! Cells shared by several writers (the shared shard, the facade) take the version with a
//! compare-and-swap; a writer that finds another one inside skips its exemplar: the other one's
//! is just as recent.
//!
//! Cells are allocated once per shard and status, on the first sampled call there
//! ([`Exemplars`]): a function never called inside a sampled span pays 16 bytes per status and
//! shard for the empty slot, nothing per bucket.

use core::sync::atomic::{AtomicU64, Ordering, fence};
use std::sync::OnceLock;

use crate::clock;
use crate::current::SpanRef;
use crate::exposition::Exemplar;

/// How often a scrape re-reads a cell a writer is changing before leaving it out.
const READ_TRIES: usize = 4;

/// One exemplar: 48 bytes.
pub(crate) struct ExemplarCell {
    /// Even when stable, odd while a writer is inside; 0 before the first write.
    version: AtomicU64,
    trace_hi: AtomicU64,
    trace_lo: AtomicU64,
    span: AtomicU64,
    /// What the call recorded: nanoseconds for a site's histogram, `f64` bits for the facade's,
    /// the increment for a counter. The owner of the cell knows which.
    value: AtomicU64,
    /// The raw clock reading of the call ([`clock::raw`]).
    at: AtomicU64,
}

/// What a cell held when it was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Recorded {
    pub(crate) span: SpanRef,
    pub(crate) value: u64,
    pub(crate) at: u64,
}

impl Recorded {
    /// As the page writes it, with `value` in the owner's unit.
    pub(crate) fn exemplar(self, value: f64) -> Exemplar {
        Exemplar {
            trace_id: self.span.trace_id,
            span_id: self.span.span_id,
            value,
            unix_nanos: clock::unix_nanos(self.at),
        }
    }

    /// The later of two exemplars of one series (other shards, merged series).
    pub(crate) fn latest(a: Option<Self>, b: Option<Self>) -> Option<Self> {
        match (a, b) {
            (Some(a), Some(b)) => Some(if b.at > a.at { b } else { a }),
            (a, b) => a.or(b),
        }
    }
}

impl ExemplarCell {
    pub(crate) const fn new() -> Self {
        ExemplarCell {
            version: AtomicU64::new(0),
            trace_hi: AtomicU64::new(0),
            trace_lo: AtomicU64::new(0),
            span: AtomicU64::new(0),
            value: AtomicU64::new(0),
            at: AtomicU64::new(0),
        }
    }

    /// Stores an exemplar. `own`: the calling thread is this cell's only writer.
    #[inline]
    pub(crate) fn write(&self, span: SpanRef, value: u64, at: u64, own: bool) {
        let version = self.version.load(Ordering::Relaxed);
        if own {
            self.version.store(version | 1, Ordering::Relaxed);
        } else if version & 1 == 1
            || self
                .version
                .compare_exchange(version, version | 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return; // another writer is inside: its exemplar is as recent as ours
        }
        // (Acquire: the previous writer's fields come before ours, so a reader of our version
        // cannot get one of theirs.)
        // Orders the odd version before the fields: a reader that sees any new field sees
        // the odd version (or a later one) when it checks again.
        fence(Ordering::Release);
        let (hi, lo) = split(span.trace_id);
        self.trace_hi.store(hi, Ordering::Relaxed);
        self.trace_lo.store(lo, Ordering::Relaxed);
        self.span
            .store(u64::from_be_bytes(span.span_id), Ordering::Relaxed);
        self.value.store(value, Ordering::Relaxed);
        self.at.store(at, Ordering::Relaxed);
        self.version
            .store((version | 1).wrapping_add(1), Ordering::Release);
    }

    /// The exemplar, if one was written and a stable read succeeded.
    pub(crate) fn read(&self) -> Option<Recorded> {
        for _ in 0..READ_TRIES {
            let before = self.version.load(Ordering::Acquire);
            if before == 0 {
                return None;
            }
            if before & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let hi = self.trace_hi.load(Ordering::Relaxed);
            let lo = self.trace_lo.load(Ordering::Relaxed);
            let span = self.span.load(Ordering::Relaxed);
            let value = self.value.load(Ordering::Relaxed);
            let at = self.at.load(Ordering::Relaxed);
            // Orders the field reads before the second version read.
            fence(Ordering::Acquire);
            if self.version.load(Ordering::Relaxed) == before {
                let mut trace_id = [0; 16];
                trace_id[..8].copy_from_slice(&hi.to_be_bytes());
                trace_id[8..].copy_from_slice(&lo.to_be_bytes());
                return Some(Recorded {
                    span: SpanRef {
                        trace_id,
                        span_id: span.to_be_bytes(),
                    },
                    value,
                    at,
                });
            }
        }
        None
    }
}

fn split(trace_id: [u8; 16]) -> (u64, u64) {
    let mut hi = [0; 8];
    let mut lo = [0; 8];
    hi.copy_from_slice(&trace_id[..8]);
    lo.copy_from_slice(&trace_id[8..]);
    (u64::from_be_bytes(hi), u64::from_be_bytes(lo))
}

/// A fixed set of exemplar cells, indexed.
pub(crate) trait ExemplarSet: Sized + 'static {
    /// The set, empty.
    const EMPTY: Self;
    /// Cell `i`.
    fn cell(&self, i: usize) -> Option<&ExemplarCell>;
}

/// One cell per status of a counter.
impl<const N: usize> ExemplarSet for [ExemplarCell; N] {
    const EMPTY: Self = [const { ExemplarCell::new() }; N];
    fn cell(&self, i: usize) -> Option<&ExemplarCell> {
        self.get(i)
    }
}

/// One cell per bucket of a histogram, then one for `+Inf`.
pub(crate) struct BucketCells<const N: usize> {
    buckets: [ExemplarCell; N],
    inf: ExemplarCell,
}

impl<const N: usize> ExemplarSet for BucketCells<N> {
    const EMPTY: Self = BucketCells {
        buckets: [const { ExemplarCell::new() }; N],
        inf: ExemplarCell::new(),
    };
    fn cell(&self, i: usize) -> Option<&ExemplarCell> {
        if i == N {
            Some(&self.inf)
        } else {
            self.buckets.get(i)
        }
    }
}

/// Exemplar cells, allocated on the first write: a function never called in a sampled span
/// keeps only the empty slot.
pub(crate) struct Exemplars<C: ExemplarSet> {
    cells: OnceLock<Box<C>>,
}

impl<C: ExemplarSet> Exemplars<C> {
    pub(crate) const fn new() -> Self {
        Exemplars {
            cells: OnceLock::new(),
        }
    }

    /// Records into cell `i` if a sampled span is current: the only cost of a call outside
    /// one is the read of the current span. `own`: this thread is the cells' only writer.
    #[inline]
    pub(crate) fn record(&self, i: usize, value: u64, own: bool) {
        if let Some(span) = crate::current::sampled() {
            self.write(i, span, value, own);
        }
    }

    #[cold]
    #[inline(never)]
    fn write(&self, i: usize, span: SpanRef, value: u64, own: bool) {
        let cells = self.cells.get_or_init(|| Box::new(C::EMPTY));
        if let Some(cell) = cells.cell(i) {
            cell.write(span, value, clock::raw(), own);
        }
    }

    /// What cell `i` holds.
    pub(crate) fn read(&self, i: usize) -> Option<Recorded> {
        self.cells.get()?.cell(i)?.read()
    }
}

/// Exemplar cells of a length known only at run time (the facade's histograms), always
/// written as shared cells.
pub(crate) struct DynExemplars {
    cells: OnceLock<Box<[ExemplarCell]>>,
    len: usize,
}

impl DynExemplars {
    pub(crate) fn new(len: usize) -> Self {
        DynExemplars {
            cells: OnceLock::new(),
            len,
        }
    }

    #[inline]
    pub(crate) fn record(&self, i: usize, value: u64) {
        if let Some(span) = crate::current::sampled() {
            let cells = self
                .cells
                .get_or_init(|| (0..self.len).map(|_| ExemplarCell::new()).collect());
            if let Some(cell) = cells.get(i) {
                cell.write(span, value, clock::raw(), false);
            }
        }
    }

    pub(crate) fn read(&self, i: usize) -> Option<Recorded> {
        self.cells.get()?.get(i)?.read()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(n: u64) -> SpanRef {
        let mut trace_id = [0; 16];
        trace_id[..8].copy_from_slice(&n.to_be_bytes());
        trace_id[8..].copy_from_slice(&n.to_be_bytes());
        SpanRef {
            trace_id,
            span_id: n.to_be_bytes(),
        }
    }

    #[test]
    fn a_cell_reads_back_what_was_written_and_nothing_before() {
        let cell = ExemplarCell::new();
        assert_eq!(cell.read(), None);
        cell.write(span(7), 42, 1_000, true);
        let got = cell.read().unwrap();
        assert_eq!((got.span, got.value, got.at), (span(7), 42, 1_000));
        cell.write(span(8), 43, 1_001, false);
        assert_eq!(cell.read().unwrap().span, span(8));
        assert_eq!(std::mem::size_of::<ExemplarCell>(), 48);
    }

    /// What docs/design.md says exemplars cost: 16 bytes per status and shard for the empty
    /// slot, and 48 per bucket (and `+Inf`) once allocated.
    #[test]
    fn the_storage_is_what_the_design_says() {
        use std::mem::size_of;
        // The 22 default buckets and `+Inf`.
        assert_eq!(size_of::<Exemplars<BucketCells<22>>>(), 16);
        assert_eq!(size_of::<BucketCells<22>>(), 23 * 48);
        assert_eq!(size_of::<[ExemplarCell; 6]>(), 6 * 48);
    }

    /// Writers race (the shared protocol) while a reader reads: every exemplar read is one
    /// writer's whole, never the trace id of one call with the value of another.
    #[test]
    fn racing_writers_never_tear_an_exemplar() {
        static CELL: ExemplarCell = ExemplarCell::new();
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            for w in 1..=3u64 {
                s.spawn(move || {
                    for i in 0..200_000u64 {
                        let n = (w << 32) | i;
                        CELL.write(span(n), n, n, false);
                    }
                });
            }
            s.spawn(|| {
                let mut seen = 0;
                while !stop.load(Ordering::Relaxed) || seen == 0 {
                    if let Some(got) = CELL.read() {
                        let n = got.value;
                        assert_eq!((got.span, got.at), (span(n), n), "torn");
                        seen += 1;
                    }
                }
            });
            std::thread::sleep(std::time::Duration::from_millis(200));
            stop.store(true, Ordering::Relaxed);
        });
    }
}
