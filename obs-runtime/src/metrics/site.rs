//! Per-call-site storage: one `static` per instrumented function and metric.
//!
//! The macros expand every instrumented function into statics of the types below. A site is a
//! fixed block of atomics, registered at link time in [`SITES`], so the hot path is a
//! thread-local read, an index and a relaxed load and store into the thread's own cells: no
//! hashing, no registry lookup, no lock, no allocation. Memory per site is fixed at compile
//! time and does not grow with the number of calls.
//!
//! The atomics are sharded by thread ([`Sharded`], the protocol in [`shard`](super::shard)):
//! threads calling one function at once do not bounce one cache line between their cores. The
//! first thread records into cells inline in the static; each other shard is allocated once,
//! by the first thread that records into it.

use core::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use super::catalog::{Metric, Objective};
use super::custom::Custom;
use super::exemplar::{BucketCells, ExemplarCell, Exemplars, Recorded};
use super::meta::FnMeta;
use super::native::{self, NativeSlot};
use super::reading::Reading;
use super::shard::{Sharded, bump, bump_i64};
use crate::exposition::{Collector, Exemplar, Labels, MetricKind};
use crate::status::{ALWAYS_RENDERED, BUILTIN_COUNT, ERROR_SLOT, Status, StatusLabel};

/// The default buckets of `#[timed]` and of facade histograms, in seconds: 10 µs to 10 s.
///
/// OTel's advised duration buckets (5 ms to 10 s, the last 14 here) with eight bounds below
/// them on a 1-2.5-5 scale, so that a function taking microseconds is resolved as well as one
/// taking seconds: with OTel's alone, a helper of 18 µs put every call into `le="0.005"` and
/// read 5 ms at p50, p95 and p99. What the eight more cost (a call, a page) is in
/// `docs/design.md` ("Default buckets"). obs-macros keeps a copy (it checks
/// `objective(latency = ..)` against the bounds at compile time); its tests compare the two.
pub const DEFAULT_BUCKETS: [f64; 22] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The family of `#[counted]` unless `name = "…"` says otherwise.
pub const CALLS_FAMILY: &str = "function_calls_total";
/// The family of `#[timed]` unless `name = "…"` says otherwise.
pub const DURATION_FAMILY: &str = "function_duration_seconds";
/// The family of `#[in_flight]` unless `name = "…"` says otherwise.
pub const IN_FLIGHT_FAMILY: &str = "function_calls_in_flight";

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

    /// Adds this site's totals to `out`, for the live page (`/obs/`): read by obs's threads,
    /// never by a call.
    fn read(&'static self, out: &mut Reading) {
        let _ = out;
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
    /// `native(schema = N)` of `#[timed]`, or none (`i8::MIN`): the program's switch decides.
    pub native: i8,
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
            native: i8::MIN,
        }
    }

    /// Adds `#[timed(native(schema = N))]`: native buckets of `schema` (-4 to 8, which the
    /// macro checks), whatever the program's switch says.
    #[must_use]
    pub const fn with_native(mut self, schema: i8) -> Self {
        self.native = native::own_schema(Some(schema));
        self
    }

    /// The schema of this metric's native buckets, if it keeps them.
    #[inline]
    pub(crate) fn native_schema(&self) -> Option<i8> {
        native::schema_of(self.native)
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

    /// The `# HELP` text: the attribute's, or the default of the family.
    fn help(&self) -> &'static str {
        if self.help.is_empty() {
            default_help(self.name)
        } else {
            self.help
        }
    }

    /// What the catalog says of this metric; `not_failures` are the custom labels seen so far
    /// that are not failures ([`Status::custom_ok`]).
    pub(crate) fn metric(
        &self,
        kind: MetricKind,
        buckets: Option<Vec<f64>>,
        not_failures: Vec<&'static str>,
    ) -> Metric {
        let mut by = vec!["function", "module"];
        by.extend(self.labels.iter().map(|(k, _)| *k));
        Metric {
            kind,
            name: self.name,
            labels: self.labels,
            buckets,
            objective: self.objective,
            status: self.status,
            by,
            not_failures,
        }
    }
}

/// Whether the series of built-in status `slot` is on the page before any call ended with it:
/// `ok` always, `error` when the function's return type can give it, so that `rate()` and the
/// error ratio start from 0; the other statuses only once they happen.
fn shown_at_zero(meta: &FnMeta, slot: usize) -> bool {
    slot < ALWAYS_RENDERED && (slot != ERROR_SLOT || meta.can_return_error())
}

/// The cells of one shard of a counter: a count per built-in status, and its exemplar.
struct CounterCells {
    counts: [AtomicU64; BUILTIN_COUNT],
    exemplars: Exemplars<[ExemplarCell; BUILTIN_COUNT]>,
}

const fn counter_cells() -> CounterCells {
    CounterCells {
        counts: [const { AtomicU64::new(0) }; BUILTIN_COUNT],
        exemplars: Exemplars::new(),
    }
}

/// The count of a custom status and its exemplar: any thread counts here, so both are written
/// as shared cells.
struct CustomCount {
    count: AtomicU64,
    exemplar: Exemplars<[ExemplarCell; 1]>,
}

fn custom_count() -> CustomCount {
    CustomCount {
        count: AtomicU64::new(0),
        exemplar: Exemplars::new(),
    }
}

/// The storage behind `#[counted]`: one counter per status (per shard).
pub struct CounterSite {
    meta: &'static FnMeta,
    spec: Spec,
    cells: Sharded<CounterCells>,
    custom: Custom<CustomCount>,
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

    /// Counts one call that ended with `status`: a thread-local read, then a relaxed load and
    /// store into this thread's own cells (`fetch_add` on the shared shard), and the read of
    /// the current sampled span for the exemplar.
    #[inline]
    pub fn add(&'static self, status: Status) {
        match status.slot() {
            Ok(slot) => {
                let (cells, own) = self.cells.get(counter_cells);
                bump(&cells.counts[slot], 1, own);
                cells.exemplars.record(slot, 1, own);
            }
            Err(label) => {
                let custom = self.custom.get(status, label, custom_count);
                custom.count.fetch_add(1, Relaxed);
                custom.exemplar.record(0, 1, false);
            }
        }
    }

    /// The number of calls so far that ended with `status`.
    #[cfg(test)]
    fn get(&'static self, status: Status) -> u64 {
        match status.slot() {
            Ok(slot) => self.count(slot),
            Err(label) => self
                .custom
                .get(status, label, custom_count)
                .count
                .load(Relaxed),
        }
    }

    /// The count of a built-in status, over the shards.
    fn count(&self, slot: usize) -> u64 {
        self.cells.iter().fold(0u64, |sum, cells| {
            sum.wrapping_add(cells.counts[slot].load(Relaxed))
        })
    }

    /// The latest exemplar of a built-in status, over the shards.
    fn exemplar(&self, slot: usize) -> Option<Exemplar> {
        let latest = self.cells.iter().fold(None, |latest, cells| {
            Recorded::latest(latest, cells.exemplars.read(slot))
        });
        latest.map(|r| r.exemplar(1.0))
    }
}

impl Site for CounterSite {
    fn describe(&'static self) -> (&'static FnMeta, Metric) {
        let metric = self
            .spec
            .metric(MetricKind::Counter, None, self.custom.not_failures());
        (self.meta, metric)
    }

    fn read(&'static self, out: &mut Reading) {
        for slot in 0..BUILTIN_COUNT {
            let value = self.spec.status.slot_value(slot);
            Reading::add_calls(&mut out.counted, value, self.count(slot));
        }
        for (label, cells) in self.custom.iter() {
            Reading::add_calls(&mut out.counted, label, cells.count.load(Relaxed));
        }
    }

    fn collect(&'static self, out: &mut Collector) {
        let family = out.family(self.spec.name, MetricKind::Counter, self.spec.help());
        let builtin = (0..BUILTIN_COUNT).map(|slot| {
            let exemplar = self.exemplar(slot);
            (self.spec.builtin_status(slot), self.count(slot), exemplar)
        });
        let custom = self.custom.iter().map(|(s, c)| {
            let exemplar = c.exemplar.read(0).map(|r| r.exemplar(1.0));
            (
                (self.spec.status.name(), s),
                c.count.load(Relaxed),
                exemplar,
            )
        });
        for (i, (status, value, exemplar)) in builtin.chain(custom).enumerate() {
            if value == 0 && !shown_at_zero(self.meta, i) {
                continue;
            }
            let labels = series_labels(self.meta, self.spec.labels, Some(status));
            family.counter_with(&labels, value, exemplar);
        }
    }
}

/// The cells of one status of one histogram: a count per bucket, the sum in nanoseconds, and
/// an exemplar per bucket.
///
/// Counts are kept per bucket (not cumulative), so `_count` is their sum and always equals
/// the `+Inf` bucket of the same scrape.
pub(crate) struct HistCells<const N: usize> {
    buckets: [AtomicU64; N],
    inf: AtomicU64,
    sum_ns: AtomicU64,
    exemplars: Exemplars<BucketCells<N>>,
    /// Allocated by the first call when native histograms are on: 16 bytes until then.
    native: NativeSlot,
}

impl<const N: usize> HistCells<N> {
    const fn new() -> Self {
        HistCells {
            buckets: [const { AtomicU64::new(0) }; N],
            inf: AtomicU64::new(0),
            sum_ns: AtomicU64::new(0),
            exemplars: Exemplars::new(),
            native: NativeSlot::new(),
        }
    }
}

/// The latest exemplar of each bucket, then of `+Inf`, over the shards of one status.
fn bucket_exemplars<'a, const N: usize>(
    shards: impl Iterator<Item = &'a HistCells<N>>,
) -> Vec<Option<Exemplar>> {
    let mut latest = [None; N].to_vec();
    latest.push(None);
    for cells in shards {
        for (i, l) in latest.iter_mut().enumerate() {
            *l = Recorded::latest(*l, cells.exemplars.read(i));
        }
    }
    #[allow(clippy::cast_precision_loss)] // seconds as f64, as Prometheus stores them
    let exemplars = latest
        .into_iter()
        .map(|r| r.map(|r| r.exemplar(r.value as f64 / 1e9)))
        .collect();
    exemplars
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
    /// Cost: a thread-local read, a scan of the bounds (integers) and two relaxed load-and-store
    /// adds into this thread's own cells (`fetch_add` on the shared shard), and the read of the
    /// current sampled span for the bucket's exemplar.
    #[inline]
    pub fn observe(&'static self, status: Status, nanos: u64) {
        let (cells, own) = self.cells_of(status);
        if let Some(schema) = self.spec.native_schema() {
            cells.native.record_nanos(schema, nanos, own, false);
        }
        self.classic(cells, own, nanos);
    }

    /// [`observe`](Self::observe) with the site's own schema a constant (`Timed` passes its
    /// own), so each guard compiles only what its site can do: for `#[timed]` without
    /// `native`, what is left of native histograms is one load of the program's switch and
    /// one branch; for `#[timed(native)]`, the switch is not read and the window's first
    /// bucket and length are constants. A const parameter, not an argument: the function is
    /// too large for the compiler to inline, and an argument was not folded (measured, see
    /// docs/design.md, "Native histograms"). The native bucket is counted before the classic
    /// scan, so the chain from the duration to its counter (leading zeros, the table's entry,
    /// the counter) runs beside the scan instead of after it.
    #[inline(never)]
    pub(crate) fn record<const NATIVE: i8>(&'static self, status: Status, nanos: u64) {
        let (cells, own) = self.cells_of(status);
        if let Some(schema) = native::schema_of(NATIVE) {
            // A site's own schema: its cells were made at it.
            cells
                .native
                .record_nanos(schema, nanos, own, NATIVE != i8::MIN);
        }
        self.classic(cells, own, nanos);
    }

    /// The cells of `status` for this thread, and whether it owns them.
    #[inline(always)]
    #[allow(clippy::inline_always)] // one call out of line per record, not three
    fn cells_of(&'static self, status: Status) -> (&'static HistCells<N>, bool) {
        match status.slot() {
            Ok(slot) => {
                let (cells, own) = self.cells.get(Self::builtin_cells);
                (&cells[slot], own)
            }
            Err(label) => (self.custom.get(status, label, HistCells::new), false),
        }
    }

    /// Records the call in the classic buckets of `cells` (`own`: this thread owns them).
    #[inline(always)]
    #[allow(clippy::inline_always)] // one call out of line per record, not three
    fn classic(&self, cells: &HistCells<N>, own: bool, nanos: u64) {
        let bucket = self.bounds_ns.iter().position(|&b| nanos <= b);
        let count = bucket.map_or(&cells.inf, |i| &cells.buckets[i]);
        bump(count, 1, own);
        bump(&cells.sum_ns, nanos, own);
        cells.exemplars.record(bucket.unwrap_or(N), nanos, own);
    }
}

impl<const N: usize> Site for HistogramSite<N> {
    fn describe(&'static self) -> (&'static FnMeta, Metric) {
        (
            self.meta,
            self.spec.metric(
                MetricKind::Histogram,
                Some(self.bounds.to_vec()),
                self.custom.not_failures(),
            ),
        )
    }

    fn read(&'static self, out: &mut Reading) {
        let builtin = (0..BUILTIN_COUNT).map(|slot| {
            let shards = self.cells.iter().map(move |cells| &cells[slot]);
            (self.spec.status.slot_value(slot), totals(shards))
        });
        let custom = self
            .custom
            .iter()
            .map(|(label, cells)| (label, totals(core::iter::once(cells))));
        for (value, (counts, inf, _)) in builtin.chain(custom) {
            let calls = counts.iter().fold(inf, |sum, n| sum.wrapping_add(*n));
            Reading::add_calls(&mut out.timed, value, calls);
            out.add_buckets(&self.bounds, &counts, inf);
        }
    }

    fn collect(&'static self, out: &mut Collector) {
        // Read only for the protobuf page: the text pages do not show them.
        let wanted = out.wants_native();
        let native = self.spec.native_schema();
        let read = |slots: &mut dyn Iterator<Item = &NativeSlot>| {
            wanted.then(|| NativeSlot::read(slots, native)).flatten()
        };
        let family = out.family(self.spec.name, MetricKind::Histogram, self.spec.help());
        let builtin = (0..BUILTIN_COUNT).map(|slot| {
            let shards = || self.cells.iter().map(move |cells| &cells[slot]);
            (
                self.spec.builtin_status(slot),
                totals(shards()),
                bucket_exemplars(shards()),
                read(&mut shards().map(|cells| &cells.native)),
            )
        });
        let custom = self.custom.iter().map(|(status, cells)| {
            (
                (self.spec.status.name(), status),
                totals(core::iter::once(cells)),
                bucket_exemplars(core::iter::once(cells)),
                read(&mut core::iter::once(&cells.native)),
            )
        });
        for (i, (status, (counts, inf, sum_ns), exemplars, native)) in
            builtin.chain(custom).enumerate()
        {
            if !shown_at_zero(self.meta, i) && inf == 0 && counts.iter().all(|&c| c == 0) {
                continue;
            }
            #[allow(clippy::cast_precision_loss)] // seconds as f64, as Prometheus stores them
            let sum = sum_ns as f64 / 1e9;
            let labels = series_labels(self.meta, self.spec.labels, Some(status));
            family.histogram_with(&labels, &self.bounds, &counts, inf, sum, exemplars);
            family.with_native(native);
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
        (
            self.meta,
            self.spec.metric(MetricKind::Gauge, None, Vec::new()),
        )
    }

    fn read(&'static self, out: &mut Reading) {
        out.add_in_flight(self.get());
    }

    fn collect(&'static self, out: &mut Collector) {
        let family = out.family(self.spec.name, MetricKind::Gauge, self.spec.help());
        let labels = series_labels(self.meta, self.spec.labels, None);
        #[allow(clippy::cast_precision_loss)]
        family.gauge(&labels, self.get() as f64);
    }
}

/// The labels of one series of a site: `function`, `module`, the static labels, then the
/// status label (`status`, unless the metric renames it) when given, as `(name, value)`.
pub(crate) fn series_labels(
    meta: &FnMeta,
    extra: &[(&'static str, &'static str)],
    status: Option<(&str, &str)>,
) -> Labels {
    let mut labels = Labels::with_capacity(64);
    labels.push("function", meta.function());
    labels.push("module", meta.module());
    for (key, value) in extra {
        labels.push(key, value);
    }
    if let Some((name, value)) = status {
        labels.push(name, value);
    }
    labels
}

/// The `# HELP` of the default families.
fn default_help(name: &str) -> &'static str {
    match name {
        CALLS_FAMILY => "Calls of instrumented functions, by how they ended.",
        DURATION_FAMILY => "Duration of calls of instrumented functions, in seconds.",
        IN_FLIGHT_FAMILY => "Calls of instrumented functions running now.",
        _ => "Recorded by obs.",
    }
}

#[cfg(test)]
mod tests {
    use super::{CounterSite, FnMeta, GaugeSite, HistogramSite, Spec};
    use crate::metrics::shard::SHARDS;
    use crate::status::Status;

    fn here() -> &'static str {
        "obs_runtime::site::tests::here::__obs_here"
    }

    static META: FnMeta = FnMeta::new("m", "f.rs", 1, "here", here);
    static COUNTER: CounterSite = CounterSite::new(&META, Spec::new("t_total", "", &[]));
    static GAUGE: GaugeSite = GaugeSite::new(&META, Spec::new("t_in_flight", "", &[]));
    static HISTOGRAM: HistogramSite<2> =
        HistogramSite::new(&META, Spec::new("t_seconds", "", &[]), [0.001, 1.0]);

    /// An exemplar is recorded only with a sampled span current, on the bucket the call fell
    /// in and on the counted status, and shows the latest such call.
    #[test]
    fn exemplars_follow_the_current_sampled_span() {
        static COUNTED: CounterSite = CounterSite::new(&META, Spec::new("e_total", "", &[]));
        static TIMED: HistogramSite<2> =
            HistogramSite::new(&META, Spec::new("e_seconds", "", &[]), [0.001, 1.0]);
        COUNTED.add(Status::OK);
        TIMED.observe(Status::OK, 5_000_000);
        assert_eq!(COUNTED.exemplar(0), None, "no span, no exemplar");
        let span = |n| crate::current::SpanRef {
            trace_id: [n; 16],
            span_id: [n; 8],
        };
        crate::current::enter(span(1));
        TIMED.observe(Status::OK, 5_000_000);
        crate::current::enter(span(2));
        COUNTED.add(Status::OK);
        COUNTED.add(Status::custom("throttled"));
        TIMED.observe(Status::OK, 6_000_000);
        crate::current::exit([2; 8]);
        crate::current::exit([1; 8]);
        TIMED.observe(Status::OK, 7_000_000); // no span again: the exemplar stays
        let counted = COUNTED.exemplar(0).unwrap();
        assert_eq!((counted.trace_id, counted.value), ([2; 16], 1.0));
        // A custom status has its own, shared, exemplar cell.
        let (label, custom) = COUNTED.custom.iter().next().unwrap();
        assert_eq!(label, "throttled");
        let throttled = custom.exemplar.read(0).unwrap().exemplar(1.0);
        assert_eq!(throttled.span_id, [2; 8]);
        let shards = || TIMED.cells.iter().map(|cells| &cells[0]);
        let exemplars = super::bucket_exemplars(shards());
        assert_eq!(exemplars.len(), 3);
        assert_eq!((exemplars[0], exemplars[2]), (None, None));
        let second = exemplars[1].unwrap();
        assert_eq!((second.span_id, second.value), ([2; 8], 0.006));
    }

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
}
