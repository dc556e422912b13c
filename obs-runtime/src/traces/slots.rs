//! The spans of `init()`'s own subscriber: one slot each, in a table shared by the process.
//!
//! `tracing-subscriber`'s `Registry` keeps a span in a sharded slab slot whose every lookup
//! takes and gives back a reference (two atomic read-modify-writes), and its extensions in a
//! map of boxed values behind a lock: 627 instructions a span with no layer at all, more than
//! fastrace's whole recorded span (531, docs/design.md "Spans at fastrace's cost"). Here:
//!
//! - a span's id is its slot's index and the slot's generation: a lookup is a bounds-free
//!   index into a segment and a compare of the generation (plain loads), and an id kept past
//!   its span's close finds nothing rather than the slot's next span;
//! - what every lookup reads (metadata, parent, flags, the trace ids) sits in atomics beside
//!   the slot's lock, which guards only what is written while the span is open (its trace
//!   record, its fields for log lines, the caller's `tracestate`) and is taken only when the
//!   flags say there is something;
//! - free slots are kept per thread (a span closed on one thread is reused there), handed to a
//!   shared list in halves past 256, and taken back from it 32 at a time: no shared cache line
//!   on the path of a span that opens and closes on one thread;
//! - segments double in size and are never freed or moved, so a slot reference is `'static`:
//!   the table holds as many slots as were ever open at once.

use core::cell::RefCell;
use core::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crossbeam_utils::atomic::AtomicCell;
use tracing::span::{Attributes, Id};
use tracing::{Dispatch, Metadata};

use super::ids::{SpanContext, SpanIds};
use super::record::{Fields, FieldsVisitor, SpanRecord};
use crate::sync::lock;

/// What a span keeps while open, behind its slot's lock.
#[derive(Default, Debug)]
pub(crate) struct Kept {
    /// The caller's `tracestate`, passed on by the span's context.
    pub(crate) trace_state: Option<Arc<str>>,
    /// The trace record of a sampled (or tail-held) span.
    pub(crate) record: Option<SpanRecord>,
    /// The span's fields for log lines, when it has no record (whose fields serve instead).
    pub(crate) fields: Fields,
}

/// The trace work gave the span ids.
const IDS: u8 = 1;
/// Its ids are sampled.
const SAMPLED: u8 = 2;
/// Its state holds a trace record.
const RECORD: u8 = 4;
/// Its state may hold anything: the lock is taken to read or clear it.
const STATE: u8 = 8;
/// Its state holds the caller's `tracestate`: a parent's context is read without its lock
/// otherwise (a parent with fields kept for log lines has `STATE` but nothing to pass on).
const TRACE_STATE: u8 = 16;
/// Its record holds tail sampling's hold of its local trace, which a child joins: read under
/// the lock, as the `tracestate` is.
const TALLY: u8 = 32;

/// One span.
///
/// A slot is a cache line's multiple and starts one: threads take free slots one at a time,
/// so two threads' spans sit side by side, and sharing a line, each span's writes to its slot
/// took the line from the other thread. With a second thread opening the same spans, a
/// thread's span cost 1.6 to 4.8 × its cost alone (under a global subscriber, as `init()`
/// installs it; docs/design.md, "Spans on two threads"); aligned, 0.9 to 1.1 ×. (Taking
/// slots in chunks of 16 per thread as well measured the same: not kept.)
#[derive(Debug)]
#[repr(align(64))]
pub(crate) struct Slot {
    /// Bumped when the span closes: ids of earlier spans in this slot no longer match.
    generation: AtomicU32,
    /// The subscriber the span belongs to (`Spans::owner`).
    owner: AtomicU32,
    refs: AtomicUsize,
    meta: AtomicCell<Option<&'static Metadata<'static>>>,
    /// The parent's id (`0`: none); the span holds a reference to it.
    parent: AtomicU64,
    flags: AtomicU8,
    trace_high: AtomicU64,
    trace_low: AtomicU64,
    span_id: AtomicU64,
    state: Mutex<Kept>,
}

impl Slot {
    fn new() -> Slot {
        Slot {
            generation: AtomicU32::new(1),
            owner: AtomicU32::new(0),
            refs: AtomicUsize::new(0),
            meta: AtomicCell::new(None),
            parent: AtomicU64::new(0),
            flags: AtomicU8::new(0),
            trace_high: AtomicU64::new(0),
            trace_low: AtomicU64::new(0),
            span_id: AtomicU64::new(0),
            state: Mutex::new(Kept::default()),
        }
    }

    /// The span's callsite.
    pub(crate) fn meta(&self) -> &'static Metadata<'static> {
        // A slot is looked up only by the id `create` gave, after it stored the metadata.
        self.meta
            .load()
            .unwrap_or_else(|| unreachable!("a slot found by its id has a span"))
    }

    /// The parent's id, if the span has one.
    pub(crate) fn parent(&self) -> Option<Id> {
        let raw = core::num::NonZeroU64::new(self.parent.load(Ordering::Relaxed))?;
        Some(Id::from_non_zero_u64(raw))
    }

    /// The span's ids, when the trace work gave it some.
    pub(crate) fn ids(&self) -> Option<SpanIds> {
        let flags = self.flags.load(Ordering::Relaxed);
        (flags & IDS != 0).then(|| self.ids_unchecked(flags))
    }

    /// The ids of a span whose trace record is sampled: the one an exemplar may point at.
    #[inline]
    pub(crate) fn sampled_record(&self) -> Option<SpanIds> {
        let flags = self.flags.load(Ordering::Relaxed);
        (flags & (RECORD | SAMPLED) == RECORD | SAMPLED).then(|| self.ids_unchecked(flags))
    }

    fn ids_unchecked(&self, flags: u8) -> SpanIds {
        let high = self.trace_high.load(Ordering::Relaxed);
        let low = self.trace_low.load(Ordering::Relaxed);
        SpanIds {
            trace_id: ((u128::from(high) << 64) | u128::from(low)).to_be_bytes(),
            span_id: self.span_id.load(Ordering::Relaxed).to_be_bytes(),
            sampled: flags & SAMPLED != 0,
        }
    }

    /// The span's ids and the `tracestate` it passes on.
    pub(crate) fn context(&self) -> Option<SpanContext> {
        let ids = self.ids()?;
        if self.flags.load(Ordering::Relaxed) & (TRACE_STATE | TALLY) == 0 {
            return Some(SpanContext {
                ids,
                trace_state: None,
                tally: None,
            });
        }
        let state = self.lock();
        Some(SpanContext {
            ids,
            trace_state: state.trace_state.clone(),
            tally: state.record.as_ref().and_then(|r| r.tally.clone()),
        })
    }

    /// Whether the span has a trace record.
    #[inline]
    pub(crate) fn has_record(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & RECORD != 0
    }

    /// Whether the span's state may hold anything (a record, fields, a `tracestate`).
    #[inline]
    pub(crate) fn has_state(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & STATE != 0
    }

    /// The span's state, locked.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Kept> {
        lock(&self.state)
    }

    /// Says that the span's state now holds fields (call with the lock held).
    pub(crate) fn mark_state(&self) {
        self.flags.fetch_or(STATE, Ordering::Relaxed);
    }

    /// Sets the span's context, replacing what it had (`RemoteContext::set_parent_of` changes
    /// a span's trace after it was created); its record is whatever `state.record` holds.
    /// `state` is this slot's state, locked.
    pub(crate) fn set_trace(&self, state: &mut Kept, context: SpanContext) {
        let mut flags = self.flags.load(Ordering::Relaxed) & STATE;
        let trace = u128::from_be_bytes(context.ids.trace_id);
        #[allow(clippy::cast_possible_truncation)] // the two halves of the id
        {
            self.trace_high
                .store((trace >> 64) as u64, Ordering::Relaxed);
            self.trace_low.store(trace as u64, Ordering::Relaxed);
        }
        self.span_id
            .store(u64::from_be_bytes(context.ids.span_id), Ordering::Relaxed);
        flags |= IDS | if context.ids.sampled { SAMPLED } else { 0 };
        if context.trace_state.is_some() {
            flags |= STATE | TRACE_STATE;
        }
        state.trace_state = context.trace_state;
        if let Some(record) = &state.record {
            flags |= RECORD | STATE;
            if record.tally.is_some() {
                flags |= TALLY;
            }
        }
        self.flags.store(flags, Ordering::Relaxed);
    }

    /// Keeps `values` as the span's fields for log lines, recorded straight into the slot's
    /// `Vec`, which keeps its capacity from span to span (a new `Vec` a span was an
    /// allocation, a free and a copy: about 250 instructions, callgrind). `state` is this
    /// slot's state, locked.
    pub(crate) fn keep_fields(&self, state: &mut Kept, values: &Attributes<'_>) {
        values.record(&mut FieldsVisitor(&mut state.fields));
        if !state.fields.is_empty() {
            self.mark_state();
        }
    }

    /// One reference more (a clone of the span's handle, or a child).
    pub(crate) fn clone_ref(&self) {
        self.refs.fetch_add(1, Ordering::Relaxed);
    }

    /// One reference less: `true` if it was the last, and the span is closed.
    pub(crate) fn release(&self) -> bool {
        if self.refs.fetch_sub(1, Ordering::Release) != 1 {
            return false;
        }
        core::sync::atomic::fence(Ordering::Acquire);
        true
    }
}

/// Segment `k` holds `FIRST << k` slots.
const FIRST: usize = 64;
/// Enough segments for every `u32` index.
const SEGMENTS: usize = 27;

static TABLE: [OnceLock<Box<[Slot]>>; SEGMENTS] = [const { OnceLock::new() }; SEGMENTS];
/// The next index never used.
static NEXT: AtomicU32 = AtomicU32::new(0);
/// Free slots handed back by threads with more than they need, or that ended.
static SHARED_FREE: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// The segment and offset of slot `index`.
#[inline]
fn locate(index: u32) -> (usize, usize) {
    let n = index as usize / FIRST + 1;
    let k = (usize::BITS - 1 - n.leading_zeros()) as usize;
    (k, index as usize - FIRST * ((1 << k) - 1))
}

/// Slot `index`, if its segment exists.
#[inline]
fn slot(index: u32) -> Option<&'static Slot> {
    let (k, offset) = locate(index);
    TABLE.get(k)?.get()?.get(offset)
}

/// Makes sure slot `index`'s segment exists.
fn grow(index: u32) {
    let (k, _) = locate(index);
    TABLE[k].get_or_init(|| (0..FIRST << k).map(|_| Slot::new()).collect());
}

/// A thread's free slots; given to the shared list when the thread ends.
struct FreeList(Vec<u32>);

impl Drop for FreeList {
    fn drop(&mut self) {
        lock(&SHARED_FREE).append(&mut self.0);
    }
}

thread_local! {
    static FREE: RefCell<FreeList> = const { RefCell::new(FreeList(Vec::new())) };
}

/// A free slot's index.
fn take_free() -> u32 {
    let local = FREE
        .try_with(|free| free.borrow_mut().0.pop())
        .ok()
        .flatten();
    if let Some(index) = local {
        return index;
    }
    {
        let mut shared = lock(&SHARED_FREE);
        if let Some(index) = shared.pop() {
            let batch = shared.len().saturating_sub(31);
            let rest = shared.split_off(batch);
            drop(shared);
            let _ = FREE.try_with(|free| free.borrow_mut().0.extend(rest));
            return index;
        }
    }
    let index = NEXT.fetch_add(1, Ordering::Relaxed);
    // 4 billion spans open at once would need terabytes of slots: not a state a process
    // reaches, but the index must not wrap onto live spans.
    assert!(
        index != u32::MAX,
        "obs: more than 4 billion spans open at once"
    );
    grow(index);
    index
}

/// Slot `index` is free again.
fn give_back(index: u32) {
    let kept = FREE.try_with(|free| {
        let mut free = free.borrow_mut();
        free.0.push(index);
        if free.0.len() > 256 {
            let half = free.0.split_off(128);
            lock(&SHARED_FREE).extend(half);
        }
    });
    if kept.is_err() {
        lock(&SHARED_FREE).push(index);
    }
}

/// A span's id: its slot's generation and index.
fn id_of(index: u32, generation: u32) -> Id {
    Id::from_u64((u64::from(generation) << 32) | u64::from(index))
}

/// The spans of one subscriber: what `init()`'s subscriber hands to code that finds a span's
/// trace state through `Dispatch::downcast_ref` (propagation).
#[derive(Debug)]
pub(crate) struct Spans {
    owner: u32,
}

/// Owners given so far.
static OWNERS: AtomicU32 = AtomicU32::new(1);

/// Finds the spans of `init()`'s subscriber behind a `Dispatch`: set by `setup`, which owns
/// the subscriber's type (a `Dispatch` is downcast only to the type it holds).
static FIND: OnceLock<fn(&Dispatch) -> Option<&Spans>> = OnceLock::new();

/// Sets how the spans of `init()`'s subscriber are found behind a `Dispatch`.
pub(crate) fn recognise(find: fn(&Dispatch) -> Option<&Spans>) {
    let _ = FIND.set(find);
}

/// The spans of `dispatch`, if it is `init()`'s subscriber.
pub(crate) fn spans_of(dispatch: &Dispatch) -> Option<&Spans> {
    FIND.get().and_then(|find| find(dispatch))
}

impl Spans {
    pub(crate) fn new() -> Spans {
        Spans {
            owner: OWNERS.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The owner's number, kept on each of its spans and in the threads' stacks.
    pub(crate) fn owner(&self) -> u32 {
        self.owner
    }

    /// The open span `id` of this subscriber.
    #[inline]
    pub(crate) fn get(&self, id: &Id) -> Option<&'static Slot> {
        let raw = id.into_u64();
        #[allow(clippy::cast_possible_truncation)] // the two halves of the id
        let (index, generation) = (raw as u32, (raw >> 32) as u32);
        let slot = slot(index)?;
        (slot.generation.load(Ordering::Acquire) == generation
            && slot.owner.load(Ordering::Relaxed) == self.owner)
            .then_some(slot)
    }

    /// Takes a slot for a new span of `meta` whose parent is `parent` (which holds one
    /// reference more for it), and returns its id, with one reference, and the slot, empty
    /// until [`Slot::fill`].
    pub(crate) fn create(
        &self,
        meta: &'static Metadata<'static>,
        parent: Option<u64>,
    ) -> (Id, &'static Slot) {
        let index = take_free();
        let slot = slot(index).unwrap_or_else(|| unreachable!("grown by take_free"));
        slot.owner.store(self.owner, Ordering::Relaxed);
        slot.refs.store(1, Ordering::Relaxed);
        slot.meta.store(Some(meta));
        slot.parent.store(parent.unwrap_or(0), Ordering::Relaxed);
        slot.flags.store(0, Ordering::Relaxed);
        (id_of(index, slot.generation.load(Ordering::Relaxed)), slot)
    }
}

/// Frees the slot of span `id`, which has just closed (its last reference released), and
/// returns its parent; its trace record, if it has one, goes to `closed`.
///
/// The record is handed over rather than returned: a returned `Option<SpanRecord>` (some
/// 260 bytes) was copied on every close, record or not (callgrind: four `memcpy` calls a span
/// with no exporter).
pub(crate) fn free(id: &Id, slot: &'static Slot, closed: impl FnOnce(SpanRecord)) -> Option<Id> {
    if slot.has_state() {
        let mut state = slot.lock();
        state.fields.clear();
        state.trace_state = None;
        if slot.has_record()
            && let Some(record) = state.record.take()
        {
            drop(state);
            closed(record);
        }
    }
    let parent = slot.parent();
    slot.flags.store(0, Ordering::Relaxed);
    slot.parent.store(0, Ordering::Relaxed);
    let generation = slot.generation.load(Ordering::Relaxed);
    slot.generation
        .store(generation.wrapping_add(1).max(1), Ordering::Release);
    #[allow(clippy::cast_possible_truncation)] // the low half of the id is the index
    give_back(id.into_u64() as u32);
    parent
}

thread_local! {
    /// The spans entered on this thread, innermost last, with their subscriber's owner number.
    static STACK: RefCell<Vec<(u32, u64)>> = const { RefCell::new(Vec::new()) };
}

/// Span `id` of subscriber `owner` was entered on this thread.
#[inline]
pub(crate) fn push(owner: u32, id: &Id) {
    let _ = STACK.try_with(|stack| stack.borrow_mut().push((owner, id.into_u64())));
}

/// Span `id` of subscriber `owner` was exited on this thread (spans exit in the reverse order
/// of entry; one exited out of order is taken out where it is).
#[inline]
pub(crate) fn pop(owner: u32, id: &Id) {
    let entry = (owner, id.into_u64());
    let _ = STACK.try_with(|stack| {
        let mut stack = stack.borrow_mut();
        if stack.last() == Some(&entry) {
            stack.pop();
        } else if let Some(at) = stack.iter().rposition(|e| *e == entry) {
            stack.remove(at);
        }
    });
}

/// The innermost span of subscriber `owner` entered on this thread that is still open.
pub(crate) fn current(spans: &Spans) -> Option<(Id, &'static Slot)> {
    STACK
        .try_with(|stack| {
            stack.borrow().iter().rev().find_map(|(owner, raw)| {
                if *owner != spans.owner {
                    return None;
                }
                let id = Id::from_u64(*raw);
                spans.get(&id).map(|slot| (id, slot))
            })
        })
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cover_every_index_once() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(63), (0, 63));
        assert_eq!(locate(64), (1, 0));
        assert_eq!(locate(191), (1, 127));
        assert_eq!(locate(192), (2, 0));
        let (k, offset) = locate(u32::MAX);
        assert!(k < SEGMENTS && offset < FIRST << k);
    }

    /// The cache lines of a slot's memory.
    fn lines(slot: &Slot) -> core::ops::Range<usize> {
        let start = core::ptr::from_ref(slot) as usize;
        start / 64..(start + size_of::<Slot>()).div_ceil(64)
    }

    /// Two threads opening spans at once never write to one cache line: a slot starts a line
    /// and fills whole ones.
    #[test]
    fn two_threads_slots_share_no_cache_line() {
        let spans = Spans::new();
        let meta = {
            use tracing::callsite::Callsite as _;
            tracing::callsite! { name: "slot", kind: tracing::metadata::Kind::SPAN, fields: [] }
                .metadata()
        };
        // Each thread holds a few spans open at once, then both compare their slots' lines.
        let open = || {
            (0..4)
                .map(|_| spans.create(meta, None).1)
                .collect::<Vec<&'static Slot>>()
        };
        let (here, there) = std::thread::scope(|s| {
            let there = s.spawn(open);
            (open(), there.join().unwrap())
        });
        for a in &here {
            for b in &there {
                let (a, b) = (lines(a), lines(b));
                assert!(
                    a.end <= b.start || b.end <= a.start,
                    "lines {a:?} and {b:?} are shared"
                );
            }
        }
        for slot in here.iter().chain(&there) {
            assert_eq!(
                core::ptr::from_ref(*slot) as usize % 64,
                0,
                "a slot starts a line"
            );
        }
    }
}
