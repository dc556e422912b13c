//! The single-writer shard protocol: which cells a thread records into.
//!
//! The first [`SHARDS`] threads that record each own a shard: at every site they are the only
//! writer of its cells, so a count is a plain load and store (no locked instruction, no cache
//! line taken from another core). Threads beyond them share one more shard, written with
//! `fetch_add`. A shard changes hands only through the lock of the free list, after the
//! thread that owned it has ended, so the next owner starts from its last value: every count
//! is seen exactly once, and counts never go down between scrapes.

use core::cell::Cell;
use core::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};

use crate::sync::lock;

/// How many threads get cells of their own at a site. The others share one more set.
pub(super) const SHARDS: usize = 8;

/// The shard of the threads beyond [`SHARDS`]: shared, so written with atomic adds.
#[allow(clippy::cast_possible_truncation)] // SHARDS is 8
const SHARED: u8 = SHARDS as u8;

/// The shard of a thread that has not recorded anything yet.
const UNASSIGNED: u8 = u8::MAX;

/// Shards never handed out yet, then shards given back by threads that ended.
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);
static FREE_SHARDS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

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
    let free = lock(&FREE_SHARDS).pop();
    let own = free.or_else(|| {
        let next = NEXT_SHARD.fetch_add(1, Relaxed);
        // SHARDS fits in a u8.
        #[allow(clippy::cast_possible_truncation)]
        (next < SHARDS).then_some(next as u8)
    });
    match own {
        // Registering the owner's destructor fails while the thread's thread-locals are being
        // destroyed: such a late call records into the shared cells.
        Some(i) if OWNER.try_with(|_| ()).is_ok() => {
            SHARD.with(|s| s.set(i));
            Shard::Own(usize::from(i))
        }
        other => {
            if let Some(i) = other {
                give_back(i);
            }
            SHARD.with(|s| s.set(SHARED));
            Shard::Shared
        }
    }
}

fn give_back(shard: u8) {
    lock(&FREE_SHARDS).push(shard);
}

/// Owns the thread's shard: when the thread ends, its later recordings (from other
/// thread-locals' destructors) go to the shared cells and the shard goes to the next thread.
/// The lock on the free list orders this thread's last writes before the next owner's.
struct ShardOwner;

impl Drop for ShardOwner {
    fn drop(&mut self) {
        let shard = SHARD.with(|s| s.replace(SHARED));
        if usize::from(shard) < SHARDS {
            give_back(shard);
        }
    }
}

/// Adds `n` to `cell`. A thread's own cells have no other writer, so a plain load and store
/// is enough: no locked instruction, no cache line taken from another core.
#[inline]
pub(super) fn bump(cell: &AtomicU64, n: u64, own: bool) {
    if own {
        cell.store(cell.load(Relaxed).wrapping_add(n), Relaxed);
    } else {
        cell.fetch_add(n, Relaxed);
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
