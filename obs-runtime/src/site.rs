//! Per-call-site storage: one `static` per instrumented function and metric.
//!
//! The macros expand every instrumented function into statics of the types below. A site is a
//! fixed block of atomics, registered at link time in [`SITES`], so the hot path is an index and
//! a relaxed `fetch_add`: no hashing, no registry lookup, no lock, no allocation. Memory per site
//! is fixed at compile time and does not grow with the number of calls.
//!
//! The atomics are sharded by thread ([`Sharded`]): threads calling one function at once do not
//! bounce one cache line between their cores. The first thread records into cells inline in the
//! static; each other shard is allocated once, by the first thread that records into it.

use core::cell::Cell;
use core::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};

use crate::catalog::{Metric, MetricKind, Objective};
use crate::render::{Collector, Kind, Labels};
use crate::status::{ALWAYS_RENDERED, BUILTIN_COUNT, Status, StatusLabel};

/// The sites of every instrumented function in the program, one entry per function,
/// collected by the linker.
///
/// Complete before `main` runs: functions that were never called are listed too.
#[linkme::distributed_slice]
pub static SITES: [&'static [&'static dyn Site]];

/// Every site of every instrumented function.
pub(crate) fn all_sites() -> impl Iterator<Item = &'static dyn Site> {
    SITES.iter().flat_map(|sites| sites.iter().copied())
}

/// Something `render()` can read.
pub trait Site: Sync {
    /// Adds this site's series to the page being rendered.
    fn collect(&'static self, out: &mut Collector);

    /// The function this site belongs to, and what it records.
    fn describe(&'static self) -> (&'static FnMeta, Metric);
}

impl Spec {
    fn metric(&self, kind: MetricKind, buckets: Option<Vec<f64>>) -> Metric {
        Metric {
            kind,
            name: self.name,
            labels: self.labels,
            buckets,
            objective: self.objective,
            status: self.status,
        }
    }
}

/// What is known of an instrumented function at compile time.
pub struct FnMeta {
    module: &'static str,
    file: &'static str,
    line: u32,
    ident: &'static str,
    /// Returns `type_name` of an item nested in the function: its full path, methods included.
    here: fn() -> &'static str,
    names: OnceLock<Names>,
}

struct Names {
    label: String,
    qualified: String,
}

impl FnMeta {
    /// Called by the expansion of the attributes only.
    pub const fn new(
        module: &'static str,
        file: &'static str,
        line: u32,
        ident: &'static str,
        here: fn() -> &'static str,
    ) -> Self {
        FnMeta {
            module,
            file,
            line,
            ident,
            here,
            names: OnceLock::new(),
        }
    }

    fn names(&self) -> &Names {
        self.names.get_or_init(|| {
            let label = function_label((self.here)()).unwrap_or_else(|| self.ident.to_owned());
            let qualified = format!("{}::{label}", self.module);
            Names { label, qualified }
        })
    }

    /// The `function` label: the fn name, `Type::method` for methods.
    pub fn function(&self) -> &str {
        &self.names().label
    }

    /// The fully qualified name, `module::Type::method`: OpenTelemetry's `code.function.name`.
    pub fn qualified(&self) -> &str {
        &self.names().qualified
    }

    /// The `module` label: `module_path!()` where the function is defined.
    pub const fn module(&self) -> &'static str {
        self.module
    }

    /// The source file, as `file!()` gives it.
    pub const fn file(&self) -> &'static str {
        self.file
    }

    /// The line of the function's name.
    pub const fn line(&self) -> u32 {
        self.line
    }
}

/// Turns the `type_name` of an item nested in a function into its `function` label.
///
/// `my_crate::api::Foo<_>::get::__obs_here` gives `Foo::get`;
/// `<my_crate::Foo<u8> as my_crate::Tr>::get::__obs_here` gives `Foo::get`;
/// `my_crate::<impl my_crate::api::Foo<_>>::get::__obs_here` (a type from another module)
/// gives `Foo::get`; `<(u8, my_crate::Id) as my_crate::Tr>::get::__obs_here` gives
/// `(u8, Id)::get`; `my_crate::handle::{{closure}}::__obs_here` gives `handle`; a fn nested
/// in another fn, `my_crate::main::handle::__obs_here`, gives `handle`. Types lose their
/// module paths and generic arguments. In the plain path form, the segment before the fn name
/// is a type when it is written in `UpperCamelCase`, as rustc's `non_camel_case_types` lint
/// asks. `None` if the shape is not recognised (the caller then falls back to the fn name).
fn function_label(type_name: &str) -> Option<String> {
    let path = type_name
        .strip_suffix("::__obs_here")?
        .replace("::{{closure}}", "");
    let (owner, rest) = match path.strip_prefix('<') {
        // `<Type as Trait>::method`.
        Some(inner) => {
            let end = closing_angle(inner)?;
            let qualified = &inner[..end];
            let ty = *split_top_level(qualified, " as ").first()?;
            (Some(short_type(ty)), inner[end + 1..].strip_prefix("::")?)
        }
        None => (None, path.as_str()),
    };
    let segments = split_top_level(rest, "::");
    let (&ident, before) = segments.split_last()?;
    if ident.is_empty() || !ident.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    let owner = match (before.last(), owner) {
        // A method of a trait impl, not a fn nested in one.
        (None, owner) => owner,
        // `<impl Type>`: an inherent impl of a type from another module.
        (Some(prev), _) if prev.starts_with("<impl ") => {
            let ty = prev.strip_prefix("<impl ")?.strip_suffix('>')?;
            let ty = *split_top_level(ty, " for ").last()?;
            Some(short_type(ty))
        }
        (Some(prev), _) if prev.starts_with(|c: char| c.is_ascii_uppercase()) => {
            Some(short_type(prev))
        }
        _ => None,
    };
    Some(match owner {
        Some(owner) => format!("{owner}::{ident}"),
        None => ident.to_owned(),
    })
}

/// The byte index of the `>` that closes a `<` just before `s`, skipping nested pairs and
/// the `>` of `->`.
fn closing_angle(s: &str) -> Option<usize> {
    let mut depth = 1usize;
    let mut prev = ' ';
    for (i, c) in s.char_indices() {
        match c {
            '<' => depth += 1,
            '>' if prev != '-' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        prev = c;
    }
    None
}

/// Splits `s` at each `sep` that is outside every `<…>`, `(…)` and `[…]`.
fn split_top_level<'a>(s: &'a str, sep: &str) -> Vec<&'a str> {
    let mut depth = 0usize;
    let mut prev = ' ';
    let mut cuts = Vec::new();
    let mut skip_until = 0;
    for (i, c) in s.char_indices() {
        if i >= skip_until {
            if depth == 0 && s[i..].starts_with(sep) {
                cuts.push(i);
                skip_until = i + sep.len();
            }
            match c {
                '<' | '(' | '[' => depth += 1,
                '>' if prev == '-' => {}
                '>' | ')' | ']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        prev = c;
    }
    let mut start = 0;
    let mut parts = Vec::with_capacity(cuts.len() + 1);
    for cut in cuts {
        parts.push(&s[start..cut]);
        start = cut + sep.len();
    }
    parts.push(&s[start..]);
    parts
}

/// A type as `type_name` writes it, without module paths or generic arguments:
/// `alloc::vec::Vec<u8>` gives `Vec`, `(u8, app::Id)` gives `(u8, Id)`,
/// `dyn core::fmt::Debug` gives `dyn Debug`, `fn(u8) -> u8` stays.
fn short_type(ty: &str) -> String {
    let mut out = String::with_capacity(ty.len());
    let mut path = String::new();
    let flush = |path: &mut String, out: &mut String| {
        out.push_str(last_segment(path));
        path.clear();
    };
    let mut rest = ty;
    while let Some(c) = rest.chars().next() {
        let after = &rest[c.len_utf8()..];
        if c.is_alphanumeric() || c == '_' {
            path.push(c);
            rest = after;
        } else if let Some(after) = rest.strip_prefix("::") {
            path.push_str("::");
            rest = after;
        } else if c == '<' && !path.is_empty() {
            // The generic arguments of a path: left out.
            rest = closing_angle(after).map_or("", |end| &after[end + 1..]);
        } else {
            flush(&mut path, &mut out);
            out.push(c);
            rest = after;
        }
    }
    flush(&mut path, &mut out);
    out
}

fn last_segment(path: &str) -> &str {
    path.rsplit("::").next().unwrap_or(path)
}

/// How many threads get cells of their own at a site. The others share one more set.
const SHARDS: usize = 8;

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
    let free = FREE_SHARDS.lock().ok().and_then(|mut free| free.pop());
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
    if let Ok(mut free) = FREE_SHARDS.lock() {
        free.push(shard);
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
            give_back(shard);
        }
    }
}

/// Adds `n` to `cell`. A thread's own cells have no other writer, so a plain load and store
/// is enough: no locked instruction, no cache line taken from another core.
#[inline]
fn bump(cell: &AtomicU64, n: u64, own: bool) {
    if own {
        cell.store(cell.load(Relaxed).wrapping_add(n), Relaxed);
    } else {
        cell.fetch_add(n, Relaxed);
    }
}

#[inline]
fn bump_i64(cell: &AtomicI64, n: i64, own: bool) {
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
struct Sharded<C: 'static> {
    first: Padded<C>,
    rest: [OnceLock<Box<Padded<C>>>; SHARDS - 1],
    shared: OnceLock<Box<Padded<C>>>,
}

impl<C: 'static> Sharded<C> {
    const fn new(first: C) -> Self {
        Sharded {
            first: Padded(first),
            rest: [const { OnceLock::new() }; SHARDS - 1],
            shared: OnceLock::new(),
        }
    }

    /// This thread's cells, and whether they are its own; `make` builds them the first time a
    /// thread records into its shard.
    #[inline]
    fn get(&self, make: fn() -> C) -> (&C, bool) {
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
    fn iter(&self) -> impl Iterator<Item = &C> {
        let allocated = self.rest.iter().chain(core::iter::once(&self.shared));
        core::iter::once(&self.first.0).chain(allocated.filter_map(|s| s.get().map(|b| &b.0)))
    }
}

/// Name, help and static labels of one metric of one function, fixed at compile time.
pub struct Spec {
    /// The family name, validated by the macro.
    pub name: &'static str,
    /// `# HELP` text; empty for the default.
    pub help: &'static str,
    /// `labels(key = "value", …)` of the attribute.
    pub labels: &'static [(&'static str, &'static str)],
    /// `objective(..)` of the attribute.
    pub objective: Option<Objective>,
    /// `status(..)` of the attribute: the status label's name and values.
    pub status: StatusLabel,
}

impl Spec {
    /// A spec without objective.
    pub const fn new(
        name: &'static str,
        help: &'static str,
        labels: &'static [(&'static str, &'static str)],
    ) -> Self {
        Spec {
            name,
            help,
            labels,
            objective: None,
            status: StatusLabel::DEFAULT,
        }
    }

    /// Adds the attribute's objective.
    #[must_use]
    pub const fn with_objective(mut self, objective: Objective) -> Self {
        self.objective = Some(objective);
        self
    }

    /// Adds the attribute's `status(..)`: the label's name and the value of each built-in
    /// status, in slot order (`ok`, `error`, `panic`, `cancelled`, `timeout`, `blocked`).
    #[must_use]
    pub const fn with_status(
        mut self,
        label: &'static str,
        values: [&'static str; BUILTIN_COUNT],
    ) -> Self {
        self.status = StatusLabel::new(label, values);
        self
    }

    /// The label pair of a call that ended with built-in status `slot`.
    fn builtin_status(&self, slot: usize) -> (&'static str, &'static str) {
        (self.status.name(), self.status.slot_value(slot))
    }
}

/// A chain of cells for the custom statuses a site has seen, appended once per label.
struct Custom<C: 'static> {
    head: OnceLock<Box<Node<C>>>,
}

struct Node<C: 'static> {
    label: &'static str,
    cells: C,
    next: OnceLock<Box<Node<C>>>,
}

impl<C: 'static> Custom<C> {
    const fn new() -> Self {
        Custom {
            head: OnceLock::new(),
        }
    }

    /// The cells of `label`, allocated on the first use of that label at this site.
    #[cold]
    fn get(&self, label: &'static str, make: fn() -> C) -> &C {
        let mut slot = &self.head;
        loop {
            let node = slot.get_or_init(|| {
                Box::new(Node {
                    label,
                    cells: make(),
                    next: OnceLock::new(),
                })
            });
            if node.label == label {
                return &node.cells;
            }
            slot = &node.next;
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&'static str, &C)> {
        let mut slot = self.head.get();
        core::iter::from_fn(move || {
            let node = slot?;
            slot = node.next.get();
            Some((node.label, &node.cells))
        })
    }
}

type CounterCells = [AtomicU64; BUILTIN_COUNT];

const fn counter_cells() -> CounterCells {
    [const { AtomicU64::new(0) }; BUILTIN_COUNT]
}

/// The storage behind `#[counted]`: one counter per status (per shard).
pub struct CounterSite {
    meta: &'static FnMeta,
    spec: Spec,
    cells: Sharded<CounterCells>,
    custom: Custom<AtomicU64>,
}

impl CounterSite {
    /// Called by the expansion of `#[counted]` only.
    pub const fn new(meta: &'static FnMeta, spec: Spec) -> Self {
        CounterSite {
            meta,
            spec,
            cells: Sharded::new(counter_cells()),
            custom: Custom::new(),
        }
    }

    /// Counts one call that ended with `status`. Measured cost: a thread-local read and one
    /// relaxed `fetch_add`.
    #[inline]
    pub fn add(&'static self, status: Status) {
        match status.slot() {
            Ok(slot) => {
                let (cells, own) = self.cells.get(counter_cells);
                bump(&cells[slot], 1, own);
            }
            Err(label) => {
                self.custom
                    .get(label, || AtomicU64::new(0))
                    .fetch_add(1, Relaxed);
            }
        }
    }

    /// The number of calls so far that ended with `status`.
    pub fn get(&'static self, status: Status) -> u64 {
        match status.slot() {
            Ok(slot) => self.count(slot),
            Err(label) => self.custom.get(label, || AtomicU64::new(0)).load(Relaxed),
        }
    }

    /// The count of a built-in status, over the shards.
    fn count(&self, slot: usize) -> u64 {
        self.cells.iter().fold(0u64, |sum, cells| {
            sum.wrapping_add(cells[slot].load(Relaxed))
        })
    }
}

impl Site for CounterSite {
    fn describe(&'static self) -> (&'static FnMeta, Metric) {
        (self.meta, self.spec.metric(MetricKind::Counter, None))
    }

    fn collect(&'static self, out: &mut Collector) {
        let family = out.family(self.spec.name, Kind::Counter, self.spec.help);
        let builtin =
            (0..BUILTIN_COUNT).map(|slot| (self.spec.builtin_status(slot), self.count(slot)));
        let custom = self
            .custom
            .iter()
            .map(|(s, c)| ((self.spec.status.name(), s), c.load(Relaxed)));
        for (i, (status, value)) in builtin.chain(custom).enumerate() {
            if value == 0 && i >= ALWAYS_RENDERED {
                continue;
            }
            let labels = Labels::new(self.meta, self.spec.labels, Some(status));
            family.counter(&labels, value);
        }
    }
}

/// The cells of one status of one histogram: a count per bucket, and the sum in nanoseconds.
///
/// Counts are kept per bucket (not cumulative), so `_count` is their sum and always equals
/// the `+Inf` bucket of the same scrape.
pub(crate) struct HistCells<const N: usize> {
    buckets: [AtomicU64; N],
    inf: AtomicU64,
    sum_ns: AtomicU64,
}

impl<const N: usize> HistCells<N> {
    const fn new() -> Self {
        HistCells {
            buckets: [const { AtomicU64::new(0) }; N],
            inf: AtomicU64::new(0),
            sum_ns: AtomicU64::new(0),
        }
    }
}

/// Per-bucket counts, `+Inf` count and sum in nanoseconds of one status, over its shards.
fn totals<'a, const N: usize>(
    shards: impl Iterator<Item = &'a HistCells<N>>,
) -> ([u64; N], u64, u64) {
    let (mut counts, mut inf, mut sum_ns) = ([0u64; N], 0u64, 0u64);
    for cells in shards {
        for (count, cell) in counts.iter_mut().zip(&cells.buckets) {
            *count = count.wrapping_add(cell.load(Relaxed));
        }
        inf = inf.wrapping_add(cells.inf.load(Relaxed));
        sum_ns = sum_ns.wrapping_add(cells.sum_ns.load(Relaxed));
    }
    (counts, inf, sum_ns)
}

/// The storage behind `#[timed]`: fixed buckets per status (per shard), chosen per function.
pub struct HistogramSite<const N: usize> {
    meta: &'static FnMeta,
    spec: Spec,
    bounds: [f64; N],
    bounds_ns: [u64; N],
    cells: Sharded<[HistCells<N>; BUILTIN_COUNT]>,
    custom: Custom<HistCells<N>>,
}

impl<const N: usize> HistogramSite<N> {
    /// Called by the expansion of `#[timed]` only; the macro has checked that `bounds` are
    /// finite, positive and strictly increasing.
    pub const fn new(meta: &'static FnMeta, spec: Spec, bounds: [f64; N]) -> Self {
        let mut bounds_ns = [0u64; N];
        let mut i = 0;
        while i < N {
            // Saturating float-to-int cast; bounds are positive.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            {
                // Rounded to the nearest: bounds are positive (`f64::round` is not const
                // before Rust 1.90).
                bounds_ns[i] = (bounds[i] * 1e9 + 0.5) as u64;
            }
            i += 1;
        }
        HistogramSite {
            meta,
            spec,
            bounds,
            bounds_ns,
            cells: Sharded::new(Self::builtin_cells()),
            custom: Custom::new(),
        }
    }

    const fn builtin_cells() -> [HistCells<N>; BUILTIN_COUNT] {
        [const { HistCells::new() }; BUILTIN_COUNT]
    }

    /// Records one call of `nanos` nanoseconds that ended with `status`.
    ///
    /// Cost: a thread-local read, a scan of the bounds (integers) and two relaxed `fetch_add`s.
    #[inline]
    pub fn observe(&'static self, status: Status, nanos: u64) {
        let (cells, own) = match status.slot() {
            Ok(slot) => {
                let (cells, own) = self.cells.get(Self::builtin_cells);
                (&cells[slot], own)
            }
            Err(label) => (self.custom.get(label, HistCells::new), false),
        };
        let bucket = self.bounds_ns.iter().position(|&b| nanos <= b);
        let count = bucket.map_or(&cells.inf, |i| &cells.buckets[i]);
        bump(count, 1, own);
        bump(&cells.sum_ns, nanos, own);
    }
}

impl<const N: usize> Site for HistogramSite<N> {
    fn describe(&'static self) -> (&'static FnMeta, Metric) {
        (
            self.meta,
            self.spec
                .metric(MetricKind::Histogram, Some(self.bounds.to_vec())),
        )
    }

    fn collect(&'static self, out: &mut Collector) {
        let family = out.family(self.spec.name, Kind::Histogram, self.spec.help);
        let builtin = (0..BUILTIN_COUNT).map(|slot| {
            (
                self.spec.builtin_status(slot),
                totals(self.cells.iter().map(|cells| &cells[slot])),
            )
        });
        let custom = self.custom.iter().map(|(status, cells)| {
            (
                (self.spec.status.name(), status),
                totals(core::iter::once(cells)),
            )
        });
        for (i, (status, (counts, inf, sum_ns))) in builtin.chain(custom).enumerate() {
            if i >= ALWAYS_RENDERED && inf == 0 && counts.iter().all(|&c| c == 0) {
                continue;
            }
            #[allow(clippy::cast_precision_loss)] // seconds as f64, as Prometheus stores them
            let sum = sum_ns as f64 / 1e9;
            let labels = Labels::new(self.meta, self.spec.labels, Some(status));
            family.histogram(&labels, &self.bounds, &counts, inf, sum);
        }
    }
}

/// The storage behind `#[in_flight]`: calls currently running.
pub struct GaugeSite {
    meta: &'static FnMeta,
    spec: Spec,
    /// Per shard: calls started minus calls ended there. A call may end on another thread than
    /// it started on (an async fn): only the sum over shards means anything.
    value: Sharded<AtomicI64>,
}

impl GaugeSite {
    /// Called by the expansion of `#[in_flight]` only.
    pub const fn new(meta: &'static FnMeta, spec: Spec) -> Self {
        GaugeSite {
            meta,
            spec,
            value: Sharded::new(AtomicI64::new(0)),
        }
    }

    #[inline]
    pub(crate) fn add(&'static self, delta: i64) {
        let (value, own) = self.value.get(|| AtomicI64::new(0));
        bump_i64(value, delta, own);
    }

    /// The number of calls running now.
    pub fn get(&'static self) -> i64 {
        self.value
            .iter()
            .fold(0i64, |sum, v| sum.wrapping_add(v.load(Relaxed)))
    }
}

impl Site for GaugeSite {
    fn describe(&'static self) -> (&'static FnMeta, Metric) {
        (self.meta, self.spec.metric(MetricKind::Gauge, None))
    }

    fn collect(&'static self, out: &mut Collector) {
        let family = out.family(self.spec.name, Kind::Gauge, self.spec.help);
        let labels = Labels::new(self.meta, self.spec.labels, None);
        #[allow(clippy::cast_precision_loss)]
        family.gauge(&labels, self.get() as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::{CounterSite, FnMeta, GaugeSite, HistogramSite, SHARDS, Spec, function_label};
    use crate::status::Status;

    fn here() -> &'static str {
        "obs_runtime::site::tests::here::__obs_here"
    }

    static META: FnMeta = FnMeta::new("m", "f.rs", 1, "here", here);
    static COUNTER: CounterSite = CounterSite::new(&META, Spec::new("t_total", "", &[]));
    static GAUGE: GaugeSite = GaugeSite::new(&META, Spec::new("t_in_flight", "", &[]));
    static HISTOGRAM: HistogramSite<2> =
        HistogramSite::new(&META, Spec::new("t_seconds", "", &[]), [0.001, 1.0]);

    /// More threads than shards, some at once and some one after another (their shards are
    /// handed on), every call counted exactly once.
    #[test]
    fn every_call_counts_across_threads_and_shards() {
        const CALLS: u64 = 20_000;
        let rounds = 3;
        let threads = SHARDS + 4;
        for _ in 0..rounds {
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(|| {
                        for _ in 0..CALLS {
                            COUNTER.add(Status::OK);
                            GAUGE.add(1);
                            HISTOGRAM.observe(Status::ERROR, 1_000);
                            GAUGE.add(-1);
                        }
                    });
                }
            });
        }
        let total = CALLS * (rounds * threads) as u64;
        assert_eq!(COUNTER.get(Status::OK), total);
        assert_eq!(GAUGE.get(), 0);
        let (counts, inf, sum_ns) = super::totals(HISTOGRAM.cells.iter().map(|cells| &cells[1]));
        assert_eq!(counts, [total, 0]);
        assert_eq!(inf, 0);
        assert_eq!(sum_ns, total * 1_000);
    }

    #[test]
    fn labels_from_type_names() {
        let cases = [
            ("app::handle::__obs_here", "handle"),
            ("app::api::Foo<_>::get::__obs_here", "Foo::get"),
            (
                "app::api::Foo<alloc::vec::Vec<u8>>::get::__obs_here",
                "Foo::get",
            ),
            ("<app::Foo<u8> as app::Tr<u8>>::m::__obs_here", "Foo::m"),
            ("<alloc::vec::Vec<_> as app::Tr>::m::__obs_here", "Vec::m"),
            ("<app::Foo as app::Tr>::m::inner::__obs_here", "inner"),
            ("app::Tr::d::__obs_here", "Tr::d"),
            ("app::af::{{closure}}::__obs_here", "af"),
            ("app::main::inner::__obs_here", "inner"),
            ("app::Foo::method::inner::__obs_here", "inner"),
            (
                "app::<impl app::inner::Deep<_>>::get::__obs_here",
                "Deep::get",
            ),
            (
                "app::<impl app::inner::Deep<fn() -> u8>>::get::__obs_here",
                "Deep::get",
            ),
            (
                "<(u8, app::Account) as app::Tr>::peek::__obs_here",
                "(u8, Account)::peek",
            ),
            (
                "<fn(u8) -> u8 as app::Tr>::peek::__obs_here",
                "fn(u8) -> u8::peek",
            ),
            ("<[_] as app::Tr>::peek::__obs_here", "[_]::peek"),
            ("<[u8; 4] as app::Tr>::peek::__obs_here", "[u8; 4]::peek"),
            (
                "<&app::Account as app::Tr>::peek::__obs_here",
                "&Account::peek",
            ),
            (
                "<dyn core::fmt::Debug as app::Tr>::peek::__obs_here",
                "dyn Debug::peek",
            ),
            ("<() as app::Tr>::peek::__obs_here", "()::peek"),
            ("<app::Foo<fn() -> u8> as app::Tr>::m::__obs_here", "Foo::m"),
            (
                "<app::Foo<alloc::vec::Vec<u8>> as app::Tr<(u8, u16)>>::m::__obs_here",
                "Foo::m",
            ),
        ];
        for (type_name, want) in cases {
            assert_eq!(
                function_label(type_name).as_deref(),
                Some(want),
                "{type_name}"
            );
        }
        assert_eq!(function_label("weird"), None);
    }
}
