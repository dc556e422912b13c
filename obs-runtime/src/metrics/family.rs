//! Families with no function behind them: series told apart only by labels from each call,
//! such as the HTTP layer's `http_server_request_duration_seconds{http_route, …}`.
//!
//! A family is made at run time (when a layer is built), found again by name, and never
//! freed. Each keeps at most [`series_limit`] label-value sets, past which a call lands in one
//! series whose labels all read [`OVERFLOW`], as labelled sites do.
//!
//! Cost per call: the label values joined into a reused thread-local buffer, a lookup in a
//! read-locked hash map ([`SeriesMap`], as labelled sites), then relaxed `fetch_add`s (the cells are not sharded: a request is
//! microseconds, the shared line is not what it waits on).
// Only the `http` feature makes families; without it the page and catalog see none.
#![cfg_attr(not(feature = "http"), allow(dead_code))]

use core::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, RwLock};

use super::catalog::{Metric, Objective};
use super::labelled::{OVERFLOW, series_limit};
use super::native::{DURATION_TOP, NativeSlot, schema_of};
use super::reading::Reading;
use super::series_map::SeriesMap;
use crate::exposition::{Collector, Labels, MetricKind};
use crate::status::StatusLabel;
use crate::sync::{lock, read, write};

/// What a family is, fixed when it is first made.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Def {
    /// The family name.
    pub(crate) name: &'static str,
    /// Its `# HELP`.
    pub(crate) help: &'static str,
    /// Its label names, in the order values are given.
    pub(crate) labels: &'static [&'static str],
    /// The labels the generated rules and panels keep beside `job`.
    pub(crate) by: &'static [&'static str],
    /// The label that says how a call ended, and its value for a success.
    pub(crate) status: StatusLabel,
}

/// A series' cells.
pub(crate) trait SeriesCells: Send + Sync + 'static {
    /// The cells of a new series.
    fn make(bounds: &'static [f64]) -> Self;
}

/// A histogram series in nanoseconds.
pub(crate) struct Hist {
    buckets: Box<[AtomicU64]>,
    inf: AtomicU64,
    sum_ns: AtomicU64,
    /// When the program's native histograms are on.
    native: NativeSlot,
}

impl SeriesCells for Hist {
    fn make(bounds: &'static [f64]) -> Self {
        Hist {
            buckets: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            inf: AtomicU64::new(0),
            sum_ns: AtomicU64::new(0),
            native: NativeSlot::new(),
        }
    }
}

impl SeriesCells for AtomicI64 {
    fn make(_: &'static [f64]) -> Self {
        AtomicI64::new(0)
    }
}

struct Series<C> {
    values: Box<[Box<str>]>,
    cells: C,
}

/// A family of series of cells `C`.
pub(crate) struct LabelFamily<C: SeriesCells> {
    def: Def,
    bounds: &'static [f64],
    bounds_ns: Box<[u64]>,
    series: SeriesMap<Series<C>>,
    /// Objectives declared on the layers that record here, with the values of `status`
    /// besides `ok` that they do not count as failures.
    objectives: Mutex<Vec<Objective>>,
    not_failures: Mutex<Vec<&'static str>>,
}

impl<C: SeriesCells> LabelFamily<C> {
    fn new(def: Def, bounds: &'static [f64]) -> Self {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // positive bounds
        let bounds_ns = bounds.iter().map(|b| (b * 1e9).round() as u64).collect();
        LabelFamily {
            def,
            bounds,
            bounds_ns,
            series: SeriesMap::new(),
            objectives: Mutex::new(Vec::new()),
            not_failures: Mutex::new(Vec::new()),
        }
    }

    /// The series of `values` (one per label name), made on first use.
    fn get(&'static self, values: &[&str]) -> &'static Series<C> {
        self.series.get(
            |key| {
                for (i, value) in values.iter().enumerate() {
                    if i > 0 {
                        key.push('\0');
                    }
                    key.push_str(value);
                }
            },
            |_| Series {
                values: values.iter().map(|v| (*v).into()).collect(),
                cells: C::make(self.bounds),
            },
            || Series {
                values: self.def.labels.iter().map(|_| OVERFLOW.into()).collect(),
                cells: C::make(self.bounds),
            },
            || {
                tracing::warn!(
                    metric = self.def.name,
                    limit = series_limit(),
                    "too many label-value sets: further ones are counted under {OVERFLOW}"
                );
            },
        )
    }

    fn each(&'static self, mut f: impl FnMut(Labels, &C)) {
        for series in self.series.all() {
            let mut labels = Labels::with_capacity(96);
            for (name, value) in self.def.labels.iter().zip(&series.values) {
                labels.push(name, value);
            }
            f(labels, &series.cells);
        }
    }

    /// Adds an objective and the status values it does not count as failures.
    pub(crate) fn declare(&self, objectives: &[Objective], not_failures: &[&'static str]) {
        let mut mine = lock(&self.objectives);
        for o in objectives {
            if !mine.contains(o) {
                mine.push(*o);
            }
        }
        let mut mine = lock(&self.not_failures);
        for v in not_failures {
            if !mine.contains(v) {
                mine.push(v);
            }
        }
    }

    fn describe(&self, kind: MetricKind) -> Vec<Metric> {
        let objectives = lock(&self.objectives).clone();
        let base = Metric {
            kind,
            name: self.def.name,
            labels: &[],
            buckets: (kind == MetricKind::Histogram).then(|| self.bounds.to_vec()),
            objective: None,
            status: self.def.status,
            by: self.def.by.to_vec(),
            not_failures: lock(&self.not_failures).clone(),
        };
        let mut all = vec![base.clone()];
        all.extend(objectives.into_iter().map(|o| Metric {
            objective: Some(o),
            ..base.clone()
        }));
        all
    }
}

impl LabelFamily<Hist> {
    /// Records one call of `nanos` nanoseconds with these label values.
    pub(crate) fn observe(&'static self, values: &[&str], nanos: u64) {
        let cells = &self.get(values).cells;
        let bucket = self.bounds_ns.iter().position(|&b| nanos <= b);
        bucket
            .map_or(&cells.inf, |i| &cells.buckets[i])
            .fetch_add(1, Relaxed);
        cells.sum_ns.fetch_add(nanos, Relaxed);
        if let Some(schema) = schema_of(i8::MIN) {
            #[allow(clippy::cast_precision_loss)] // seconds as f64, as Prometheus stores them
            let seconds = nanos as f64 * 1e-9;
            cells.native.record(schema, DURATION_TOP, seconds, false);
        }
    }

    fn collect(&'static self, out: &mut Collector) {
        let wanted = out.wants_native();
        let family = out.family(self.def.name, MetricKind::Histogram, self.def.help);
        self.each(|labels, cells| {
            let counts: Vec<u64> = cells.buckets.iter().map(|c| c.load(Relaxed)).collect();
            #[allow(clippy::cast_precision_loss)]
            let sum = cells.sum_ns.load(Relaxed) as f64 / 1e9;
            family.histogram(&labels, self.bounds, &counts, cells.inf.load(Relaxed), sum);
            if wanted {
                let native = NativeSlot::read(core::iter::once(&cells.native), schema_of(i8::MIN));
                family.with_native(native);
            }
        });
    }
}

impl LabelFamily<AtomicI64> {
    /// The gauge of these label values: the caller adds and takes back.
    pub(crate) fn cell(&'static self, values: &[&str]) -> &'static AtomicI64 {
        &self.get(values).cells
    }

    fn collect(&'static self, out: &mut Collector) {
        let family = out.family(self.def.name, MetricKind::Gauge, self.def.help);
        self.each(|labels, cell| {
            #[allow(clippy::cast_precision_loss)]
            family.gauge(&labels, cell.load(Relaxed) as f64);
        });
    }
}

static HISTOGRAMS: RwLock<Vec<&'static LabelFamily<Hist>>> = RwLock::new(Vec::new());
static GAUGES: RwLock<Vec<&'static LabelFamily<AtomicI64>>> = RwLock::new(Vec::new());

fn find_or_make<C: SeriesCells>(
    list: &RwLock<Vec<&'static LabelFamily<C>>>,
    def: Def,
    bounds: &'static [f64],
) -> &'static LabelFamily<C> {
    if let Some(f) = read(list).iter().find(|f| f.def.name == def.name) {
        return f;
    }
    let mut all = write(list);
    if let Some(f) = all.iter().find(|f| f.def.name == def.name) {
        return f;
    }
    let family: &'static LabelFamily<C> = Box::leak(Box::new(LabelFamily::new(def, bounds)));
    all.push(family);
    family
}

/// The histogram family `def.name`, made on first use with `bounds` in seconds; later calls
/// with the same name get the same family, whatever they pass.
pub(crate) fn histogram(def: Def, bounds: &'static [f64]) -> &'static LabelFamily<Hist> {
    find_or_make(&HISTOGRAMS, def, bounds)
}

/// The gauge family `def.name`, made on first use.
pub(crate) fn gauge(def: Def) -> &'static LabelFamily<AtomicI64> {
    find_or_make(&GAUGES, def, &[])
}

/// Adds every family's series to the page.
pub(crate) fn collect(out: &mut Collector) {
    let histograms: Vec<_> = read(&HISTOGRAMS).clone();
    for f in histograms {
        f.collect(out);
    }
    let gauges: Vec<_> = read(&GAUGES).clone();
    for f in gauges {
        f.collect(out);
    }
}

/// What the catalog says of every family, with one more entry per objective.
pub(crate) fn describe() -> Vec<Metric> {
    let mut all: Vec<Metric> = Vec::new();
    for f in read(&HISTOGRAMS).iter() {
        all.extend(f.describe(MetricKind::Histogram));
    }
    for f in read(&GAUGES).iter() {
        all.extend(f.describe(MetricKind::Gauge));
    }
    all
}

/// One route of one histogram family of the HTTP layer, for the live page.
#[derive(Clone, Debug)]
pub(crate) struct RouteReading {
    /// The family, e.g. `http_server_request_duration_seconds`.
    pub(crate) family: &'static str,
    /// `http_route` (or `rpc_service/rpc_method`, or `server_address` for a client).
    pub(crate) route: String,
    /// What the catalog says of the family: its status label, objectives, `not_failures`.
    pub(crate) metrics: Vec<Metric>,
    pub(crate) reading: Reading,
}

/// The label values that name a route: `http_route`, else the first of the family's `by`
/// labels that is not the method.
fn route_of(def: &Def, values: &[Box<str>]) -> String {
    let value = |name: &str| {
        def.labels
            .iter()
            .position(|l| *l == name)
            .and_then(|i| values.get(i))
    };
    if let Some(route) = value("http_route") {
        return route.to_string();
    }
    let parts: Vec<&str> = def
        .by
        .iter()
        .filter(|l| **l != "http_request_method")
        .filter_map(|l| value(l).map(|v| &**v))
        .collect();
    parts.join("/")
}

/// Every route of every histogram family, its calls by status and its buckets summed over
/// methods and statuses.
pub(crate) fn read_routes() -> Vec<RouteReading> {
    let mut out: Vec<RouteReading> = Vec::new();
    let families: Vec<_> = read(&HISTOGRAMS).clone();
    for f in families {
        let metrics = f.describe(MetricKind::Histogram);
        let status = f.def.labels.iter().position(|l| *l == f.def.status.name());
        for series in f.series.all() {
            let route = route_of(&f.def, &series.values);
            let found = out
                .iter()
                .position(|r| r.family == f.def.name && r.route == route);
            let at = found.unwrap_or_else(|| {
                out.push(RouteReading {
                    family: f.def.name,
                    route,
                    metrics: metrics.clone(),
                    reading: Reading::default(),
                });
                out.len() - 1
            });
            let cells = &series.cells;
            let counts: Vec<u64> = cells.buckets.iter().map(|c| c.load(Relaxed)).collect();
            let inf = cells.inf.load(Relaxed);
            let n = counts.iter().fold(inf, |sum, n| sum.wrapping_add(*n));
            // A status value outlives the page: leaked once per distinct value, which the
            // series limit bounds.
            let value = status
                .and_then(|i| series.values.get(i))
                .map_or(f.def.status.ok(), |v| intern(v));
            let reading = &mut out[at].reading;
            Reading::add_calls(&mut reading.timed, value, n);
            reading.add_buckets(f.bounds, &counts, inf);
        }
    }
    out
}

/// The one `&'static str` of each status value seen.
fn intern(value: &str) -> &'static str {
    static SEEN: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut seen = lock(&SEEN);
    if let Some(v) = seen.iter().find(|v| **v == value) {
        return v;
    }
    let v: &'static str = Box::leak(value.into());
    seen.push(v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The live page's rows of the HTTP layer: one per route, methods and statuses summed,
    /// failures by the family's status label.
    #[test]
    fn routes_sum_methods_and_statuses() {
        const DEF: Def = Def {
            name: "test_live_route_seconds",
            help: "",
            labels: &["http_request_method", "http_route", "error_type"],
            by: &["http_request_method", "http_route"],
            status: StatusLabel::new("error_type", ["", "_OTHER", "panic", "cancelled", "t", "b"]),
        };
        let family = histogram(DEF, &[0.1, 1.0]);
        family.observe(&["GET", "/orders/{id}", ""], 50_000_000);
        family.observe(&["POST", "/orders/{id}", "500"], 500_000_000);
        family.observe(&["GET", "/<script>", ""], 2_000_000_000);
        let routes: Vec<RouteReading> = read_routes()
            .into_iter()
            .filter(|r| r.family == DEF.name)
            .collect();
        assert_eq!(routes.len(), 2);
        let orders = routes.iter().find(|r| r.route == "/orders/{id}").unwrap();
        let mut calls = orders.reading.timed.clone();
        calls.sort_unstable();
        assert_eq!(calls, vec![("", 1), ("500", 1)]);
        assert_eq!(orders.reading.buckets, vec![1, 1, 0]);
        let other = routes.iter().find(|r| r.route == "/<script>").unwrap();
        assert_eq!(other.reading.buckets, vec![0, 0, 1]);
    }
}
