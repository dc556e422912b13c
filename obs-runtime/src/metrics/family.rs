//! Families with no function behind them: series told apart only by labels from each call,
//! such as the HTTP layer's `http_server_request_duration_seconds{http_route, …}`.
//!
//! A family is made at run time (when a layer is built), found again by name, and never
//! freed. Each keeps at most [`series_limit`] label-value sets, past which a call lands in one
//! series whose labels all read [`OVERFLOW`], as labelled sites do.
//!
//! Cost per call: the label values joined into a reused thread-local buffer, a lookup in a
//! read-locked hash map, then relaxed `fetch_add`s (the cells are not sharded: a request is
//! microseconds, the shared line is not what it waits on).
// Only the `http` feature makes families; without it the page and catalog see none.
#![cfg_attr(not(feature = "http"), allow(dead_code))]

use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

use super::catalog::{Metric, Objective};
use super::labelled::{OVERFLOW, series_limit};
use super::native::{DURATION_TOP, NativeSlot, schema_of};
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
pub(crate) trait Cells: Send + Sync + 'static {
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

impl Cells for Hist {
    fn make(bounds: &'static [f64]) -> Self {
        Hist {
            buckets: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            inf: AtomicU64::new(0),
            sum_ns: AtomicU64::new(0),
            native: NativeSlot::new(),
        }
    }
}

impl Cells for AtomicI64 {
    fn make(_: &'static [f64]) -> Self {
        AtomicI64::new(0)
    }
}

struct Series<C> {
    values: Box<[Box<str>]>,
    cells: C,
}

/// A family of series of cells `C`.
pub(crate) struct Family<C: Cells> {
    def: Def,
    bounds: &'static [f64],
    bounds_ns: Box<[u64]>,
    series: RwLock<HashMap<Box<str>, &'static Series<C>, rapidhash::fast::RandomState>>,
    overflow: std::sync::OnceLock<&'static Series<C>>,
    warned: AtomicBool,
    /// Objectives declared on the layers that record here, with the values of `status`
    /// besides `ok` that they do not count as failures.
    objectives: Mutex<Vec<Objective>>,
    not_failures: Mutex<Vec<&'static str>>,
}

thread_local! {
    static KEY: RefCell<String> = const { RefCell::new(String::new()) };
}

impl<C: Cells> Family<C> {
    fn new(def: Def, bounds: &'static [f64]) -> Self {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // positive bounds
        let bounds_ns = bounds.iter().map(|b| (b * 1e9).round() as u64).collect();
        Family {
            def,
            bounds,
            bounds_ns,
            series: RwLock::new(HashMap::default()),
            overflow: std::sync::OnceLock::new(),
            warned: AtomicBool::new(false),
            objectives: Mutex::new(Vec::new()),
            not_failures: Mutex::new(Vec::new()),
        }
    }

    /// The series of `values` (one per label name), made on first use.
    fn get(&'static self, values: &[&str]) -> &'static Series<C> {
        KEY.with(|key| {
            let mut key = key.borrow_mut();
            key.clear();
            for (i, value) in values.iter().enumerate() {
                if i > 0 {
                    key.push('\0');
                }
                key.push_str(value);
            }
            if let Some(series) = read(&self.series).get(key.as_str()) {
                return *series;
            }
            self.insert(&key, values)
        })
    }

    #[cold]
    fn insert(&'static self, key: &str, values: &[&str]) -> &'static Series<C> {
        let mut map = write(&self.series);
        if let Some(series) = map.get(key) {
            return series;
        }
        if map.len() >= series_limit() {
            drop(map);
            if !self.warned.swap(true, Relaxed) {
                tracing::warn!(
                    metric = self.def.name,
                    limit = series_limit(),
                    "too many label-value sets: further ones are counted under {OVERFLOW}"
                );
            }
            return self.overflow.get_or_init(|| {
                let values = self.def.labels.iter().map(|_| OVERFLOW.into()).collect();
                Box::leak(Box::new(Series {
                    values,
                    cells: C::make(self.bounds),
                }))
            });
        }
        let series: &'static Series<C> = Box::leak(Box::new(Series {
            values: values.iter().map(|v| (*v).into()).collect(),
            cells: C::make(self.bounds),
        }));
        map.insert(key.into(), series);
        series
    }

    fn each(&'static self, mut f: impl FnMut(Labels, &C)) {
        let all: Vec<&'static Series<C>> = read(&self.series).values().copied().collect();
        for series in all.into_iter().chain(self.overflow.get().copied()) {
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

impl Family<Hist> {
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

impl Family<AtomicI64> {
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

static HISTOGRAMS: RwLock<Vec<&'static Family<Hist>>> = RwLock::new(Vec::new());
static GAUGES: RwLock<Vec<&'static Family<AtomicI64>>> = RwLock::new(Vec::new());

fn find_or_make<C: Cells>(
    list: &RwLock<Vec<&'static Family<C>>>,
    def: Def,
    bounds: &'static [f64],
) -> &'static Family<C> {
    if let Some(f) = read(list).iter().find(|f| f.def.name == def.name) {
        return f;
    }
    let mut all = write(list);
    if let Some(f) = all.iter().find(|f| f.def.name == def.name) {
        return f;
    }
    let family: &'static Family<C> = Box::leak(Box::new(Family::new(def, bounds)));
    all.push(family);
    family
}

/// The histogram family `def.name`, made on first use with `bounds` in seconds; later calls
/// with the same name get the same family, whatever they pass.
pub(crate) fn histogram(def: Def, bounds: &'static [f64]) -> &'static Family<Hist> {
    find_or_make(&HISTOGRAMS, def, bounds)
}

/// The gauge family `def.name`, made on first use.
pub(crate) fn gauge(def: Def) -> &'static Family<AtomicI64> {
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
