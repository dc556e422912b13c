//! Native (exponential) histograms: buckets at a fixed relative resolution, no bounds to
//! choose. Bucket `i` of schema `s` holds the values in `(2^((i-1)/2^s), 2^(i/2^s)]`, as
//! Prometheus defines them; schema 3 (the default) puts a factor of 2^(1/8) ≈ 1.09 between
//! bounds, so a quantile read from them is within about 4.4 % of the true value.
//!
//! The bucket of a value comes from its bits: the `f64` exponent gives the octave, and for a
//! positive schema the top `s + 1` bits of the mantissa index a small table ([`Table`]) that
//! gives the bucket up to one comparison with the next bound; a duration in whole nanoseconds
//! gets it from the integer's leading zeros and next bits the same way ([`NanosTable`]), with
//! no float at all. No `log`, no lock; the cells of a
//! series in a shard ([`NativeSlot`]) are one allocation, made by its first call there.
//!
//! Memory is a fixed window of buckets, not a resolution that halves as buckets fill up (as
//! Prometheus's Go client does): a halving needs every writer to agree on the new layout, which
//! takes a lock or a compare-and-swap loop per call, and obs's hot path has neither. The window
//! covers (2^-30, 2^12] seconds (1 ns to 68 minutes, 42 octaves) for durations and
//! (2^-30, 2^34] for the facade's values of unknown unit: at schema 3 a duration series holds
//! 336 bucket counters, the zero bucket, a header and a pending call (2,712 bytes) per shard
//! that recorded into it. Values at or below the zero threshold (2^-30: under the clock's
//! nanosecond, so "too short to resolve") count in the zero bucket, and so do negative values
//! and NaN (a histogram of durations has none); values above the window count in its top
//! bucket (the count and sum stay exact).

use core::sync::atomic::{
    AtomicI8, AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
};
use std::sync::OnceLock;

use super::shard::bump;
use crate::exposition::NativeBuckets;

/// The schema of `#[timed(native)]` and of `Builder::native_histograms(true)`.
pub const DEFAULT_SCHEMA: i8 = 3;
/// The coarsest schema: a factor of 2^16 between bounds.
pub const MIN_SCHEMA: i8 = -4;
/// The finest schema: a factor of 2^(1/256) between bounds.
pub const MAX_SCHEMA: i8 = 8;

/// Values at or below it count in the zero bucket: 2^-30, just under a nanosecond in seconds.
/// A power of two, so at every schema it is a bucket bound and the zero bucket overlaps none.
pub(crate) const ZERO_THRESHOLD: f64 = 1.0 / (1u32 << 30) as f64;
/// The top of the window of duration histograms (sites, HTTP): 2^12 s, 68 minutes.
pub(crate) const DURATION_TOP: i32 = 12;
/// The top of the window of facade histograms, whose unit obs does not know: 2^34.
pub(crate) const WIDE_TOP: i32 = 34;

const MANTISSA: u64 = (1 << 52) - 1;

/// No schema: native histograms are off.
const OFF: i8 = i8::MIN;

/// The schema of every histogram that does not choose its own, or [`OFF`]: set by
/// `Builder::native_histograms` and `OBS_NATIVE_HISTOGRAMS`.
static PROGRAM: AtomicI8 = AtomicI8::new(OFF);

/// Turns native histograms on (with `schema`) or off for every histogram of the program that
/// has no schema of its own. Series that already keep native buckets keep them.
pub(crate) fn set_program_schema(schema: Option<i8>) {
    PROGRAM.store(schema.unwrap_or(OFF), Relaxed);
}

/// The schema of a histogram: its own (`own`, [`OFF`] for none), else the program's.
#[inline]
pub(crate) fn schema_of(own: i8) -> Option<i8> {
    let schema = if own == OFF {
        PROGRAM.load(Relaxed)
    } else {
        own
    };
    (schema != OFF).then_some(schema)
}

/// `schema` if it is one Prometheus knows (-4 to 8), for `#[timed(native(schema = N))]`'s
/// spec: the macro has checked it.
pub(crate) const fn own_schema(schema: Option<i8>) -> i8 {
    match schema {
        Some(s) if s >= MIN_SCHEMA && s <= MAX_SCHEMA => s,
        _ => OFF,
    }
}

/// One slice of an octave's mantissa: the first bucket `j` whose bound is at or above the
/// slice's start, and that bound (as mantissa bits). A value of the slice is in `j`, or in
/// `j + 1` when above the bound: one load and one comparison.
#[derive(Clone, Copy)]
struct Slice {
    bound: u64,
    j: u32,
}

/// The bounds of one positive schema `s` within an octave, cut into 2^(s+1) equal slices of
/// the mantissa. A slice is narrower than the narrowest bucket (2^(1/2^s) - 1 > ln 2 / 2^s >
/// 1 / 2^(s+1)), so it holds at most one bound. An array in the struct, not a box, and the
/// slice carries its bound: the hot path reaches it in one load from a static address
/// (measured: see docs/design.md, "Native histograms").
pub(crate) struct Table {
    slices: [Slice; 2 << MAX_SCHEMA],
}

impl Table {
    #[cold]
    #[inline(never)]
    fn new(schema: i8) -> Self {
        let n = 1u32 << schema;
        let bound = |j: u32| {
            if j >= n {
                1 << 52 // 2.0: the octave's top
            } else {
                // exp2 of a multiple of 2^-s; correctly rounded but for glibc's 0.502 ULP
                // worst case, which can only move a value equal to a bound.
                (f64::from(j) / f64::from(n)).exp2().to_bits() & MANTISSA
            }
        };
        let shift = 52 - (u32::from(schema.unsigned_abs()) + 1);
        let mut slices = [Slice { bound: 0, j: 0 }; 2 << MAX_SCHEMA];
        for (slice, entry) in (0..2 * n).zip(slices.iter_mut()) {
            let start = u64::from(slice) << shift;
            let j = (0..=n).find(|&j| bound(j) >= start).unwrap_or(n);
            *entry = Slice { bound: bound(j), j };
        }
        Table { slices }
    }

    /// The table of positive `schema` (1 to 8), built on first use.
    #[inline(always)]
    #[allow(clippy::inline_always)] // the constants must reach the index: see above
    fn of(schema: i8) -> &'static Table {
        static TABLES: [OnceLock<Table>; MAX_SCHEMA as usize] =
            [const { OnceLock::new() }; MAX_SCHEMA as usize];
        let i = usize::try_from(schema.clamp(1, MAX_SCHEMA) - 1).unwrap_or(0);
        TABLES[i].get_or_init(|| Table::new(schema.clamp(1, MAX_SCHEMA)))
    }
}

/// The bucket of `value` (positive, normal) at `schema`; `table` is [`Table::of`] for a
/// positive schema.
#[inline(always)]
#[allow(clippy::inline_always)] // the constants must reach the index: see above
fn index(value: f64, schema: i8, table: Option<&Table>) -> i32 {
    let bits = value.to_bits();
    // value = frac × 2^exp with frac in [0.5, 1), as C's frexp: the octave.
    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)] // 11 bits
    let exp = ((bits >> 52) & 0x7ff) as i32 - 1022;
    let mantissa = bits & MANTISSA;
    match table {
        Some(table) if schema > 0 => {
            let s = u32::from(schema.unsigned_abs());
            // Below 2^(s+1) ≤ 512: the mask only spares the bounds check.
            let slice = table.slices[(mantissa >> (52 - s - 1)) as usize & ((2 << MAX_SCHEMA) - 1)];
            #[allow(clippy::cast_possible_wrap)] // ≤ 256
            let j = slice.j as i32 + i32::from(mantissa > slice.bound);
            j + ((exp - 1) << s)
        }
        _ => {
            // An exact power of two is the top of the bucket below.
            let key = if mantissa == 0 { exp - 1 } else { exp };
            let shift = i32::from(schema).unsigned_abs().min(31);
            // Rounded up (arithmetic shift: towards -inf, then the +2^shift-1 makes it ceil).
            (key + (1 << shift) - 1) >> shift
        }
    }
}

/// The window of `schema` up to 2^`top`: the index of its first bucket (the one just above the
/// zero threshold) and its number of buckets. A `const fn`, so a site whose schema is fixed at
/// compile time (`#[timed(native)]`) gets both as constants on its hot path.
#[allow(clippy::cast_sign_loss)] // high ≥ low
pub(crate) const fn window(schema: i8, top: i32) -> (i32, usize) {
    // 2^-30 × (1 + ε) and 2^top, by [`index`]'s two cases: exactly, with no float.
    let (low, high) = if schema > 0 {
        (1 - (30 << schema), top << schema)
    } else {
        let shift = (-schema) as u32;
        let up = (1 << shift) - 1;
        ((-29 + up) >> shift, (top + up) >> shift)
    };
    (low, (high - low + 1) as usize)
}

/// Where the series' counters start in [`NativeSlot`]'s one allocation: a header holding the
/// schema and the top the cells were made for, the latest call of a thread's own cells
/// ([`count`]), then the zero bucket, then the window.
const HEADER: usize = 1;
const PENDING: usize = 1;
const ZERO: usize = 2;
const FIRST: usize = 3;
/// The pending word: the slot in its low 16 bits (the largest window, schema 8 up to 2^34,
/// has 16,387 slots), what the slot's counter held when the call was made in the other 48.
const SLOT_BITS: u32 = 16;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;
// The widest window's last slot fits the pending word's slot bits.
#[allow(clippy::cast_possible_truncation)] // SLOT_MASK is 16 bits
const _: () = assert!(FIRST + window(MAX_SCHEMA, WIDE_TOP).1 <= SLOT_MASK as usize);

/// Counts one call in `slot` of `counts`; `own`: the calling thread is their only writer.
///
/// A thread's own cells count a call one call late: the call leaves its slot pending (with
/// what that slot's counter held, for readers) and the next call adds it to its counter. So
/// the counter written is the previous call's, whose address is known before this call reads
/// the clock, and this call's slot, computed from the clock, only reaches a store as data.
/// A store whose address waits for the duration cost 13 to 15 ns a call of
/// `#[timed(native)]` against 1.5 ns for this (measured: see docs/design.md, "Native
/// histograms"). [`NativeSlot::read`] adds the pending call unless its counter already has it.
/// The shared cells (`own` false) take a locked add into the slot's counter.
#[inline(always)]
#[allow(clippy::inline_always)] // the constants must reach the index: see above
fn count(counts: &[AtomicU64], slot: usize, own: bool) {
    // The length check never fails (cells hold a window): it spares the indexes' checks.
    if !own || counts.len() <= FIRST {
        if let Some(count) = counts.get(slot) {
            bump(count, 1, own);
        }
        return;
    }
    let pending = &counts[PENDING];
    let last = pending.load(Relaxed);
    #[allow(clippy::cast_possible_truncation)] // 16 bits
    let at = (last & SLOT_MASK) as usize;
    if at >= ZERO && at < counts.len() {
        bump(&counts[at], 1, true);
    }
    // Out of range (a hand-written site's wrong `fixed`): nothing pending, the call is lost.
    let next = if slot < counts.len() {
        counts[slot].load(Relaxed) << SLOT_BITS | slot as u64
    } else {
        0
    };
    // Release: a reader that sees this word sees the counts it was made after.
    pending.store(next, Release);
}

/// The counters of `schema` up to 2^`top`: header, zero bucket, window.
#[cold]
#[inline(never)]
fn counters(schema: i8, top: i32) -> Box<[AtomicU64]> {
    let (_, len) = window(schema, top);
    let header = header(schema, top);
    (0..FIRST + len)
        .map(|i| AtomicU64::new(if i < HEADER { header } else { 0 }))
        .collect()
}

#[allow(clippy::cast_sign_loss)] // the bits of a signed pair, read back by `layout`
fn header(schema: i8, top: i32) -> u64 {
    u64::from(schema as u8) | (u64::from(top as u32) << 8)
}

/// The schema and top of counters made by [`counters`].
#[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
fn layout(counts: &[AtomicU64]) -> (i8, i32) {
    let header = counts[0].load(Relaxed);
    (header as u8 as i8, (header >> 8) as u32 as i32)
}

/// Where `value` counts in the counters of `schema` whose window starts at bucket `low` and
/// holds `len`: the zero bucket at or below the threshold (and for negative values and NaN),
/// the window's top above it.
#[inline(always)]
#[allow(clippy::inline_always)] // the constants must reach the index: see above
fn slot(value: f64, schema: i8, low: i32, len: usize) -> usize {
    if value > ZERO_THRESHOLD {
        // Never below `low`: the threshold is the bound under it. So no clamp at 0.
        #[allow(clippy::cast_sign_loss)]
        let i = (index(value, schema, (schema > 0).then(|| Table::of(schema))) - low) as u32;
        FIRST + (i as usize).min(len - 1)
    } else {
        ZERO
    }
}

/// `nanos` in seconds, as Prometheus stores durations: the value whose bucket a duration of
/// `nanos` is in. Through `i64`: a signed conversion is one instruction, an unsigned one six; a
/// duration of 292 years or more is clamped (it counts in the window's top bucket either way).
#[inline]
#[allow(clippy::cast_precision_loss, clippy::cast_possible_wrap)]
pub(crate) fn seconds(nanos: u64) -> f64 {
    nanos.min(i64::MAX as u64) as i64 as f64 * 1e-9
}

/// One slice of the nanoseconds: the slot (in [`counters`]) of its first value, and the last
/// nanosecond of that slot within the slice (`u64::MAX` if the whole slice is in it). A value
/// of the slice is in `slot`, or in `slot + 1` when above `last`: one load and one comparison.
#[derive(Clone, Copy)]
struct NanosSlice {
    last: u64,
    slot: u32,
}

/// The slots of a duration of whole nanoseconds at one schema, window up to 2^[`DURATION_TOP`]
/// seconds: the index of a duration from its integer bits, not through a float. The octave is
/// the count of leading zeros (0 to 64, 64 for 0 ns), the slice the next `bits` bits (as
/// [`Table`]'s: narrower than the narrowest bucket, so it holds at most one bucket bound); an
/// entry per octave and slice, 65 × 2^`bits`. Built once per schema from the float index, so
/// every nanosecond lands where `seconds(nanos)` does by Prometheus's definition
/// (`nanos_land_where_their_seconds_do` checks every bound of every schema). What it saves is
/// the latency of the conversion, the multiply and the float's trip to the integer unit, on a
/// chain the next call waits for (measured: see docs/design.md, "Native histograms").
struct NanosTable {
    slices: Box<[NanosSlice]>,
}

impl NanosTable {
    #[cold]
    #[inline(never)]
    fn new(schema: i8) -> Self {
        let bits = nanos_bits(schema);
        let (low, len) = window(schema, DURATION_TOP);
        let slot_of = |nanos: u64| slot(seconds(nanos), schema, low, len);
        let mut slices = vec![NanosSlice { last: 0, slot: 0 }; 65 << bits];
        for zeros in 0..=64u32 {
            for slice in 0..1u64 << bits {
                // The first and last nanosecond of the slice (none: an octave narrower than
                // its slices has slices no value reaches; any entry will do).
                let (first, last) = match 63u32.checked_sub(zeros) {
                    None => (0, 0),
                    Some(octave) => {
                        let width = (1u64 << octave) >> bits;
                        #[allow(clippy::cast_possible_truncation)] // under 2^octave
                        let under = ((u128::from(slice) << octave) >> bits) as u64;
                        let first = (1u64 << octave) | under;
                        (first, first + (width.max(1) - 1))
                    }
                };
                let at = slot_of(first);
                // The last nanosecond still in `at`: the slot only grows with the value.
                let (mut inside, mut above) = (first, last.saturating_add(1));
                if slot_of(last) == at {
                    inside = u64::MAX;
                } else {
                    while above - inside > 1 {
                        let middle = inside + (above - inside) / 2;
                        if slot_of(middle) == at {
                            inside = middle;
                        } else {
                            above = middle;
                        }
                    }
                }
                // Where [`slot`](Self::slot) looks for it: the row of 0 ns is 64 (its
                // slices are all 0 ns), every other row is `zeros ^ 1`.
                let row = if zeros == 64 { 64 } else { zeros ^ 1 };
                #[allow(clippy::cast_possible_truncation)] // a slot of at most 2^14
                let entry = NanosSlice {
                    last: inside,
                    slot: at as u32,
                };
                #[allow(clippy::cast_possible_truncation)] // a slice of at most 9 bits
                let slice = slice as usize;
                slices[(row as usize) << bits | slice] = entry;
            }
        }
        NanosTable {
            slices: slices.into_boxed_slice(),
        }
    }

    /// The table of `schema` (-4 to 8), built on first use.
    #[inline(always)]
    #[allow(clippy::inline_always)] // the constants must reach the index: see above
    fn of(schema: i8) -> &'static NanosTable {
        const SCHEMAS: usize = (MAX_SCHEMA - MIN_SCHEMA + 1) as usize;
        static TABLES: [OnceLock<NanosTable>; SCHEMAS] = [const { OnceLock::new() }; SCHEMAS];
        let i = usize::try_from(schema.clamp(MIN_SCHEMA, MAX_SCHEMA) - MIN_SCHEMA).unwrap_or(0);
        // `get` then a cold call, not `get_or_init`: its closure's capture of `schema` was
        // a store to the stack on every call.
        match TABLES[i].get() {
            Some(table) => table,
            None => Self::first(&TABLES[i], schema),
        }
    }

    #[cold]
    #[inline(never)]
    fn first(cell: &'static OnceLock<NanosTable>, schema: i8) -> &'static NanosTable {
        cell.get_or_init(|| NanosTable::new(schema))
    }

    /// The slot of a duration of `nanos`, the zero bucket's for 0; `bits` is
    /// [`nanos_bits`] of the table's schema, given as a constant by the caller.
    #[inline(always)]
    #[allow(clippy::inline_always)] // the constants must reach the index: see above
    fn slot(&self, nanos: u64, bits: u32) -> usize {
        let zeros = nanos.leading_zeros();
        // The leading one and the `bits` bits under it: 2^bits + the slice (0 for 0 ns: a
        // shift by 64 wraps to 0). The xor with the row turns the leading one into the
        // row's lowest bit, so the key needs no mask: row `zeros ^ 1` (64 for 0 ns). One
        // instruction fewer than masking the one off, on the chain from the duration to
        // its counter.
        let top = nanos.wrapping_shl(zeros) >> (63 - bits);
        #[allow(clippy::cast_possible_truncation)] // at most 16 bits
        let key = ((u64::from(zeros) << bits) ^ top) as usize;
        let entry = self.slices[key];
        entry.slot as usize + usize::from(nanos > entry.last)
    }
}

/// How many bits under its leading one slice a nanosecond's octave at `schema`.
const fn nanos_bits(schema: i8) -> u32 {
    if schema > 0 {
        schema.unsigned_abs() as u32 + 1
    } else {
        1
    }
}

/// A series' native buckets in one shard, allocated by the first call that records them: one
/// boxed slice of counters ([`counters`]), so a call goes from the slot to its counter with no
/// other load between (measured: see docs/design.md, "Native histograms").
pub(crate) struct NativeSlot(OnceLock<Box<[AtomicU64]>>);

impl NativeSlot {
    pub(crate) const fn new() -> Self {
        NativeSlot(OnceLock::new())
    }

    /// Counts `value` at `schema` (used if this is the slot's first value), in a window up to
    /// 2^`top`; `own`: the calling thread is these cells' only writer. When `schema` and `top`
    /// are constants (a site's own schema), so are the window's first index and length:
    /// always inlined, or they are not (measured: 232 instructions a call of `#[timed(native)]`
    /// instead of 176).
    #[inline(always)]
    #[allow(clippy::inline_always)] // the constants must reach the index: see above
    pub(crate) fn record(&self, schema: i8, top: i32, value: f64, own: bool) {
        let (low, len) = window(schema, top);
        let counts = self.0.get_or_init(|| counters(schema, top));
        // The length tells the layout apart (one per schema and top, pinned by the tests):
        // cells made at another schema (the program's switch changed) take the slow way.
        if counts.len() == FIRST + len {
            count(counts, slot(value, schema, low, len), own);
        } else {
            Self::record_other(counts, value, own);
        }
    }

    /// Counts a duration of `nanos` at `schema` (used if this is the slot's first value), in the
    /// window of durations: [`record`](Self::record) of its seconds, with the slot from the
    /// integer ([`NanosTable`]). `fixed`: `schema` is the site's own, so these cells were made
    /// at it (no other schema ever reaches them) and the check of their layout is skipped; the
    /// bounds check of the counter stays. Always inlined, for the same reason.
    #[inline(always)]
    #[allow(clippy::inline_always)] // the constants must reach the index: see above
    pub(crate) fn record_nanos(&self, schema: i8, nanos: u64, own: bool, fixed: bool) {
        let (_, len) = window(schema, DURATION_TOP);
        // `get` then a cold call, as for the table.
        let counts = match self.0.get() {
            Some(counts) => counts,
            None => self.first(schema, DURATION_TOP),
        };
        let table = NanosTable::of(schema);
        if fixed || counts.len() == FIRST + len {
            // `get` in `count`: if `fixed` were wrong (only a hand-written site could make it
            // so), a slot past these cells would lose the count rather than panic.
            count(counts, table.slot(nanos, nanos_bits(schema)), own);
        } else {
            Self::record_other(counts, seconds(nanos), own);
        }
    }

    /// The first call's allocation of the counters.
    #[cold]
    #[inline(never)]
    fn first(&self, schema: i8, top: i32) -> &[AtomicU64] {
        self.0.get_or_init(|| counters(schema, top))
    }

    /// Counts `value` in counters made at another schema than the caller's.
    #[cold]
    fn record_other(counts: &[AtomicU64], value: f64, own: bool) {
        let (schema, top) = layout(counts);
        let (low, len) = window(schema, top);
        count(counts, slot(value, schema, low, len), own);
    }

    /// The buckets of these slots (a series' shards) together; empty buckets of `schema` if
    /// none recorded yet (a series shown at zero is native from its first scrape, so `rate()`
    /// has a native sample before the first call), `None` if neither. Slots made at another
    /// schema than the first (recorded before the program's schema changed) are left out.
    pub(crate) fn read<'a>(
        slots: impl Iterator<Item = &'a NativeSlot>,
        schema: Option<i8>,
    ) -> Option<NativeBuckets> {
        let mut shards = slots.filter_map(|s| s.0.get());
        let Some(first) = shards.next() else {
            return schema.map(|schema| NativeBuckets {
                schema,
                zero_threshold: ZERO_THRESHOLD,
                zero_count: 0,
                positive: Vec::new(),
            });
        };
        // Summed counter by counter across the shards, straight into the sparse list: no
        // window-sized buffer (most series have one shard and a few buckets with counts).
        let (schema, top) = layout(first);
        // Each shard's pending call ([`count`]), read before its counters: it is in them if
        // its counter no longer holds what it held when the call was made (the counter only
        // grows when the next call of the thread adds it).
        let pending = |s: &[AtomicU64]| s.get(PENDING).map_or(0, |p| p.load(Acquire));
        let shards: Vec<(&[AtomicU64], u64)> = core::iter::once(&**first)
            .chain(shards.map(|s| &**s).filter(|s| layout(s) == (schema, top)))
            .map(|s| (s, pending(s)))
            .collect();
        let total = |k: usize| {
            shards.iter().fold(0u64, |t, &(s, last)| {
                let n = s[k].load(Relaxed);
                let held = last >> SLOT_BITS;
                let late = last & SLOT_MASK == k as u64 && (n.wrapping_sub(held) << SLOT_BITS) == 0;
                t.wrapping_add(n).wrapping_add(u64::from(late && k >= ZERO))
            })
        };
        let (low, _) = window(schema, top);
        let positive = (FIRST..first.len())
            .zip(low..)
            .filter_map(|(k, i)| Some((i, total(k))).filter(|&(_, count)| count > 0))
            .collect();
        Some(NativeBuckets {
            schema,
            zero_threshold: ZERO_THRESHOLD,
            zero_count: total(ZERO),
            positive,
        })
    }
}

#[cfg(test)]
mod tests;
