//! One row of the live page per instrumented function and per route of the HTTP layer: what
//! the catalog says of it and what its sites read now.

use std::collections::BTreeMap;

use crate::metrics::catalog::{Metric, MetricKind, Objective, declared_not_failures};
use crate::metrics::family::read_routes;
use crate::metrics::reading::Reading;
use crate::metrics::site::all_sites;

/// A function or a route, read now.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    /// What the sampler files its points under.
    pub(crate) key: String,
    /// The `function` label, or the route.
    pub(crate) name: String,
    /// The `module` label, or the family of a route.
    pub(crate) module: String,
    /// Whether this is a route of the HTTP layer.
    pub(crate) route: bool,
    /// Static labels of its metrics (`labels(..)`).
    pub(crate) labels: Vec<(&'static str, &'static str)>,
    pub(crate) objectives: Vec<Objective>,
    /// The status value of a success, and the others that are not failures.
    pub(crate) ok: &'static str,
    pub(crate) not_failures: Vec<&'static str>,
    pub(crate) reading: Reading,
}

impl Row {
    fn new(key: String, name: String, module: String, route: bool) -> Row {
        Row {
            key,
            name,
            module,
            route,
            labels: Vec::new(),
            objectives: Vec::new(),
            ok: "ok",
            not_failures: Vec::new(),
            reading: Reading::default(),
        }
    }

    /// Adds what the catalog says of one metric of this row.
    fn describe(&mut self, metric: &Metric) {
        if let Some(o) = metric.objective
            && !self.objectives.contains(&o)
        {
            self.objectives.push(o);
        }
        for pair in metric.labels {
            if !self.labels.contains(pair) {
                self.labels.push(*pair);
            }
        }
        // The counter's status label decides what a failure is; else the histogram's.
        if metric.kind != MetricKind::Gauge
            && (metric.kind == MetricKind::Counter || self.reading.counted.is_empty())
        {
            self.ok = metric.status.ok();
        }
        for v in &metric.not_failures {
            if !self.not_failures.contains(v) {
                self.not_failures.push(v);
            }
        }
    }

    /// Whether a call that ended with status value `value` failed.
    pub(crate) fn is_failure(&self, value: &str) -> bool {
        value != self.ok && !self.not_failures.contains(&value)
    }

    /// Calls so far.
    pub(crate) fn calls(&self) -> u64 {
        self.reading.calls().iter().map(|(_, n)| n).sum()
    }

    /// Failed calls so far.
    pub(crate) fn failures(&self) -> u64 {
        let calls = self.reading.calls().iter();
        calls
            .filter(|(v, _)| self.is_failure(v))
            .map(|(_, n)| n)
            .sum()
    }

    /// Timed calls slower than the first latency objective's threshold, so far.
    pub(crate) fn over(&self) -> u64 {
        let Some(threshold) = self.objectives.iter().find_map(|o| match o {
            Objective::Latency { threshold, .. } => Some(*threshold),
            Objective::Success { .. } => None,
        }) else {
            return 0;
        };
        over(&self.reading.bounds, &self.reading.buckets, threshold)
    }
}

/// Calls in `buckets` (per bucket, `+Inf` last) above `threshold` seconds.
pub(crate) fn over(bounds: &[f64], buckets: &[u64], threshold: f64) -> u64 {
    bounds
        .iter()
        .chain([&f64::INFINITY])
        .zip(buckets)
        .filter(|(bound, _)| **bound > threshold * (1.0 + 1e-9))
        .map(|(_, n)| n)
        .sum()
}

/// Every instrumented function (never-called ones too), sorted by module then function, then
/// every route of the HTTP layer.
pub(crate) fn current() -> Vec<Row> {
    let mut functions: BTreeMap<(&'static str, &'static str), Row> = BTreeMap::new();
    for site in all_sites() {
        let (meta, mut metric) = site.describe();
        declared_not_failures(meta, &mut metric);
        let row = functions
            .entry((meta.module(), meta.function()))
            .or_insert_with(|| {
                let key = format!("{}\u{0}{}", meta.module(), meta.function());
                Row::new(key, meta.function().into(), meta.module().into(), false)
            });
        site.read(&mut row.reading);
        row.describe(&metric);
    }
    let mut rows: Vec<Row> = functions.into_values().collect();
    for route in read_routes() {
        let key = format!("{}\u{0}{}", route.family, route.route);
        let mut row = Row::new(key, route.route, route.family.into(), true);
        row.reading = route.reading;
        for metric in &route.metrics {
            row.describe(metric);
        }
        rows.push(row);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_above_a_threshold_are_those_of_higher_buckets() {
        let bounds = [0.1, 0.25, 1.0];
        let buckets = [5, 4, 3, 2];
        assert_eq!(over(&bounds, &buckets, 0.25), 5);
        assert_eq!(over(&bounds, &buckets, 0.1), 9);
        assert_eq!(over(&bounds, &buckets, 1.0), 2);
    }
}
