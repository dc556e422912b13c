//! Labels whose values come from the call: `#[counted(labels(tenant = req.tenant()))]`.
//!
//! A labelled site keeps one ordinary site (counter, histogram or gauge) per distinct set of
//! label values, created on first use and never freed, up to a cap per metric
//! ([`series_limit`], default 1,000). Past the cap, calls land in one overflow series whose
//! dynamic labels read `__overflow__`: counts are never lost, memory stays bounded, and one
//! warning is logged per metric.
//!
//! Cost: each call formats its label values into a reused thread-local buffer and looks the
//! set up in a read-locked hash map ([`SeriesMap`]), then records as usual.

use core::fmt::{Display, Write as _};
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use super::catalog::Metric;
use super::meta::FnMeta;
use super::reading::Reading;
use super::series_map::{SeriesMap, overflow_values};
use super::site::{CounterSite, GaugeSite, HistogramSite, Site, Spec};
use crate::exposition::Collector;
use crate::exposition::MetricKind;

/// The value of every dynamic label of the overflow series.
pub const OVERFLOW: &str = "__overflow__";

static SERIES_LIMIT: AtomicUsize = AtomicUsize::new(1000);

/// The most label-value sets one metric of one function keeps before it overflows.
///
/// Labels take their value from the call when written as an expression instead of a string
/// literal; any `Display` value works, and it is escaped on the page:
///
/// ```rust,standalone_crate
/// use obs_runtime::counted;
///
/// #[counted(name = "skill_executions_total", labels(skill_name = skill, tier = "free"))]
/// fn run_skill(skill: &str) {}
///
/// run_skill("weather");
/// run_skill("weather");
/// let page = obs_runtime::render();
/// assert!(page.contains(
///     r#"skill_executions_total{function="run_skill",module="rust_out",tier="free",skill_name="weather",status="ok"} 2"#
/// ));
/// assert_eq!(obs_runtime::series_limit(), 1000);
/// ```
pub fn series_limit() -> usize {
    SERIES_LIMIT.load(Relaxed)
}

/// Sets [`series_limit`] for every labelled metric (what [`Builder::series_limit`] does).
///
/// [`Builder::series_limit`]: crate::Builder::series_limit
pub fn set_series_limit(limit: usize) {
    SERIES_LIMIT.store(limit.max(1), Relaxed);
}

/// An ordinary site a labelled site makes one of per label-value set.
pub trait Child: Site + Sized + 'static {
    /// What else the constructor needs: the bucket bounds of a histogram.
    type Extra: Copy + Send + Sync + 'static;
    /// What the catalog says this kind of site records.
    const KIND: MetricKind;
    /// A new site.
    fn make(meta: &'static FnMeta, spec: Spec, extra: Self::Extra) -> Self;
    /// The buckets, for the catalog.
    fn buckets(extra: Self::Extra) -> Option<Vec<f64>>;
}

impl Child for CounterSite {
    type Extra = ();
    const KIND: MetricKind = MetricKind::Counter;
    fn make(meta: &'static FnMeta, spec: Spec, (): ()) -> Self {
        CounterSite::new(meta, spec)
    }
    fn buckets((): ()) -> Option<Vec<f64>> {
        None
    }
}

impl Child for GaugeSite {
    type Extra = ();
    const KIND: MetricKind = MetricKind::Gauge;
    fn make(meta: &'static FnMeta, spec: Spec, (): ()) -> Self {
        GaugeSite::new(meta, spec)
    }
    fn buckets((): ()) -> Option<Vec<f64>> {
        None
    }
}

impl<const N: usize> Child for HistogramSite<N> {
    type Extra = [f64; N];
    const KIND: MetricKind = MetricKind::Histogram;
    fn make(meta: &'static FnMeta, spec: Spec, bounds: [f64; N]) -> Self {
        HistogramSite::new(meta, spec, bounds)
    }
    fn buckets(bounds: [f64; N]) -> Option<Vec<f64>> {
        Some(bounds.to_vec())
    }
}

/// Appends `value`'s `Display`; a `Display` that panics gives `<formatting panicked>` instead
/// of failing the instrumented call. A `\0` in the value (the key separator) becomes `\u{fffd}`.
fn write_value(key: &mut String, value: &dyn Display) {
    let start = key.len();
    let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| write!(key, "{value}")));
    if written.is_err() {
        key.truncate(start);
        key.push_str("<formatting panicked>");
    } else if key[start..].contains('\0') {
        let cleaned = key[start..].replace('\0', "\u{fffd}");
        key.truncate(start);
        key.push_str(&cleaned);
    }
}

/// A label value taken from the call (`labels(tenant = req.tenant())`): anything `Display`.
///
/// The expansion goes through this trait rather than a cast to `dyn Display` so that a value
/// that is not `Display` is reported at the value's tokens with the fix, not as rustc's
/// E0277 under the whole attribute.
#[diagnostic::on_unimplemented(
    message = "a label value must be `Display`, and `{Self}` is not",
    label = "this label's value",
    note = "label a field or a method result that is `Display` (`labels(tenant = tenant.id)`), or implement `Display` for the type"
)]
pub trait LabelValue {
    /// The value, to format into the series key.
    fn as_label(&self) -> &dyn Display;
}

impl<T: Display> LabelValue for T {
    #[inline]
    fn as_label(&self) -> &dyn Display {
        self
    }
}

/// A metric of one function with `L` labels whose values come from each call.
pub struct Labelled<S: Child, const L: usize> {
    meta: &'static FnMeta,
    spec: Spec,
    names: [&'static str; L],
    extra: S::Extra,
    children: SeriesMap<S>,
}

impl<S: Child, const L: usize> Labelled<S, L> {
    /// Called by the expansion of the attributes only.
    pub const fn new(
        meta: &'static FnMeta,
        spec: Spec,
        names: [&'static str; L],
        extra: S::Extra,
    ) -> Self {
        Labelled {
            meta,
            spec,
            names,
            extra,
            children: SeriesMap::new(),
        }
    }

    /// The site of this call's label values, created on their first use.
    #[inline]
    pub fn site(&'static self, values: [&dyn Display; L]) -> &'static S {
        self.children.get(
            |key| {
                for (i, value) in values.iter().enumerate() {
                    if i > 0 {
                        key.push('\0');
                    }
                    write_value(key, *value);
                }
            },
            |key| self.child(&key.split('\0').collect::<Vec<_>>()),
            || self.child(&overflow_values(L)),
            || {
                tracing::warn!(
                    metric = self.spec.name,
                    function = self.meta.function(),
                    module = self.meta.module(),
                    limit = series_limit(),
                    "too many label-value sets: further ones are counted under {OVERFLOW}"
                );
            },
        )
    }

    /// The site of one set of label values.
    fn child(&self, values: &[&str]) -> S {
        S::make(self.meta, self.child_spec(values), self.extra)
    }

    /// The spec of a child: the static labels, then the dynamic ones with their values.
    fn child_spec(&self, values: &[&str]) -> Spec {
        let mut labels: Vec<(&'static str, &'static str)> = self.spec.labels.to_vec();
        for (name, value) in self.names.iter().zip(values) {
            labels.push((name, Box::leak((*value).into())));
        }
        let mut spec = Spec::new(
            self.spec.name,
            self.spec.help,
            Box::leak(labels.into_boxed_slice()),
        );
        spec.objective = self.spec.objective;
        spec.status = self.spec.status;
        spec.native = self.spec.native;
        spec
    }
}

impl<S: Child, const L: usize> Site for Labelled<S, L> {
    fn collect(&'static self, out: &mut Collector) {
        for child in self.children.all() {
            child.collect(out);
        }
    }

    fn read(&'static self, out: &mut Reading) {
        for child in self.children.all() {
            child.read(out);
        }
    }

    fn describe(&'static self) -> (&'static FnMeta, Metric) {
        let mut not_failures: Vec<&'static str> = Vec::new();
        for child in self.children.all() {
            for label in child.describe().1.not_failures {
                if !not_failures.contains(&label) {
                    not_failures.push(label);
                }
            }
        }
        let mut metric = self
            .spec
            .metric(S::KIND, S::buckets(self.extra), not_failures);
        metric.by.extend(self.names);
        (self.meta, metric)
    }
}
