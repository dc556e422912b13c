//! The page as OTLP metrics: an `ExportMetricsServiceRequest` (opentelemetry-proto's
//! `metrics.proto` and `metrics_service.proto`) written from the same [`Collector`] the text,
//! OpenMetrics and protobuf pages are written from, so a family added to the page is pushed
//! too.
//!
//! Counters are monotonic sums, gauges are gauges, histograms are histograms with their bounds
//! (exponential histograms when the series keeps native buckets), each point with its start
//! time, its labels as attributes and the exemplars the OpenMetrics page shows. Names and
//! units are chosen so that the OTLP-to-Prometheus translation gives back the page's names
//! ([`names`]). `target_info` is not pushed: the request's resource is what it describes.
//!
//! With delta temporality, each point is the difference from what the last accepted push sent
//! ([`Delta`]); a push that fails leaves that baseline alone, so the next one carries its
//! counts.

use std::collections::HashMap;

use super::{Collector, Exemplar, MetricKind, NativeBuckets, Value};
use crate::otlp::wire::Writer;

mod names;

pub(crate) use names::{is_int_key, otlp_key, otlp_name};

/// Which points are sums since the process started (cumulative) and which since the previous
/// push (delta): `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`, or
/// [`Builder::metrics_temporality`](crate::Builder::metrics_temporality).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Temporality {
    /// Every counter and histogram point counts from the process's start (`cumulative`): the
    /// default, and what Prometheus-compatible backends store.
    #[default]
    Cumulative,
    /// Counters and histograms count since the previous push (`delta`), as Datadog and New
    /// Relic prefer. Gauges have no temporality.
    Delta,
    /// As the OpenTelemetry specification's `lowmemory`: counters and histograms are delta,
    /// observed counters (the process's CPU seconds) stay cumulative.
    LowMemory,
}

/// `AggregationTemporality` values.
const DELTA: u64 = 1;
const CUMULATIVE: u64 = 2;

/// What one push needs beyond the families: who sends and when.
pub(crate) struct Push<'a> {
    /// The `ResourceMetrics.resource` field, pre-encoded.
    pub(crate) resource: &'a [u8],
    /// The `ScopeMetrics.scope` field, pre-encoded.
    pub(crate) scope: &'a [u8],
    /// When every series started from zero, in Unix nanoseconds.
    pub(crate) start: u64,
    /// The time of the points.
    pub(crate) now: u64,
    pub(crate) temporality: Temporality,
}

/// A series' cumulative value as the last accepted push saw it.
#[derive(Clone, Debug)]
enum Seen {
    Counter(u64),
    Float(f64),
    Histogram {
        counts: Vec<u64>,
        inf: u64,
        sum: f64,
        native: Option<NativeBuckets>,
    },
}

/// The baseline of delta points: what was sent last, and since when.
#[derive(Debug, Default)]
pub(crate) struct Delta {
    /// When the baseline was taken (the last accepted push, else the process's start).
    since: u64,
    sent: HashMap<String, Seen>,
    /// What the push being sent saw: the baseline once it is accepted.
    pending: HashMap<String, Seen>,
}

impl Delta {
    /// A baseline of zeros, from `start`.
    pub(crate) fn new(start: u64) -> Self {
        Delta {
            since: start,
            ..Delta::default()
        }
    }

    /// The push was accepted: its values are the next baseline, from `now`.
    pub(crate) fn commit(&mut self, now: u64) {
        self.sent = std::mem::take(&mut self.pending);
        self.since = now;
    }

    /// The push was lost: the baseline stays, so the next push carries these counts too.
    pub(crate) fn discard(&mut self) {
        self.pending.clear();
    }
}

impl Collector {
    /// Writes every family of the page as one `ExportMetricsServiceRequest` into `out`
    /// (cleared first) and returns the number of data points. `delta` is the baseline when
    /// `push.temporality` is not cumulative.
    pub(crate) fn finish_otlp(
        mut self,
        out: &mut Vec<u8>,
        push: &Push<'_>,
        mut delta: Option<&mut Delta>,
    ) -> u64 {
        self.prepare();
        out.clear();
        let mut w = Writer {
            buf: std::mem::take(out),
        };
        let mut points = 0u64;
        let mut key = String::new();
        // ExportMetricsServiceRequest.resource_metrics = 1
        w.message(1, |w| {
            w.raw(push.resource); // ResourceMetrics.resource = 1
            // ResourceMetrics.scope_metrics = 2
            w.message(2, |w| {
                w.raw(push.scope); // ScopeMetrics.scope = 1
                for (name, family) in &self.families {
                    if family.series.is_empty() || name == "target_info" {
                        continue;
                    }
                    let (otlp, unit) = otlp_name(name, family.kind);
                    // Page names have no dots: only the semantic-convention names do.
                    let semantic = otlp.contains('.');
                    // A histogram family whose series differ (some native, some classic) is
                    // two metrics of one name, an exponential and an explicit one: OTLP has
                    // one type per metric, Prometheus keeps both kinds under one name.
                    for native in [false, true] {
                        let series: Vec<&(String, Value)> = family
                            .series
                            .iter()
                            .filter(|(_, v)| is_native(v) == native)
                            .collect();
                        if series.is_empty() {
                            continue;
                        }
                        // ScopeMetrics.metrics = 2
                        w.message(2, |w| {
                            w.string(1, otlp);
                            if let Some(help) = &family.help {
                                w.string(2, help);
                            }
                            if !unit.is_empty() {
                                w.string(3, unit);
                            }
                            let mut writer = Series {
                                push,
                                delta: delta.as_deref_mut(),
                                key: &mut key,
                                name,
                                semantic,
                            };
                            points += writer.write(w, family.kind, native, &series);
                        });
                    }
                }
            });
        });
        *out = w.buf;
        points
    }
}

/// The series of one family being written.
struct Series<'a, 'b> {
    push: &'a Push<'a>,
    delta: Option<&'b mut Delta>,
    /// `name{labels}`, the baseline's key, reused.
    key: &'b mut String,
    name: &'a str,
    /// Whether the labels take their semantic-convention keys.
    semantic: bool,
}

impl Series<'_, '_> {
    /// The family's data, by kind: returns its number of points.
    fn write(
        &mut self,
        w: &mut Writer,
        kind: MetricKind,
        native: bool,
        series: &[&(String, Value)],
    ) -> u64 {
        // Observed counters (floats: CPU seconds) stay cumulative under `lowmemory`.
        let observed = series
            .iter()
            .any(|(_, v)| matches!(v, Value::FloatCounter(_)));
        let delta = match self.push.temporality {
            Temporality::Cumulative => false,
            Temporality::Delta => kind != MetricKind::Gauge,
            Temporality::LowMemory => kind != MetricKind::Gauge && !observed,
        };
        let temporality = if delta { DELTA } else { CUMULATIVE };
        // Metric.gauge = 5, .sum = 7, .histogram = 9, .exponential_histogram = 10
        let field = match kind {
            MetricKind::Gauge => 5,
            MetricKind::Counter => 7,
            MetricKind::Histogram if native => 10,
            MetricKind::Histogram => 9,
        };
        w.message(field, |w| {
            for (labels, value) in series {
                self.point(w, labels, value, delta);
            }
            if kind != MetricKind::Gauge {
                w.uint(2, temporality); // aggregation_temporality = 2
            }
            if kind == MetricKind::Counter {
                w.uint(3, 1); // Sum.is_monotonic = 3
            }
        });
        series.len() as u64
    }

    /// One data point, as a delta from the baseline when `delta`.
    fn point(&mut self, w: &mut Writer, labels: &str, value: &Value, delta: bool) {
        let mut start = self.push.start;
        let subtracted;
        let mut value = value;
        if delta && let Some(baseline) = self.delta.as_deref_mut() {
            self.key.clear();
            self.key.push_str(self.name);
            self.key.push('{');
            self.key.push_str(labels);
            start = baseline.since;
            if let Some(seen) = seen(value) {
                baseline.pending.insert(self.key.clone(), seen);
            }
            subtracted = subtract(value.clone(), baseline.sent.get(self.key.as_str()));
            value = &subtracted;
        }
        let (now, semantic) = (self.push.now, self.semantic);
        match value {
            Value::Counter(v, exemplar) => w.message(1, |w| {
                number_point(w, labels, semantic, start, now);
                let v = i64::try_from(*v).unwrap_or(i64::MAX);
                w.tag(6, 1); // as_int = 6, sfixed64
                w.raw(&v.to_le_bytes());
                exemplars(w, 5, exemplar.iter());
            }),
            Value::FloatCounter(v) | Value::Gauge(v) => w.message(1, |w| {
                number_point(w, labels, semantic, start, now);
                w.fixed64(4, v.to_bits()); // as_double = 4
            }),
            Value::Histogram {
                bounds,
                counts,
                inf,
                sum,
                exemplars: ex,
                native,
            } => w.message(1, |w| {
                let count = counts.iter().fold(*inf, |a, c| a.saturating_add(*c));
                if let Some(native) = native {
                    exponential_point(w, labels, semantic, (start, now), native, (count, *sum));
                    exemplars(w, 11, ex.iter().flatten());
                    return;
                }
                attributes(w, 9, labels, semantic);
                w.fixed64(2, start);
                w.fixed64(3, now);
                w.fixed64(4, count);
                w.fixed64(5, sum.to_bits());
                // bucket_counts = 6 and explicit_bounds = 7, packed.
                w.message(6, |w| {
                    for c in counts.iter().chain([inf]) {
                        w.raw(&c.to_le_bytes());
                    }
                });
                w.message(7, |w| {
                    for b in bounds {
                        w.raw(&b.to_bits().to_le_bytes());
                    }
                });
                exemplars(w, 8, ex.iter().flatten());
            }),
        }
    }
}

fn is_native(value: &Value) -> bool {
    matches!(
        value,
        Value::Histogram {
            native: Some(_),
            ..
        }
    )
}

/// What the baseline keeps of a series (gauges: nothing).
fn seen(value: &Value) -> Option<Seen> {
    match value {
        Value::Counter(v, _) => Some(Seen::Counter(*v)),
        Value::FloatCounter(v) => Some(Seen::Float(*v)),
        Value::Gauge(_) => None,
        Value::Histogram {
            counts,
            inf,
            sum,
            native,
            ..
        } => Some(Seen::Histogram {
            counts: counts.clone(),
            inf: *inf,
            sum: *sum,
            native: native.clone(),
        }),
    }
}

/// `value` minus what was sent last. A series that went down (a process that restarted a
/// count) or changed its buckets starts over: its whole value is the delta.
fn subtract(value: Value, previous: Option<&Seen>) -> Value {
    match (value, previous) {
        (Value::Counter(v, e), Some(Seen::Counter(p))) if v >= *p => Value::Counter(v - p, e),
        (Value::FloatCounter(v), Some(Seen::Float(p))) if v >= *p => Value::FloatCounter(v - p),
        (
            Value::Histogram {
                bounds,
                counts,
                inf,
                sum,
                exemplars,
                native,
            },
            Some(Seen::Histogram {
                counts: pc,
                inf: pi,
                sum: ps,
                native: pn,
            }),
        ) if counts.len() == pc.len()
            && *pi <= inf
            && counts.iter().zip(pc).all(|(c, p)| p <= c) =>
        {
            Value::Histogram {
                bounds,
                counts: counts.iter().zip(pc).map(|(c, p)| c - p).collect(),
                inf: inf - pi,
                sum: sum - ps,
                exemplars,
                native: native.map(|n| minus_native(n, pn.as_ref())),
            }
        }
        (value, _) => value,
    }
}

/// Native buckets minus the previous ones of the same layout.
fn minus_native(now: NativeBuckets, previous: Option<&NativeBuckets>) -> NativeBuckets {
    let Some(p) =
        previous.filter(|p| (p.schema, p.zero_threshold) == (now.schema, now.zero_threshold))
    else {
        return now;
    };
    let before = |i: i32| {
        p.positive
            .binary_search_by_key(&i, |&(j, _)| j)
            .map_or(0, |at| p.positive[at].1)
    };
    NativeBuckets {
        zero_count: now.zero_count.saturating_sub(p.zero_count),
        positive: now
            .positive
            .iter()
            .map(|&(i, c)| (i, c.saturating_sub(before(i))))
            .filter(|&(_, c)| c > 0)
            .collect(),
        ..now
    }
}

/// A `NumberDataPoint`'s attributes = 7, start = 2 and time = 3.
fn number_point(w: &mut Writer, labels: &str, semantic: bool, start: u64, now: u64) {
    attributes(w, 7, labels, semantic);
    w.fixed64(2, start);
    w.fixed64(3, now);
}

/// An `ExponentialHistogramDataPoint` but its exemplars. Prometheus's bucket `i` holds
/// `(base^(i-1), base^i]`, OTLP's bucket `j` holds `(base^j, base^(j+1)]`: `j = i - 1`.
fn exponential_point(
    w: &mut Writer,
    labels: &str,
    semantic: bool,
    (start, now): (u64, u64),
    native: &NativeBuckets,
    (count, sum): (u64, f64),
) {
    attributes(w, 1, labels, semantic);
    w.fixed64(2, start);
    w.fixed64(3, now);
    w.fixed64(4, count);
    w.fixed64(5, sum.to_bits());
    w.uint(6, zigzag(i32::from(native.schema))); // scale = 6, sint32
    w.fixed64(7, native.zero_count);
    if let (Some(&(first, _)), Some(&(last, _))) = (native.positive.first(), native.positive.last())
    {
        // positive = 8: offset = 1 (sint32), bucket_counts = 2 (packed varints), dense.
        w.message(8, |w| {
            w.uint(1, zigzag(first - 1));
            w.message(2, |w| {
                let mut at = native.positive.iter().peekable();
                for i in first..=last {
                    let count = match at.peek() {
                        Some(&&(j, c)) if j == i => {
                            at.next();
                            c
                        }
                        _ => 0,
                    };
                    w.varint(count);
                }
            });
        });
    }
    w.fixed64(14, native.zero_threshold.to_bits()); // zero_threshold = 14
}

/// A `sint32`'s wire value.
fn zigzag(v: i32) -> u64 {
    u64::from(((v << 1) ^ (v >> 31)).cast_unsigned())
}

/// `Exemplar`s at `field`: value, time, trace and span ids.
fn exemplars<'e>(w: &mut Writer, field: u32, list: impl Iterator<Item = &'e Exemplar>) {
    for e in list {
        w.message(field, |w| {
            w.fixed64(2, e.unix_nanos);
            w.fixed64(3, e.value.to_bits()); // as_double = 3
            w.bytes(4, &e.span_id);
            w.bytes(5, &e.trace_id);
        });
    }
}

/// The page's labels (`k="v",…`, escaped) as `KeyValue`s at `field`, their values unescaped.
fn attributes(w: &mut Writer, field: u32, labels: &str, semantic: bool) {
    let mut rest = labels;
    let mut value = String::new();
    while let Some((key, after)) = rest.split_once("=\"") {
        value.clear();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((at, c)) = chars.next() {
            match c {
                '"' => {
                    end = at;
                    break;
                }
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => {}
                },
                c => value.push(c),
            }
        }
        let key = if semantic { otlp_key(key) } else { key };
        match value.parse::<i64>() {
            // The semantic conventions' status codes are ints; the page has them as text.
            Ok(code) if semantic && is_int_key(key) => w.message(field, |w| {
                w.string(1, key); // KeyValue.key = 1
                // KeyValue.value = 2, AnyValue.int_value = 3 (two's complement, as protobuf)
                #[allow(clippy::cast_sign_loss)]
                w.message(2, |w| w.uint(3, code as u64));
            }),
            _ => w.key_str(field, key, &value),
        }
        rest = after.get(end + 1..).unwrap_or("");
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

#[cfg(test)]
mod tests {
    use super::{NativeBuckets, Seen, Value, minus_native, subtract, zigzag};

    #[test]
    fn deltas_subtract_what_was_sent_and_restart_on_a_reset() {
        let delta = subtract(Value::Counter(10, None), Some(&Seen::Counter(4)));
        assert!(matches!(delta, Value::Counter(6, None)));
        // Went down: the process's count started over, the whole value is new.
        let reset = subtract(Value::Counter(3, None), Some(&Seen::Counter(4)));
        assert!(matches!(reset, Value::Counter(3, None)));
        let first = subtract(Value::Counter(7, None), None);
        assert!(matches!(first, Value::Counter(7, None)));
        let histogram = |counts: Vec<u64>, inf, sum| Value::Histogram {
            bounds: vec![0.1, 1.0],
            counts,
            inf,
            sum,
            exemplars: Vec::new(),
            native: None,
        };
        let seen = Seen::Histogram {
            counts: vec![1, 2],
            inf: 0,
            sum: 1.5,
            native: None,
        };
        match subtract(histogram(vec![3, 2], 1, 4.0), Some(&seen)) {
            Value::Histogram {
                counts, inf, sum, ..
            } => assert_eq!((counts, inf, sum), (vec![2, 0], 1, 2.5)),
            _ => panic!("a histogram"),
        }
    }

    #[test]
    fn native_deltas_are_per_bucket_index() {
        let native = |zero_count, positive| NativeBuckets {
            schema: 3,
            zero_threshold: 1e-128,
            zero_count,
            positive,
        };
        let before = native(1, vec![(-2, 1), (5, 4)]);
        let now = native(2, vec![(-2, 1), (5, 6), (9, 1)]);
        let delta = minus_native(now, Some(&before));
        assert_eq!(delta.zero_count, 1);
        assert_eq!(delta.positive, vec![(5, 2), (9, 1)]);
        // Another layout: no baseline to subtract.
        let other = NativeBuckets {
            schema: 2,
            ..native(2, vec![(1, 1)])
        };
        assert_eq!(minus_native(other.clone(), Some(&before)), other);
    }

    #[test]
    fn sint32_is_zigzag() {
        assert_eq!([zigzag(0), zigzag(-1), zigzag(1), zigzag(-2)], [0, 1, 2, 3]);
    }
}
