//! A `metrics` facade recorder that renders on the same page as the attributes.
//!
//! `metrics::counter!`, `gauge!` and `histogram!` calls in the application (and its libraries)
//! land here once [`init`](crate::init) has installed the recorder. Histograms are fixed buckets
//! (OTel's duration buckets unless [`Builder::histogram_buckets`](crate::Builder::histogram_buckets)
//! says otherwise for a name), never summaries, and never buffer raw samples: memory per series
//! is fixed. Handles are looked up once per `register_*`; a cached handle is one atomic operation.

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, OnceLock, RwLock};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};

use super::exemplar::{DynExemplars, ExemplarCell, Exemplars};
use super::native::{NativeSlot, WIDE_TOP, schema_of};
use super::site::DEFAULT_BUCKETS;
use crate::exposition::{Collector, Labels, MetricKind};
use crate::sync::{read, write};

#[derive(Default)]
struct Registry {
    counters: RwLock<HashMap<Key, Arc<FacadeCounter>>>,
    gauges: RwLock<HashMap<Key, Arc<FacadeGauge>>>,
    histograms: RwLock<HashMap<Key, Arc<FacadeHistogram>>>,
    help: RwLock<HashMap<String, String>>,
    /// `(name or prefix, bounds)`, most specific first.
    buckets: RwLock<Vec<(BucketMatch, Arc<[f64]>)>>,
}

/// How a bucket rule picks histograms by name.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum BucketMatch {
    Exact(String),
    Prefix(String),
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::default);
/// Whether our recorder is the global one, decided by the first install.
static INSTALLED: OnceLock<bool> = OnceLock::new();

/// Installs the recorder as the `metrics` global recorder. `Ok` if it already is.
pub(crate) fn install(rules: Vec<(BucketMatch, Vec<f64>)>) -> Result<(), crate::error::Error> {
    {
        let mut buckets = write(&REGISTRY.buckets);
        for (matcher, bounds) in rules {
            buckets.retain(|(m, _)| *m != matcher);
            buckets.push((matcher, bounds.into()));
        }
        // Exact names before prefixes, longer prefixes before shorter ones.
        buckets.sort_by_key(|(m, _)| match m {
            BucketMatch::Exact(_) => (0, 0),
            BucketMatch::Prefix(p) => (1, usize::MAX - p.len()),
        });
    }
    // Once per process, race-free: concurrent first installs must not see each other's
    // recorder as "another one".
    if *INSTALLED.get_or_init(|| metrics::set_global_recorder(ObsRecorder).is_ok()) {
        Ok(())
    } else {
        Err(crate::error::Error::RecorderTaken)
    }
}

fn bounds_for(name: &str) -> Arc<[f64]> {
    let rules = read(&REGISTRY.buckets);
    for (matcher, bounds) in rules.iter() {
        let hit = match matcher {
            BucketMatch::Exact(n) => n == name,
            BucketMatch::Prefix(p) => name.starts_with(p.as_str()),
        };
        if hit {
            return Arc::clone(bounds);
        }
    }
    Arc::from(DEFAULT_BUCKETS.as_slice())
}

/// The recorder [`init`](crate::init) installs; public so an application that composes
/// recorders itself (with `metrics-util`'s layers, say) can install it by hand.
///
/// ```
/// metrics::with_local_recorder(&obs_runtime::ObsRecorder, || {
///     metrics::counter!("jobs_done_total", "queue" => "mail").increment(2);
/// });
/// assert!(obs_runtime::render().contains(r#"jobs_done_total{queue="mail"} 2"#));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct ObsRecorder;

fn get_or_insert<V>(
    map: &RwLock<HashMap<Key, Arc<V>>>,
    key: &Key,
    make: impl FnOnce() -> V,
) -> Arc<V> {
    if let Some(v) = read(map).get(key) {
        return Arc::clone(v);
    }
    Arc::clone(
        write(map)
            .entry(key.clone())
            .or_insert_with(|| Arc::new(make())),
    )
}

impl Recorder for ObsRecorder {
    fn describe_counter(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        describe(counter_name(key.as_str()), &description);
    }

    fn describe_gauge(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        describe(sanitize_name(key.as_str()), &description);
    }

    fn describe_histogram(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        describe(sanitize_name(key.as_str()), &description);
    }

    fn register_counter(&self, key: &Key, _metadata: &Metadata<'_>) -> Counter {
        Counter::from_arc(get_or_insert(
            &REGISTRY.counters,
            key,
            FacadeCounter::default,
        ))
    }

    fn register_gauge(&self, key: &Key, _metadata: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(get_or_insert(&REGISTRY.gauges, key, FacadeGauge::default))
    }

    fn register_histogram(&self, key: &Key, _metadata: &Metadata<'_>) -> Histogram {
        let make = || FacadeHistogram::new(bounds_for(&sanitize_name(key.name())));
        Histogram::from_arc(get_or_insert(&REGISTRY.histograms, key, make))
    }
}

fn describe(name: String, description: &str) {
    write(&REGISTRY.help).insert(name, description.to_owned());
}

/// A counter, and the exemplar of its latest increment in a sampled span.
struct FacadeCounter(AtomicU64, Exemplars<[ExemplarCell; 1]>);

impl Default for FacadeCounter {
    fn default() -> Self {
        FacadeCounter(AtomicU64::new(0), Exemplars::new())
    }
}

impl CounterFn for FacadeCounter {
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Relaxed);
        self.1.record(0, value, false);
    }

    fn absolute(&self, value: u64) {
        self.0.fetch_max(value, Relaxed);
    }
}

/// An `f64` in an `AtomicU64`.
#[derive(Default)]
struct AtomicF64(AtomicU64);

impl AtomicF64 {
    fn update(&self, f: impl Fn(f64) -> f64) {
        let _ = self.0.fetch_update(Relaxed, Relaxed, |bits| {
            Some(f(f64::from_bits(bits)).to_bits())
        });
    }

    fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Relaxed))
    }
}

#[derive(Default)]
struct FacadeGauge(AtomicF64);

impl GaugeFn for FacadeGauge {
    fn increment(&self, value: f64) {
        self.0.update(|v| v + value);
    }

    fn decrement(&self, value: f64) {
        self.0.update(|v| v - value);
    }

    fn set(&self, value: f64) {
        self.0.0.store(value.to_bits(), Relaxed);
    }
}

struct FacadeHistogram {
    bounds: Arc<[f64]>,
    /// One per bound, then `+Inf`; not cumulative.
    counts: Box<[AtomicU64]>,
    sum: AtomicF64,
    /// One per bound, then `+Inf`: the value's `f64` bits.
    exemplars: DynExemplars,
    /// When the program's native histograms are on.
    native: NativeSlot,
}

impl FacadeHistogram {
    fn new(bounds: Arc<[f64]>) -> Self {
        let counts = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        let exemplars = DynExemplars::new(bounds.len() + 1);
        FacadeHistogram {
            bounds,
            counts,
            sum: AtomicF64::default(),
            exemplars,
            native: NativeSlot::new(),
        }
    }
}

impl HistogramFn for FacadeHistogram {
    fn record(&self, value: f64) {
        let i = self
            .bounds
            .iter()
            .position(|&b| value <= b)
            .unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Relaxed);
        self.sum.update(|s| s + value);
        self.exemplars.record(i, value.to_bits());
        if let Some(schema) = schema_of(i8::MIN) {
            self.native.record(schema, WIDE_TOP, value, false);
        }
    }
}

/// A Prometheus metric name for any string: invalid characters become `_`.
pub(crate) fn sanitize_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Counters get the `_total` suffix Prometheus expects, as OTel's Prometheus exporter does.
fn counter_name(name: &str) -> String {
    let name = sanitize_name(name);
    if name.ends_with("_total") {
        name
    } else {
        format!("{name}_total")
    }
}

fn label_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) || out.starts_with("__") {
        out.insert(0, 'x');
    }
    out
}

fn labels_of(key: &Key, histogram: bool) -> Labels {
    let mut labels = Labels::empty();
    let mut pairs: Vec<(String, &str)> = key
        .labels()
        .map(|l| (label_name(l.key()), l.value()))
        .collect();
    pairs.sort();
    pairs.dedup_by(|a, b| a.0 == b.0);
    for (name, value) in pairs {
        let name = if histogram && name == "le" {
            "le_".to_owned()
        } else {
            name
        };
        labels.push(&name, value);
    }
    labels
}

/// Adds every facade series to the page.
pub(crate) fn collect(out: &mut Collector) {
    let help = read(&REGISTRY.help);
    let help_of = |name: &str| {
        help.get(name).map_or(
            "Recorded with the metrics facade; metrics::describe_*! gives it a description.",
            String::as_str,
        )
    };
    for (key, counter) in read(&REGISTRY.counters).iter() {
        let name = counter_name(key.name());
        #[allow(clippy::cast_precision_loss)] // an increment, as Prometheus stores it
        let exemplar = counter.1.read(0).map(|r| r.exemplar(r.value as f64));
        out.family(&name, MetricKind::Counter, help_of(&name))
            .counter_with(&labels_of(key, false), counter.0.load(Relaxed), exemplar);
    }
    for (key, gauge) in read(&REGISTRY.gauges).iter() {
        let name = sanitize_name(key.name());
        out.family(&name, MetricKind::Gauge, help_of(&name))
            .gauge(&labels_of(key, false), gauge.0.get());
    }
    let wanted = out.wants_native();
    for (key, histogram) in read(&REGISTRY.histograms).iter() {
        let name = sanitize_name(key.name());
        let n = histogram.bounds.len();
        let counts: Vec<u64> = histogram.counts.iter().map(|c| c.load(Relaxed)).collect();
        let exemplars = (0..=n)
            .map(|i| {
                let r = histogram.exemplars.read(i)?;
                Some(r.exemplar(f64::from_bits(r.value)))
            })
            .collect();
        let family = out.family(&name, MetricKind::Histogram, help_of(&name));
        family.histogram_with(
            &labels_of(key, true),
            &histogram.bounds,
            &counts[..n],
            counts[n],
            histogram.sum.get(),
            exemplars,
        );
        if wanted {
            let native = NativeSlot::read(core::iter::once(&histogram.native), schema_of(i8::MIN));
            family.with_native(native);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_valid() {
        assert_eq!(
            sanitize_name("http.server.duration"),
            "http_server_duration"
        );
        assert_eq!(sanitize_name("9lives"), "_9lives");
        assert_eq!(counter_name("requests"), "requests_total");
        assert_eq!(counter_name("requests_total"), "requests_total");
        assert_eq!(label_name("__reserved"), "x__reserved");
        assert_eq!(label_name("http.method"), "http_method");
    }
}
