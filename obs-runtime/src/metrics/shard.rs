//! The single-writer shard protocol: which cells a thread records into.
//!
//! The first [`SHARDS`] threads that record each own a shard: at every site they are the only
//! writer of its cells, so a count is a plain load and store (no locked instruction, no cache
//! line taken from another core). Threads beyond them share one more shard, written with
//! `fetch_add`. A shard changes hands only through the lock of the free list, after the
//! thread that owned it has ended, so the next owner starts from its last value: every count
//! is seen exactly once, and counts never go down between scrapes.
//!
//! The hand-over ([`Handover`]) is model-checked with loom: in a `cfg(loom)` test build its atomic
//! and its lock are loom's, and the models at the end of this file run it with loom's cells
//! under every interleaving (`RUSTFLAGS="--cfg loom" cargo test -p obs-runtime --release --lib
//! loom`). The normal build compiles the same code with std's types.

use core::cell::Cell;
use core::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::OnceLock;

#[cfg(all(loom, test))]
use loom::sync::{Mutex, atomic::AtomicUsize};
#[cfg(not(all(loom, test)))]
use std::sync::{Mutex, atomic::AtomicUsize};

/// How many threads get cells of their own at a site. The others share one more set.
pub(super) const SHARDS: usize = 8;

/// The shard of the threads beyond [`SHARDS`]: shared, so written with atomic adds.
#[allow(clippy::cast_possible_truncation)] // SHARDS is 8
const SHARED: u8 = SHARDS as u8;

/// The shard of a thread that has not recorded anything yet.
const UNASSIGNED: u8 = u8::MAX;

/// Who owns which of `N` shards: shards never handed out yet, then shards given back by
/// threads that ended. One per process ([`HANDOVER`]); the loom models make one per run.
pub(super) struct Handover<const N: usize> {
    next: AtomicUsize,
    free: Mutex<Vec<u8>>,
}

impl<const N: usize> Handover<N> {
    #[cfg(not(all(loom, test)))]
    const fn new() -> Self {
        Handover {
            next: AtomicUsize::new(0),
            free: Mutex::new(Vec::new()),
        }
    }

    /// loom's atomics and locks are not built in const context.
    #[cfg(all(loom, test))]
    fn new() -> Self {
        Handover {
            next: AtomicUsize::new(0),
            free: Mutex::new(Vec::new()),
        }
    }

    /// A shard of its own for the calling thread: one given back, else one never handed out;
    /// `None` once all `N` are taken.
    fn take(&self) -> Option<u8> {
        let free = self.free_list().pop();
        free.or_else(|| {
            let next = self.next.fetch_add(1, Relaxed);
            // N is at most SHARDS, which fits in a u8.
            #[allow(clippy::cast_possible_truncation)]
            (next < N).then_some(next as u8)
        })
    }

    /// Gives `shard` back, after the last write of the thread that owned it: the lock orders
    /// those writes before the next owner's first.
    fn give_back(&self, shard: u8) {
        self.free_list().push(shard);
    }

    #[cfg(not(all(loom, test)))]
    fn free_list(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        crate::sync::lock(&self.free)
    }

    #[cfg(all(loom, test))]
    fn free_list(&self) -> loom::sync::MutexGuard<'_, Vec<u8>> {
        self.free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The shards of the process.
#[cfg(not(all(loom, test)))]
static HANDOVER: Handover<SHARDS> = Handover::new();

// A `cfg(loom)` test build checks the models only; this instance exists so the rest compiles.
#[cfg(all(loom, test))]
loom::lazy_static! {
    static ref HANDOVER: Handover<SHARDS> = Handover::new();
}

thread_local! {
    /// This thread's shard: assigned on its first recording, the same for every site.
    /// Const-initialised and without a destructor, so readable until the thread is gone.
    static SHARD: Cell<u8> = const { Cell::new(UNASSIGNED) };
    /// Gives an own shard back when the thread ends.
    static OWNER: ShardOwner = const { ShardOwner };
}

/// Where this thread records: its own cells (it is their only writer) or the shared ones.
#[derive(Clone, Copy)]
enum Shard {
    Own(usize),
    Shared,
}

/// The shard this thread records into.
#[inline]
fn shard() -> Shard {
    match SHARD.with(Cell::get) {
        UNASSIGNED => assign_shard(),
        SHARED => Shard::Shared,
        i => Shard::Own(usize::from(i)),
    }
}

#[cold]
fn assign_shard() -> Shard {
    match HANDOVER.take() {
        // Registering the owner's destructor fails while the thread's thread-locals are being
        // destroyed: such a late call records into the shared cells.
        Some(i) if OWNER.try_with(|_| ()).is_ok() => {
            SHARD.with(|s| s.set(i));
            Shard::Own(usize::from(i))
        }
        other => {
            if let Some(i) = other {
                HANDOVER.give_back(i);
            }
            SHARD.with(|s| s.set(SHARED));
            Shard::Shared
        }
    }
}

/// Owns the thread's shard: when the thread ends, its later recordings (from other
/// thread-locals' destructors) go to the shared cells and the shard goes to the next thread.
/// The lock on the free list orders this thread's last writes before the next owner's.
struct ShardOwner;

impl Drop for ShardOwner {
    fn drop(&mut self) {
        let shard = SHARD.with(|s| s.replace(SHARED));
        if usize::from(shard) < SHARDS {
            HANDOVER.give_back(shard);
        }
    }
}

/// A count cell: std's `AtomicU64`, and loom's in the models. [`bump`] is generic over it so
/// the models run the very code the sites run; for std's type it compiles to what a function
/// taking `&AtomicU64` does.
pub(super) trait CountCell {
    fn get(&self) -> u64;
    fn set(&self, value: u64);
    fn add(&self, n: u64);
}

impl CountCell for core::sync::atomic::AtomicU64 {
    #[inline]
    fn get(&self) -> u64 {
        self.load(Relaxed)
    }
    #[inline]
    fn set(&self, value: u64) {
        self.store(value, Relaxed);
    }
    #[inline]
    fn add(&self, n: u64) {
        self.fetch_add(n, Relaxed);
    }
}

#[cfg(all(loom, test))]
impl CountCell for loom::sync::atomic::AtomicU64 {
    fn get(&self) -> u64 {
        self.load(Relaxed)
    }
    fn set(&self, value: u64) {
        self.store(value, Relaxed);
    }
    fn add(&self, n: u64) {
        self.fetch_add(n, Relaxed);
    }
}

/// Adds `n` to `cell`. A thread's own cells have no other writer, so a plain load and store
/// is enough: no locked instruction, no cache line taken from another core.
#[inline]
pub(super) fn bump<C: CountCell>(cell: &C, n: u64, own: bool) {
    if own {
        cell.set(cell.get().wrapping_add(n));
    } else {
        cell.add(n);
    }
}

#[inline]
pub(super) fn bump_i64(cell: &AtomicI64, n: i64, own: bool) {
    if own {
        cell.store(cell.load(Relaxed).wrapping_add(n), Relaxed);
    } else {
        cell.fetch_add(n, Relaxed);
    }
}

/// Cells on a cache line of their own (128 bytes: the pair of lines x86 prefetches together).
#[repr(align(128))]
struct Padded<C>(C);

/// One set of cells per shard: the first inline, the others allocated on first use.
pub(super) struct Sharded<C: 'static> {
    first: Padded<C>,
    rest: [OnceLock<Box<Padded<C>>>; SHARDS - 1],
    shared: OnceLock<Box<Padded<C>>>,
}

impl<C: 'static> Sharded<C> {
    pub(super) const fn new(first: C) -> Self {
        Sharded {
            first: Padded(first),
            rest: [const { OnceLock::new() }; SHARDS - 1],
            shared: OnceLock::new(),
        }
    }

    /// This thread's cells, and whether they are its own; `make` builds them the first time a
    /// thread records into its shard.
    #[inline]
    pub(super) fn get(&self, make: fn() -> C) -> (&C, bool) {
        match shard() {
            Shard::Own(0) => (&self.first.0, true),
            Shard::Own(i) => (&Self::slot(&self.rest[i - 1], make).0, true),
            Shard::Shared => (&Self::slot(&self.shared, make).0, false),
        }
    }

    #[inline]
    fn slot(slot: &OnceLock<Box<Padded<C>>>, make: fn() -> C) -> &Padded<C> {
        slot.get_or_init(|| Box::new(Padded(make())))
    }

    /// Every shard's cells that exist.
    pub(super) fn iter(&self) -> impl Iterator<Item = &C> {
        let allocated = self.rest.iter().chain(core::iter::once(&self.shared));
        core::iter::once(&self.first.0).chain(allocated.filter_map(|s| s.get().map(|b| &b.0)))
    }
}

/// The hand-over under every interleaving loom finds (up to its preemption bound), with loom's
/// cells: one `u64` per shard plus the shared one, as a `#[counted]` site has per status; a
/// histogram's model has two buckets and a sum. A thread's end, which [`ShardOwner`] signals
/// from a thread-local destructor, is the explicit `give_back` at the end of its closure.
///
/// What each model asserts is what docs/design.md promises: every count is seen exactly once
/// (the totals after the threads end), counts never go down between two scrapes, and a
/// histogram's `_count` equals its `+Inf` bucket within a scrape.
#[cfg(all(test, loom))]
mod loom_models {
    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
    use loom::thread;

    use super::{Handover, bump};

    /// The cells of one site: `N` own shards and the shared one, each `K` counters.
    struct Site<const N: usize, const K: usize> {
        own: [[AtomicU64; K]; N],
        shared: [AtomicU64; K],
    }

    impl<const N: usize, const K: usize> Site<N, K> {
        fn new() -> Self {
            Site {
                own: core::array::from_fn(|_| core::array::from_fn(|_| AtomicU64::new(0))),
                shared: core::array::from_fn(|_| AtomicU64::new(0)),
            }
        }

        /// Where a thread holding `shard` records, and whether the cells are its own.
        fn cells(&self, shard: Option<u8>) -> (&[AtomicU64; K], bool) {
            match shard {
                Some(i) => (&self.own[usize::from(i)], true),
                None => (&self.shared, false),
            }
        }

        /// What a scrape reads: every cell once (relaxed, as the renderer), summed over the
        /// shards.
        fn scrape(&self) -> [u64; K] {
            let mut total = [0; K];
            for cells in self.own.iter().chain(core::iter::once(&self.shared)) {
                for (sum, cell) in total.iter_mut().zip(cells) {
                    *sum += cell.load(Relaxed);
                }
            }
            total
        }
    }

    /// A thread's life: take a shard (or none: the shared cells), record `n` counts into
    /// counter `k`, end (give the shard back).
    fn run<const N: usize, const K: usize>(
        handover: &Handover<N>,
        site: &Site<N, K>,
        k: usize,
        n: u64,
    ) {
        let shard = handover.take();
        let (cells, own) = site.cells(shard);
        for _ in 0..n {
            bump(&cells[k], 1, own);
        }
        if let Some(i) = shard {
            handover.give_back(i);
        }
    }

    fn model(f: impl Fn() + Sync + Send + 'static) {
        let mut builder = loom::model::Builder::new();
        if builder.preemption_bound.is_none() {
            builder.preemption_bound = Some(3);
        }
        builder.check(f);
    }

    #[test]
    fn loom_a_thread_ends_while_a_scrape_reads_its_cells() {
        model(|| {
            let handover = Arc::new(Handover::<1>::new());
            let site = Arc::new(Site::<1, 1>::new());
            let worker = {
                let (handover, site) = (handover.clone(), site.clone());
                thread::spawn(move || run(&handover, &site, 0, 2))
            };
            let first = site.scrape()[0];
            let second = site.scrape()[0];
            assert!(first <= second && second <= 2, "{first} then {second}");
            worker.join().unwrap();
            assert_eq!(site.scrape()[0], 2, "every count seen exactly once");
        });
    }

    #[test]
    fn loom_a_new_thread_takes_the_freed_shard() {
        model(|| {
            let handover = Arc::new(Handover::<1>::new());
            let site = Arc::new(Site::<1, 1>::new());
            // The first thread takes the only shard; the second takes it once the first has
            // given it back, or records into the shared cells if it comes first.
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let (handover, site) = (handover.clone(), site.clone());
                    thread::spawn(move || run(&handover, &site, 0, 1))
                })
                .collect();
            let first = site.scrape()[0];
            let second = site.scrape()[0];
            assert!(first <= second, "counts went down: {first} then {second}");
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(site.scrape()[0], 2, "every count seen exactly once");
        });
    }

    #[test]
    fn loom_two_threads_race_for_the_last_shard() {
        model(|| {
            let handover = Arc::new(Handover::<1>::new());
            let site = Arc::new(Site::<1, 1>::new());
            // How many threads hold shard 0 right now: never more than one.
            let holders = Arc::new(AtomicUsize::new(0));
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let (handover, site, holders) =
                        (handover.clone(), site.clone(), holders.clone());
                    thread::spawn(move || {
                        let shard = handover.take();
                        if shard.is_some() {
                            assert_eq!(holders.fetch_add(1, SeqCst), 0, "two owners");
                        }
                        let (cells, own) = site.cells(shard);
                        bump(&cells[0], 1, own);
                        if let Some(i) = shard {
                            holders.fetch_sub(1, SeqCst);
                            handover.give_back(i);
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(site.scrape()[0], 2, "every count seen exactly once");
        });
    }

    #[test]
    fn loom_the_shared_overflow_shard() {
        model(|| {
            // No own shard left: both threads add into the shared cells, a histogram's two
            // buckets (per bucket, not cumulative, as the sites store them).
            let handover = Arc::new(Handover::<0>::new());
            let site = Arc::new(Site::<0, 2>::new());
            let threads: Vec<_> = (0..2)
                .map(|bucket| {
                    let (handover, site) = (handover.clone(), site.clone());
                    thread::spawn(move || run(&handover, &site, bucket, 1))
                })
                .collect();
            let mut last = [0; 2];
            for _ in 0..2 {
                let buckets = site.scrape();
                // What the renderer writes: cumulated buckets, `+Inf` the last, `_count` the
                // sum of the buckets read.
                let inf = buckets[0] + buckets[1];
                let count: u64 = buckets.iter().sum();
                assert_eq!(count, inf, "_count = +Inf within a scrape");
                assert!(
                    buckets[0] >= last[0] && buckets[1] >= last[1],
                    "counts went down"
                );
                last = buckets;
            }
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(site.scrape(), [1, 1], "every count seen exactly once");
        });
    }
}
