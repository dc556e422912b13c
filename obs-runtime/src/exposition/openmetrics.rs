//! OpenMetrics 1.0 text: the same families and series as the 0.0.4 page, written in the format
//! that can carry exemplars.
//!
//! What differs from 0.0.4: a counter's family is named without `_total` and its sample with it;
//! `# UNIT` when the family's name ends in a unit; `"` is escaped in `# HELP` too; exemplars follow
//! bucket and counter samples; the page ends with `# EOF`. It has no comment lines, so what the
//! 0.0.4 page names in `# obs:` comments is only left out here. A family whose OpenMetrics names
//! would clash with an earlier one's (a counter `jobs_total` and a gauge `jobs`: both are family
//! `jobs` here) is left out too.

use std::collections::BTreeSet;

use super::{BoundLabels, Collector, Exemplar, MetricKind, Value, write_float, write_u64};

/// Units OpenMetrics names in `# UNIT` when a family's name ends in them.
const UNITS: [&str; 3] = ["seconds", "bytes", "ratio"];

impl Collector {
    /// Writes the page as OpenMetrics 1.0 text.
    pub(crate) fn finish_openmetrics(mut self) -> String {
        let size = self.prepare();
        let mut out = String::with_capacity(4096 + size * 640);
        let mut les = BoundLabels::default();
        let mut claimed = BTreeSet::new();
        for (name, family) in &self.families {
            if family.series.is_empty() {
                continue;
            }
            let kind = family.kind;
            let base = match kind {
                MetricKind::Counter => name.strip_suffix("_total").unwrap_or(name),
                MetricKind::Gauge | MetricKind::Histogram => name,
            };
            let samples: &[&str] = match kind {
                MetricKind::Counter => &["_total", "_created"],
                MetricKind::Gauge => &[""],
                MetricKind::Histogram => &["_bucket", "_count", "_sum", "_created"],
            };
            let names: Vec<String> = core::iter::once(base.to_owned())
                .chain(samples.iter().map(|s| format!("{base}{s}")))
                .collect();
            if names.iter().any(|n| claimed.contains(n)) {
                continue;
            }
            claimed.extend(names);
            write_descriptors(&mut out, base, kind, family.help.as_deref());
            for (labels, value) in &family.series {
                write_series(&mut out, base, labels, value, &mut les);
            }
        }
        out.push_str("# EOF\n");
        out
    }
}

fn write_descriptors(out: &mut String, base: &str, kind: MetricKind, help: Option<&str>) {
    out.push_str("# TYPE ");
    out.push_str(base);
    out.push(' ');
    out.push_str(kind.as_str());
    out.push('\n');
    if let Some(unit) = UNITS
        .iter()
        .find(|u| base.strip_suffix(*u).is_some_and(|b| b.ends_with('_')))
    {
        out.push_str("# UNIT ");
        out.push_str(base);
        out.push(' ');
        out.push_str(unit);
        out.push('\n');
    }
    out.push_str("# HELP ");
    out.push_str(base);
    out.push(' ');
    for c in help.unwrap_or("Recorded by obs.").chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out.push('\n');
}

/// `name` + `suffix` + `{labels}` (plus `le` for a bucket) + one space.
fn open_sample(out: &mut String, name: &str, suffix: &str, labels: &str, le: Option<&str>) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() || le.is_some() {
        out.push('{');
        out.push_str(labels);
        if let Some(le) = le {
            if !labels.is_empty() {
                out.push(',');
            }
            out.push_str("le=\"");
            out.push_str(le);
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
}

/// ` # {trace_id="…",span_id="…"} value timestamp`, then the end of the line.
fn end_sample(out: &mut String, exemplar: Option<&Exemplar>) {
    if let Some(e) = exemplar {
        out.push_str(" # {trace_id=\"");
        hex(out, &e.trace_id);
        out.push_str("\",span_id=\"");
        hex(out, &e.span_id);
        out.push_str("\"} ");
        write_float(out, e.value);
        out.push(' ');
        write_u64(out, e.unix_nanos / 1_000_000_000);
        let millis = e.unix_nanos / 1_000_000 % 1_000;
        out.push('.');
        for digit in [millis / 100, millis / 10 % 10, millis % 10] {
            write_u64(out, digit);
        }
    }
    out.push('\n');
}

/// Lowercase hex, as W3C trace context writes ids.
pub(super) fn hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
}

fn write_series(out: &mut String, base: &str, labels: &str, value: &Value, les: &mut BoundLabels) {
    match value {
        Value::Counter(v, exemplar) => {
            open_sample(out, base, "_total", labels, None);
            write_u64(out, *v);
            end_sample(out, exemplar.as_ref());
        }
        Value::FloatCounter(v) => {
            open_sample(out, base, "_total", labels, None);
            write_float(out, *v);
            end_sample(out, None);
        }
        Value::Gauge(v) => {
            open_sample(out, base, "", labels, None);
            write_float(out, *v);
            end_sample(out, None);
        }
        Value::Histogram {
            bounds,
            counts,
            inf,
            sum,
            exemplars,
            ..
        } => {
            let exemplar = |i: usize| exemplars.get(i).and_then(Option::as_ref);
            let mut cumulative = 0u64;
            for (i, (le, count)) in les.get(bounds).iter().zip(counts).enumerate() {
                cumulative = cumulative.saturating_add(*count);
                open_sample(out, base, "_bucket", labels, Some(le));
                write_u64(out, cumulative);
                end_sample(out, exemplar(i));
            }
            cumulative = cumulative.saturating_add(*inf);
            open_sample(out, base, "_bucket", labels, Some("+Inf"));
            write_u64(out, cumulative);
            end_sample(out, exemplar(bounds.len()));
            open_sample(out, base, "_count", labels, None);
            write_u64(out, cumulative);
            end_sample(out, None);
            open_sample(out, base, "_sum", labels, None);
            write_float(out, *sum);
            end_sample(out, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Collector, Exemplar, Labels, MetricKind};

    fn exemplar(value: f64) -> Exemplar {
        Exemplar {
            trace_id: [0xab; 16],
            span_id: [0x01; 8],
            value,
            unix_nanos: 1_733_000_000_123_456_789,
        }
    }

    #[test]
    fn counters_lose_total_in_the_family_and_carry_exemplars() {
        let mut labels = Labels::empty();
        labels.push("k", "a\"b");
        let mut c = Collector::new();
        c.family("jobs_total", MetricKind::Counter, "Jobs \"done\".")
            .counter_with(&labels, 3, Some(exemplar(1.0)));
        c.family("wait_seconds", MetricKind::Histogram, "h")
            .histogram_with(
                &Labels::empty(),
                &[0.1],
                &[1],
                1,
                2.5,
                vec![None, Some(exemplar(2.0))],
            );
        let page = c.finish_openmetrics();
        let ids = r#"{trace_id="abababababababababababababababab",span_id="0101010101010101"}"#;
        assert_eq!(
            page,
            format!(
                "# TYPE jobs counter\n# HELP jobs Jobs \\\"done\\\".\n\
                 jobs_total{{k=\"a\\\"b\"}} 3 # {ids} 1 1733000000.123\n\
                 # TYPE wait_seconds histogram\n# UNIT wait_seconds seconds\n# HELP wait_seconds h\n\
                 wait_seconds_bucket{{le=\"0.1\"}} 1\n\
                 wait_seconds_bucket{{le=\"+Inf\"}} 2 # {ids} 2 1733000000.123\n\
                 wait_seconds_count 2\nwait_seconds_sum 2.5\n# EOF\n"
            )
        );
    }

    #[test]
    fn a_family_whose_names_clash_is_left_out() {
        let mut c = Collector::new();
        c.family("jobs", MetricKind::Gauge, "g")
            .gauge(&Labels::empty(), 1.0);
        c.family("jobs_total", MetricKind::Counter, "c")
            .counter(&Labels::empty(), 2);
        let page = c.finish_openmetrics();
        assert_eq!(page, "# TYPE jobs gauge\n# HELP jobs g\njobs 1\n# EOF\n");
    }
}
