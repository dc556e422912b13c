//! The catalog of instrumented functions, complete before `main` runs.
//!
//! Every instrumented function registers its sites at link time, so the catalog lists the
//! functions never called yet too. Rules and dashboards are generated from it.
//!
//! ```
//! #[obs_runtime::counted(objective(success = 99.5))]
//! #[obs_runtime::timed(buckets = [0.1, 0.25, 1.0], objective(latency = "250ms", percentile = 99))]
//! pub fn checkout() {}
//!
//! let functions = obs_runtime::catalog::functions();
//! let entry = functions.iter().find(|f| f.function == "checkout").expect("listed before any call");
//! assert_eq!(entry.metrics.len(), 2);
//! assert!(entry.metrics.iter().any(|m| m.objective == Some(obs_runtime::catalog::Objective::Success { percent: 99.5 })));
//! ```

use std::collections::BTreeMap;

pub use crate::exposition::MetricKind;
pub use crate::status::StatusLabel;

use super::FnMeta;
use super::site::all_sites;

/// A service level objective declared on an attribute.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Objective {
    /// `#[counted(objective(success = 99.9))]`: at least `percent` % of calls end `ok`.
    Success {
        /// The target, in percent.
        percent: f64,
    },
    /// `#[timed(objective(latency = "250ms", percentile = 99))]`: at least `percent` % of calls
    /// take at most `threshold` seconds (one of the function's bucket bounds).
    Latency {
        /// The threshold, in seconds.
        threshold: f64,
        /// The share of calls that must be under it, in percent.
        percent: f64,
    },
}

impl Objective {
    /// At least `percent` % of calls succeed: `Objective::success(99.9)`, for the HTTP
    /// layer's `.objective(..)` (the attributes write `objective(success = 99.9)`).
    #[must_use]
    pub const fn success(percent: f64) -> Self {
        Objective::Success { percent }
    }

    /// At least `percentile` % of calls take at most `threshold`:
    /// `Objective::latency(Duration::from_millis(250), 99.0)`. The threshold should be one of
    /// the histogram's bucket bounds; the HTTP layer moves it up to the next bound if not.
    #[must_use]
    pub const fn latency(threshold: core::time::Duration, percentile: f64) -> Self {
        Objective::Latency {
            threshold: threshold.as_secs_f64(),
            percent: percentile,
        }
    }

    /// The error budget: the share of calls allowed to miss, from 0 to 1.
    pub fn budget(&self) -> f64 {
        let percent = match self {
            Objective::Success { percent } | Objective::Latency { percent, .. } => *percent,
        };
        (100.0 - percent) / 100.0
    }
}

/// One metric of an instrumented function.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    /// Its type.
    pub kind: MetricKind,
    /// Its family name, e.g. `function_calls_total`.
    pub name: &'static str,
    /// Static labels from `labels(..)`.
    pub labels: &'static [(&'static str, &'static str)],
    /// Bucket bounds, for histograms.
    pub buckets: Option<Vec<f64>>,
    /// The objective declared on the attribute.
    pub objective: Option<Objective>,
    /// The status label's name and values (`status(..)` on the attribute); the default for a
    /// gauge, which has none.
    pub status: StatusLabel,
    /// The labels the generated rules and panels keep beside `job`: `function`, `module` and
    /// the metric's `labels(..)` for an attribute, `http_route` and its peers for the HTTP
    /// layer.
    pub by: Vec<&'static str>,
    /// Values of the status label besides [`StatusLabel::ok`] that are not failures:
    /// [`Status::custom_ok`](crate::Status::custom_ok) labels seen so far, the HTTP layer's
    /// `cancelled`.
    pub not_failures: Vec<&'static str>,
}

/// An instrumented function.
#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    /// The `function` label: `name` or `Type::method`.
    pub function: String,
    /// The `module` label.
    pub module: &'static str,
    /// `module::Type::method`.
    pub qualified: String,
    /// The source file.
    pub file: &'static str,
    /// The line of the fn's name.
    pub line: u32,
    /// What it records, sorted by family name.
    pub metrics: Vec<Metric>,
    /// The label matchers that pick this entry's series out of their families:
    /// `function` and `module` for a function; none for a family of the HTTP layer, which
    /// is an entry of its own (its `function` is the family name, its `module`
    /// `obs_runtime::http`).
    pub selector: Vec<(&'static str, String)>,
    /// Whether a call can end `error`, from the return type (`FnMeta::can_return_error`):
    /// false for `()`, `u64`, `String`, `Option<T>` and the like, whose `error` series the
    /// page leaves out until one is counted.
    pub can_return_error: bool,
}

/// Adds the statuses `meta` declares not to be failures (`not_failure = [..]`) to `metric`'s,
/// as its status label writes them (a built-in status may be renamed by `status(..)`).
pub(crate) fn declared_not_failures(meta: &FnMeta, metric: &mut Metric) {
    for name in meta.not_failures() {
        // `Status::custom` of a built-in name is that built-in status.
        let value = metric.status.value(crate::status::Status::custom(name));
        if !metric.not_failures.contains(&value) {
            metric.not_failures.push(value);
        }
    }
}

/// Every instrumented function of the program, sorted by module then function, then the
/// families of the HTTP layers built so far.
pub fn functions() -> Vec<Function> {
    let mut by_fn: BTreeMap<(&'static str, String), Function> = BTreeMap::new();
    for site in all_sites() {
        let (meta, mut metric) = site.describe();
        declared_not_failures(meta, &mut metric);
        let key = (meta.module(), meta.function().to_owned());
        let entry = by_fn.entry(key).or_insert_with(|| Function {
            function: meta.function().to_owned(),
            module: meta.module(),
            qualified: meta.qualified().to_owned(),
            file: meta.file(),
            line: meta.line(),
            metrics: Vec::new(),
            selector: vec![
                ("function", meta.function().to_owned()),
                ("module", meta.module().to_owned()),
            ],
            can_return_error: meta.can_return_error(),
        });
        if !entry.metrics.contains(&metric) {
            entry.metrics.push(metric);
        }
    }
    let mut all: Vec<Function> = by_fn.into_values().collect();
    for f in &mut all {
        f.metrics.sort_by(|a, b| a.name.cmp(b.name));
    }
    let mut layers: BTreeMap<&'static str, Function> = BTreeMap::new();
    for metric in super::family::describe() {
        layers
            .entry(metric.name)
            .or_insert_with(|| Function {
                function: metric.name.to_owned(),
                module: "obs_runtime::http",
                qualified: format!("obs_runtime::http::{}", metric.name),
                file: "",
                line: 0,
                metrics: Vec::new(),
                selector: Vec::new(),
                can_return_error: true,
            })
            .metrics
            .push(metric);
    }
    all.extend(layers.into_values());
    all
}

/// The latency objective of every function that declares one, by the address of its
/// [`FnMeta`] (a `#[traced]` span carries the same one): its threshold in nanoseconds, the
/// smallest if it declares several. For tail sampling's `objectives`, read once per pipeline.
pub(crate) fn latency_thresholds() -> std::collections::HashMap<usize, u64> {
    let mut out = std::collections::HashMap::new();
    for site in all_sites() {
        let (meta, metric) = site.describe();
        if let Some(Objective::Latency { threshold, .. }) = metric.objective {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // seconds, > 0
            let nanos = (threshold * 1e9) as u64;
            let key = core::ptr::from_ref(meta) as usize;
            out.entry(key)
                .and_modify(|n: &mut u64| *n = (*n).min(nanos))
                .or_insert(nanos);
        }
    }
    out
}
