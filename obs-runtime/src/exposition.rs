//! The Prometheus text exposition format, version 0.0.4, and OpenMetrics 1.0 text
//! ([`openmetrics`]): the writer every part of the page goes through. It knows nothing of who
//! adds the series.
//!
//! Sites and the `metrics` facade recorder add series to a [`Collector`]; [`Collector::finish`]
//! writes families in name order, each with one `# HELP` and one `# TYPE`, its series contiguous
//! and sorted by labels. Anything that would make the page invalid (a name used with two types,
//! a series twice with different buckets, a family shadowing a histogram's `_count`) is left
//! out and named in a `#` comment line, so the scrape never fails and nothing is silently lost.

use core::fmt::Write as _;
use std::collections::BTreeMap;

mod openmetrics;
// Without `otlp` nothing pushes; the settings' types stay, so a `Builder` reads the same.
#[cfg_attr(not(feature = "otlp"), allow(dead_code))]
pub(crate) mod otlp;
mod protobuf;

pub use otlp::Temporality;
pub use protobuf::PROTOBUF_CONTENT_TYPE;

/// The `Content-Type` of the page: Prometheus text format 0.0.4, what [`render`](crate::render)
/// writes and `/metrics` answers unless the scraper asks for OpenMetrics.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The `Content-Type` of the OpenMetrics 1.0 page, what
/// [`render_openmetrics`](crate::render_openmetrics) writes and `/metrics` answers a scraper
/// whose `Accept` header prefers `application/openmetrics-text; version=1.0.0`.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A sampled span that recorded into a series: the trace it links the sample to. Shown on the
/// OpenMetrics page only (0.0.4 text has no syntax for it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Exemplar {
    pub(crate) trace_id: [u8; 16],
    pub(crate) span_id: [u8; 8],
    /// The value the call recorded, in the series' unit.
    pub(crate) value: f64,
    /// When, in nanoseconds since the Unix epoch.
    pub(crate) unix_nanos: u64,
}

/// The native (exponential) buckets of a histogram series: what only the protobuf page shows.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct NativeBuckets {
    /// Bucket `i` holds the values in `(2^((i-1)/2^schema), 2^(i/2^schema)]`.
    pub(crate) schema: i8,
    pub(crate) zero_threshold: f64,
    pub(crate) zero_count: u64,
    /// `(index, count)` of every bucket with a count, by index.
    pub(crate) positive: Vec<(i32, u64)>,
}

impl NativeBuckets {
    /// Adds `other` into `self`; `false` if their layouts differ.
    fn merge(&mut self, other: &NativeBuckets) -> bool {
        if (self.schema, self.zero_threshold) != (other.schema, other.zero_threshold) {
            return false;
        }
        self.zero_count = self.zero_count.saturating_add(other.zero_count);
        let mut merged: Vec<(i32, u64)> = self
            .positive
            .iter()
            .chain(&other.positive)
            .copied()
            .collect();
        merged.sort_unstable_by_key(|&(i, _)| i);
        merged.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 = kept.1.saturating_add(later.1);
            }
            same
        });
        self.positive = merged;
        true
    }
}

/// The later of two exemplars of one series.
fn latest(a: Option<Exemplar>, b: Option<Exemplar>) -> Option<Exemplar> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.unix_nanos > a.unix_nanos { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// The type of a metric family; in the [catalog](crate::catalog), what a metric of an
/// instrumented function records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// Only goes up (`#[counted]`: calls by status).
    Counter,
    /// Cumulative buckets, a sum and a count (`#[timed]`: durations by status).
    Histogram,
    /// Goes up and down (`#[in_flight]`: calls running now).
    Gauge,
}

impl MetricKind {
    fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// The label set of one series, already escaped, without braces.
pub(crate) struct Labels(String);

impl Labels {
    /// An empty label set.
    pub(crate) fn empty() -> Self {
        Labels(String::new())
    }

    /// An empty label set with room for `bytes` of labels.
    pub(crate) fn with_capacity(bytes: usize) -> Self {
        Labels(String::with_capacity(bytes))
    }

    /// Appends `key="value"`, escaping the value. `key` must already be a valid label name.
    pub(crate) fn push(&mut self, key: &str, value: &str) {
        if !self.0.is_empty() {
            self.0.push(',');
        }
        self.0.push_str(key);
        self.0.push_str("=\"");
        escape_label_value(&mut self.0, value);
        self.0.push('"');
    }
}

fn escape_label_value(out: &mut String, value: &str) {
    if !value.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_help(out: &mut String, help: &str) {
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Appends `value` in decimal, without the formatting machinery.
fn write_u64(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        // A single decimal digit.
        #[allow(clippy::cast_possible_truncation)]
        {
            digits[start] = b'0' + (value % 10) as u8;
        }
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.push_str(core::str::from_utf8(&digits[start..]).unwrap_or("0"));
}

fn write_float(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{value}");
    }
}

#[derive(Clone)]
enum Value {
    Counter(u64, Option<Exemplar>),
    /// A counter of a quantity that is not a whole number, such as CPU seconds.
    FloatCounter(f64),
    Gauge(f64),
    Histogram {
        bounds: Vec<f64>,
        counts: Vec<u64>,
        inf: u64,
        sum: f64,
        /// One per bucket, then `+Inf`; empty when none was recorded.
        exemplars: Vec<Option<Exemplar>>,
        /// Kept beside the classic buckets when native histograms are on.
        native: Option<NativeBuckets>,
    },
}

impl Value {
    /// Adds `other` into `self`; `false` if the two cannot be one series.
    fn merge(&mut self, other: Value) -> bool {
        match (self, other) {
            (Value::Counter(a, ea), Value::Counter(b, eb)) => {
                *a = a.saturating_add(b);
                *ea = latest(*ea, eb);
            }
            (Value::FloatCounter(a), Value::FloatCounter(b))
            | (Value::Gauge(a), Value::Gauge(b)) => {
                *a += b;
            }
            (
                Value::Histogram {
                    bounds,
                    counts,
                    inf,
                    sum,
                    exemplars,
                    native,
                },
                Value::Histogram {
                    bounds: b2,
                    counts: c2,
                    inf: i2,
                    sum: s2,
                    exemplars: e2,
                    native: n2,
                },
            ) if *bounds == b2 => {
                // Both native, of one layout, or neither: else the native side is dropped,
                // since its count would no longer be the classic one's.
                let both = native.as_mut().zip(n2.as_ref());
                if !both.is_some_and(|(a, b)| a.merge(b)) {
                    *native = None;
                }
                for (a, b) in counts.iter_mut().zip(c2) {
                    *a = a.saturating_add(b);
                }
                *inf = inf.saturating_add(i2);
                *sum += s2;
                if exemplars.is_empty() {
                    *exemplars = e2;
                } else {
                    for (a, b) in exemplars.iter_mut().zip(e2) {
                        *a = latest(*a, b);
                    }
                }
            }
            _ => return false,
        }
        true
    }
}

/// One metric family being collected.
///
/// Series are appended as they come and sorted once, when the page is written: one sort of a
/// vector is much cheaper than keeping a tree of strings ordered through every insertion.
pub(crate) struct Family {
    kind: MetricKind,
    help: Option<String>,
    series: Vec<(String, Value)>,
    dropped: Vec<String>,
}

impl Family {
    fn new(kind: MetricKind) -> Self {
        Family {
            kind,
            help: None,
            series: Vec::new(),
            dropped: Vec::new(),
        }
    }

    fn add(&mut self, labels: &Labels, value: Value) {
        self.series.push((labels.0.clone(), value));
    }

    /// Sorts the series by labels and merges the ones with the same labels into the first of
    /// them, in the order they were added; a series that cannot be merged (other buckets) is
    /// left out and named in `dropped`.
    fn sort_and_merge(&mut self) {
        // Stable: among equal labels, the first added stays first and the others merge into it.
        self.series.sort_by(|a, b| a.0.cmp(&b.0));
        let mut merged: Vec<(String, Value)> = Vec::with_capacity(self.series.len());
        for (labels, value) in self.series.drain(..) {
            match merged.last_mut() {
                Some((last, kept)) if *last == labels => {
                    if !kept.merge(value) {
                        self.dropped.push(format!(
                            "a second series {{{labels}}} with other buckets was left out"
                        ));
                    }
                }
                _ => merged.push((labels, value)),
            }
        }
        self.series = merged;
    }

    /// Adds a counter series.
    pub(crate) fn counter(&mut self, labels: &Labels, value: u64) {
        self.add(labels, Value::Counter(value, None));
    }

    /// Adds a counter series with the exemplar of its latest sampled increment.
    pub(crate) fn counter_with(&mut self, labels: &Labels, value: u64, exemplar: Option<Exemplar>) {
        self.add(labels, Value::Counter(value, exemplar));
    }

    /// Adds a counter series whose value is not a whole number.
    pub(crate) fn counter_f64(&mut self, labels: &Labels, value: f64) {
        self.add(labels, Value::FloatCounter(value));
    }

    /// Adds a gauge series.
    pub(crate) fn gauge(&mut self, labels: &Labels, value: f64) {
        self.add(labels, Value::Gauge(value));
    }

    /// Adds a histogram series from per-bucket (not cumulative) counts.
    #[cfg_attr(not(test), allow(dead_code))] // the sites and the facade pass exemplars
    pub(crate) fn histogram(
        &mut self,
        labels: &Labels,
        bounds: &[f64],
        counts: &[u64],
        inf: u64,
        sum: f64,
    ) {
        self.histogram_with(labels, bounds, counts, inf, sum, Vec::new());
    }

    /// Adds a histogram series with an exemplar per bucket, then one for `+Inf` (or none at
    /// all: an empty `exemplars`).
    pub(crate) fn histogram_with(
        &mut self,
        labels: &Labels,
        bounds: &[f64],
        counts: &[u64],
        inf: u64,
        sum: f64,
        exemplars: Vec<Option<Exemplar>>,
    ) {
        let value = Value::Histogram {
            bounds: bounds.to_vec(),
            counts: counts.to_vec(),
            inf,
            sum,
            exemplars,
            native: None,
        };
        self.add(labels, value);
    }

    /// Gives the series added last its native buckets (a histogram's; ignored otherwise).
    pub(crate) fn with_native(&mut self, native: Option<NativeBuckets>) {
        if let Some((_, Value::Histogram { native: slot, .. })) = self.series.last_mut() {
            *slot = native;
        }
    }
}

/// The families of one scrape, in name order.
pub struct Collector {
    families: BTreeMap<String, Family>,
    /// Series whose family name is taken by another type, kept apart and reported.
    misfit: Family,
    /// Whether the page shows native buckets (the protobuf page): the text pages skip reading
    /// them.
    native: bool,
}

impl Default for Collector {
    fn default() -> Self {
        Self::new()
    }
}

impl Collector {
    /// An empty page.
    pub fn new() -> Self {
        Collector {
            families: BTreeMap::new(),
            misfit: Family::new(MetricKind::Gauge),
            native: false,
        }
    }

    /// An empty page that shows native buckets: the protobuf page.
    pub(crate) fn with_native() -> Self {
        Collector {
            native: true,
            ..Self::new()
        }
    }

    /// Whether the parts should read their native buckets for this page.
    pub(crate) fn wants_native(&self) -> bool {
        self.native
    }

    /// The family `name` of type `kind`. `help` is used if the family has none yet; an empty
    /// `help` means "the default for this name".
    ///
    /// If `name` is already a family of another type, the series added go nowhere and the page
    /// says so in a comment.
    pub(crate) fn family(&mut self, name: &str, kind: MetricKind, help: &str) -> &mut Family {
        // Looked up before inserting: no `String` for the name on every call.
        if !self.families.contains_key(name) {
            self.families.insert(name.to_owned(), Family::new(kind));
        }
        let Some(family) = self.families.get_mut(name) else {
            unreachable!("inserted above")
        };
        if family.kind != kind {
            let note = format!(
                "series of {name} as a {} were left out: {name} is a {}",
                kind.as_str(),
                family.kind.as_str()
            );
            if !family.dropped.contains(&note) {
                family.dropped.push(note);
            }
            self.misfit.series.clear();
            return &mut self.misfit;
        }
        if family.help.is_none() && !help.is_empty() {
            family.help = Some(help.to_owned());
        }
        family
    }

    /// Writes the page.
    pub fn finish(mut self) -> String {
        let size = self.prepare();
        // Most series are histograms of about 20 lines of about 120 bytes.
        let mut out = String::with_capacity(4096 + size * 512);
        let mut les = BoundLabels::default();
        for (name, family) in &self.families {
            for note in &family.dropped {
                let _ = writeln!(out, "# obs: {note}");
            }
            if family.series.is_empty() {
                continue;
            }
            out.push_str("# HELP ");
            out.push_str(name);
            out.push(' ');
            let help = family.help.as_deref().unwrap_or("Recorded by obs.");
            escape_help(&mut out, help);
            out.push('\n');
            let _ = writeln!(out, "# TYPE {name} {}", family.kind.as_str());
            for (labels, value) in &family.series {
                write_series(&mut out, name, labels, value, &mut les);
            }
        }
        out
    }

    /// Sorts and merges every family's series and leaves out the shadowed ones: the page minus
    /// its writing, shared by both formats. Returns the number of series.
    fn prepare(&mut self) -> usize {
        let mut size = 0;
        for family in self.families.values_mut() {
            family.sort_and_merge();
            size += family.series.len();
        }
        self.drop_shadowed();
        size
    }

    /// A counter or gauge named like a histogram's `_bucket`, `_sum` or `_count` would make two
    /// families claim the same sample names: leave it out.
    fn drop_shadowed(&mut self) {
        let histograms: Vec<String> = self
            .families
            .iter()
            .filter(|(_, f)| f.kind == MetricKind::Histogram)
            .map(|(n, _)| n.clone())
            .collect();
        for base in histograms {
            for suffix in ["_bucket", "_sum", "_count"] {
                let shadow = format!("{base}{suffix}");
                if let Some(family) = self.families.get_mut(&shadow)
                    && !family.series.is_empty()
                {
                    family.series.clear();
                    family.dropped.push(format!(
                        "{shadow} was left out: it collides with histogram {base}"
                    ));
                }
            }
        }
    }
}

/// The `le` values of the last bucket bounds written, formatted once: the series of a family
/// nearly always share their bounds.
#[derive(Default)]
struct BoundLabels {
    bounds: Vec<f64>,
    les: Vec<String>,
}

impl BoundLabels {
    fn get(&mut self, bounds: &[f64]) -> &[String] {
        if self.bounds != bounds {
            self.bounds = bounds.to_vec();
            self.les = bounds
                .iter()
                .map(|&b| {
                    let mut le = String::new();
                    write_float(&mut le, b);
                    le
                })
                .collect();
        }
        &self.les
    }
}

/// `name` + `suffix` + `{labels}` + one space.
fn open_series(out: &mut String, name: &str, suffix: &str, labels: &str) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() {
        out.push('{');
        out.push_str(labels);
        out.push('}');
    }
    out.push(' ');
}

fn write_series(out: &mut String, name: &str, labels: &str, value: &Value, les: &mut BoundLabels) {
    match value {
        Value::Counter(v, _) => {
            open_series(out, name, "", labels);
            write_u64(out, *v);
            out.push('\n');
        }
        Value::FloatCounter(v) | Value::Gauge(v) => {
            open_series(out, name, "", labels);
            write_float(out, *v);
            out.push('\n');
        }
        Value::Histogram {
            bounds,
            counts,
            inf,
            sum,
            ..
        } => {
            let mut cumulative = 0u64;
            for (le, count) in les.get(bounds).iter().zip(counts) {
                cumulative = cumulative.saturating_add(*count);
                write_bucket(out, name, labels, le, cumulative);
            }
            cumulative = cumulative.saturating_add(*inf);
            write_bucket(out, name, labels, "+Inf", cumulative);
            open_series(out, name, "_sum", labels);
            write_float(out, *sum);
            out.push('\n');
            open_series(out, name, "_count", labels);
            write_u64(out, cumulative);
            out.push('\n');
        }
    }
}

fn write_bucket(out: &mut String, name: &str, labels: &str, le: &str, count: u64) {
    out.push_str(name);
    out.push_str("_bucket{");
    if !labels.is_empty() {
        out.push_str(labels);
        out.push(',');
    }
    out.push_str("le=\"");
    out.push_str(le);
    out.push_str("\"} ");
    write_u64(out, count);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_label_values_and_help() {
        let mut labels = Labels::empty();
        labels.push("path", "a\\b\"c\nd");
        let mut c = Collector::new();
        c.family("x_total", MetricKind::Counter, "line\nand \\ slash")
            .counter(&labels, 3);
        let page = c.finish();
        assert_eq!(
            page,
            "# HELP x_total line\\nand \\\\ slash\n# TYPE x_total counter\nx_total{path=\"a\\\\b\\\"c\\nd\"} 3\n"
        );
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_inf_equals_count() {
        let mut c = Collector::new();
        c.family("d_seconds", MetricKind::Histogram, "h").histogram(
            &Labels::empty(),
            &[0.1, 1.0],
            &[2, 3],
            4,
            7.5,
        );
        let page = c.finish();
        assert!(page.contains("d_seconds_bucket{le=\"0.1\"} 2\n"));
        assert!(page.contains("d_seconds_bucket{le=\"1\"} 5\n"));
        assert!(page.contains("d_seconds_bucket{le=\"+Inf\"} 9\n"));
        assert!(page.contains("d_seconds_sum 7.5\n"));
        assert!(page.contains("d_seconds_count 9\n"));
    }

    #[test]
    fn a_name_used_with_two_types_keeps_the_first_and_says_so() {
        let mut c = Collector::new();
        c.family("jobs", MetricKind::Counter, "h")
            .counter(&Labels::empty(), 1);
        c.family("jobs", MetricKind::Gauge, "h")
            .gauge(&Labels::empty(), 2.0);
        let page = c.finish();
        assert_eq!(page.matches("# TYPE jobs").count(), 1);
        assert!(
            page.contains("# obs: series of jobs as a gauge were left out: jobs is a counter\n")
        );
        assert!(page.contains("jobs 1\n"));
    }

    #[test]
    fn histogram_shadows_are_left_out() {
        let mut c = Collector::new();
        c.family("x", MetricKind::Histogram, "h")
            .histogram(&Labels::empty(), &[1.0], &[1], 0, 0.5);
        c.family("x_count", MetricKind::Counter, "h")
            .counter(&Labels::empty(), 1);
        let page = c.finish();
        assert!(!page.contains("TYPE x_count"));
        assert!(page.contains("# obs: x_count was left out: it collides with histogram x\n"));
    }

    #[test]
    fn series_are_sorted_and_duplicates_merged_into_the_first() {
        let label = |v: &str| {
            let mut l = Labels::empty();
            l.push("k", v);
            l
        };
        let mut c = Collector::new();
        let family = c.family("h_seconds", MetricKind::Histogram, "h");
        family.histogram(&label("b"), &[1.0], &[1], 0, 0.5);
        family.histogram(&label("a"), &[1.0], &[2], 1, 1.0);
        family.histogram(&label("b"), &[1.0], &[3], 0, 0.25);
        family.histogram(&label("b"), &[2.0], &[5], 0, 9.0);
        c.family("n_total", MetricKind::Counter, "n")
            .counter(&label("x"), u64::MAX);
        let page = c.finish();
        let a = page.find("h_seconds_bucket{k=\"a\"").unwrap();
        let b = page.find("h_seconds_bucket{k=\"b\"").unwrap();
        assert!(a < b, "{page}");
        assert!(
            page.contains("h_seconds_bucket{k=\"b\",le=\"1\"} 4\n"),
            "{page}"
        );
        assert!(page.contains("h_seconds_sum{k=\"b\"} 0.75\n"), "{page}");
        assert!(page.contains("h_seconds_count{k=\"a\"} 3\n"), "{page}");
        assert!(
            page.contains("# obs: a second series {k=\"b\"} with other buckets was left out\n")
        );
        assert!(
            page.contains("n_total{k=\"x\"} 18446744073709551615\n"),
            "{page}"
        );
    }

    #[test]
    fn special_floats() {
        let mut c = Collector::new();
        let mut a = Labels::empty();
        a.push("k", "a");
        let mut b = Labels::empty();
        b.push("k", "b");
        let mut n = Labels::empty();
        n.push("k", "c");
        c.family("g", MetricKind::Gauge, "h")
            .gauge(&a, f64::INFINITY);
        c.family("g", MetricKind::Gauge, "h")
            .gauge(&b, f64::NEG_INFINITY);
        c.family("g", MetricKind::Gauge, "h").gauge(&n, f64::NAN);
        let page = c.finish();
        assert!(
            page.contains("g{k=\"a\"} +Inf\ng{k=\"b\"} -Inf\ng{k=\"c\"} NaN\n"),
            "{page}"
        );
    }
}
