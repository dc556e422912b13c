//! Prometheus's protobuf exposition: length-delimited `io.prometheus.client.MetricFamily`
//! messages, the only format that carries native histograms.
//!
//! Written by hand into one buffer, as the OTLP encoder is: every nested message gets a
//! one-byte length placeholder, patched when it ends (and widened in place in the rare case
//! it is 128 bytes or more), so nothing is built twice. Field numbers are those of
//! `io/prometheus/client/metrics.proto` (`client_model`), which the tests decode with prost.

use super::{Collector, Exemplar, MetricKind, NativeBuckets, Value};

/// The `Content-Type` of the protobuf page, what `/metrics` answers a scraper whose `Accept`
/// header prefers it (Prometheus with `--enable-feature=native-histograms`, or 3.x with
/// `scrape_native_histograms`).
pub const PROTOBUF_CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// Protobuf wire types.
const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;

/// `MetricType` of metrics.proto.
const COUNTER: u64 = 0;
const GAUGE: u64 = 1;
const HISTOGRAM: u64 = 4;

impl Collector {
    /// Writes the page as delimited `MetricFamily` messages. `created_unix_nanos` is the
    /// `created_timestamp` of every counter and histogram: every series of obs starts at zero
    /// when the process does (a series first seen later was zero until then).
    pub(crate) fn finish_protobuf(mut self, created_unix_nanos: u64) -> Vec<u8> {
        let size = self.prepare();
        let mut out = Vec::with_capacity(1024 + size * 256);
        for (name, family) in &self.families {
            if family.series.is_empty() {
                continue;
            }
            // Delimited: the family's length as a varint, then the family.
            let start = out.len();
            out.push(0);
            string(&mut out, 1, name);
            string(
                &mut out,
                2,
                family.help.as_deref().unwrap_or("Recorded by obs."),
            );
            let kind = match family.kind {
                MetricKind::Counter => COUNTER,
                MetricKind::Gauge => GAUGE,
                MetricKind::Histogram => HISTOGRAM,
            };
            uint(&mut out, 3, kind);
            for (labels, value) in &family.series {
                let metric = open(&mut out, 4);
                write_labels(&mut out, labels);
                write_value(&mut out, value, created_unix_nanos);
                close(&mut out, metric);
            }
            close(&mut out, start);
        }
        out
    }
}

fn tag(out: &mut Vec<u8>, field: u32, wire: u32) {
    varint(out, u64::from(field << 3 | wire));
}

fn varint(out: &mut Vec<u8>, value: u64) {
    let (bytes, len) = varint_bytes(value);
    out.extend_from_slice(&bytes[..len]);
}

/// `value` as a varint: seven bits a byte, low first, the continuation bit on all but the last.
fn varint_bytes(mut value: u64) -> ([u8; 10], usize) {
    let (mut bytes, mut len) = ([0u8; 10], 0);
    while value >= 0x80 {
        #[allow(clippy::cast_possible_truncation)] // the low seven bits
        {
            bytes[len] = value as u8 | 0x80;
        }
        value >>= 7;
        len += 1;
    }
    #[allow(clippy::cast_possible_truncation)] // below 0x80
    {
        bytes[len] = value as u8;
    }
    (bytes, len + 1)
}

fn zigzag(value: i64) -> u64 {
    #[allow(clippy::cast_sign_loss)]
    let z = ((value << 1) ^ (value >> 63)) as u64;
    z
}

fn uint(out: &mut Vec<u8>, field: u32, value: u64) {
    tag(out, field, VARINT);
    varint(out, value);
}

fn sint(out: &mut Vec<u8>, field: u32, value: i64) {
    tag(out, field, VARINT);
    varint(out, zigzag(value));
}

fn double(out: &mut Vec<u8>, field: u32, value: f64) {
    tag(out, field, FIXED64);
    out.extend_from_slice(&value.to_le_bytes());
}

fn string(out: &mut Vec<u8>, field: u32, value: &str) {
    tag(out, field, LEN);
    varint(out, value.len() as u64);
    out.extend_from_slice(value.as_bytes());
}

/// Starts nested message `field`: returns where its one-byte length placeholder is.
fn open(out: &mut Vec<u8>, field: u32) -> usize {
    tag(out, field, LEN);
    out.push(0);
    out.len() - 1
}

/// Ends the message whose placeholder is at `at`: writes its length there, widening the
/// placeholder (moving the message up) when the length takes more than one byte.
fn close(out: &mut Vec<u8>, at: usize) {
    let len = out.len() - at - 1;
    if let Ok(byte) = u8::try_from(len)
        && byte < 0x80
    {
        out[at] = byte;
        return;
    }
    // On the stack: this runs for most histogram series (and every family).
    let (prefix, n) = varint_bytes(len as u64);
    out.splice(at..=at, prefix[..n].iter().copied());
}

fn timestamp(out: &mut Vec<u8>, field: u32, unix_nanos: u64) {
    let at = open(out, field);
    let seconds = i64::try_from(unix_nanos / 1_000_000_000).unwrap_or(i64::MAX);
    uint(out, 1, seconds.unsigned_abs());
    uint(out, 2, unix_nanos % 1_000_000_000);
    close(out, at);
}

/// `LabelPair`s from a label set as the text page holds it: `k="v",…`, values escaped. A
/// value without a backslash (nearly all) is written straight from the text; only an escaped
/// one is unescaped into a buffer.
fn write_labels(out: &mut Vec<u8>, labels: &str) {
    let mut rest = labels;
    let mut value = String::new();
    // A name holds no `=` and a value starts with `"`: a one-byte search, not a substring's.
    while let Some((name, after)) = rest.split_once('=') {
        let after = after.strip_prefix('"').unwrap_or(after);
        let end = match after.find(['"', '\\']) {
            Some(quote) if after.as_bytes()[quote] == b'"' => {
                label(out, name, &after[..quote]);
                quote + 1
            }
            _ => {
                let end = unescape(after, &mut value);
                label(out, name, &value);
                end
            }
        };
        rest = after[end..].strip_prefix(',').unwrap_or(&after[end..]);
    }
}

/// Unescapes the label value at the start of `text` (up to its closing quote) into `value`;
/// returns where it ends, after the quote.
fn unescape(text: &str, value: &mut String) -> usize {
    value.clear();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, c)) => value.push(c),
                None => {}
            },
            '"' => return i + 1,
            c => value.push(c),
        }
    }
    text.len()
}

fn label(out: &mut Vec<u8>, name: &str, value: &str) {
    let at = open(out, 1);
    string(out, 1, name);
    string(out, 2, value);
    close(out, at);
}

/// An `Exemplar` message: the trace and span ids as labels, as OpenMetrics writes them.
fn exemplar(out: &mut Vec<u8>, field: u32, e: &Exemplar) {
    let at = open(out, field);
    let mut hex = String::with_capacity(32);
    super::openmetrics::hex(&mut hex, &e.trace_id);
    label(out, "trace_id", &hex);
    hex.clear();
    super::openmetrics::hex(&mut hex, &e.span_id);
    label(out, "span_id", &hex);
    double(out, 2, e.value);
    timestamp(out, 3, e.unix_nanos);
    close(out, at);
}

#[allow(clippy::cast_precision_loss)] // counts as the f64 the format holds
fn write_value(out: &mut Vec<u8>, value: &Value, created: u64) {
    match value {
        Value::Counter(v, e) => {
            let at = open(out, 3);
            double(out, 1, *v as f64);
            if let Some(e) = e {
                exemplar(out, 2, e);
            }
            timestamp(out, 3, created);
            close(out, at);
        }
        Value::FloatCounter(v) => {
            let at = open(out, 3);
            double(out, 1, *v);
            timestamp(out, 3, created);
            close(out, at);
        }
        Value::Gauge(v) => {
            let at = open(out, 2);
            double(out, 1, *v);
            close(out, at);
        }
        Value::Histogram {
            bounds,
            counts,
            inf,
            sum,
            exemplars,
            native,
        } => {
            let at = open(out, 7);
            // With native buckets, the count is theirs: a call between the classic and the
            // native update, or recorded before the switch was on, must not make them disagree.
            let total = native.as_ref().map_or_else(
                || counts.iter().fold(*inf, |t, c| t.saturating_add(*c)),
                |n| {
                    n.positive
                        .iter()
                        .fold(n.zero_count, |t, b| t.saturating_add(b.1))
                },
            );
            uint(out, 1, total);
            double(out, 2, *sum);
            let mut cumulative = 0u64;
            let bounds = bounds.iter().chain(core::iter::once(&f64::INFINITY));
            let counts = counts.iter().chain(core::iter::once(inf));
            for (i, (bound, count)) in bounds.zip(counts).enumerate() {
                cumulative = cumulative.saturating_add(*count);
                let bucket = open(out, 3);
                uint(out, 1, cumulative);
                double(out, 2, *bound);
                if let Some(Some(e)) = exemplars.get(i) {
                    exemplar(out, 3, e);
                }
                close(out, bucket);
            }
            if let Some(native) = native {
                write_native(out, native);
                // A native histogram has no buckets of its own to hang exemplars on: they go
                // in `exemplars` (field 16), the classic buckets' latest ones in value order,
                // each with the timestamp Prometheus requires of them there.
                for e in exemplars.iter().flatten() {
                    exemplar(out, 16, e);
                }
            }
            timestamp(out, 15, created);
            close(out, at);
        }
    }
}

/// Schema, zero bucket, then the positive buckets as spans of consecutive indexes and the
/// delta of each count from the one before.
fn write_native(out: &mut Vec<u8>, native: &NativeBuckets) {
    sint(out, 5, i64::from(native.schema));
    double(out, 6, native.zero_threshold);
    uint(out, 7, native.zero_count);
    let mut spans: Vec<(i32, u32)> = Vec::new();
    let mut next = 0i32;
    for &(index, _) in &native.positive {
        match spans.last_mut() {
            Some((_, length)) if index == next => *length += 1,
            last => {
                let offset = if last.is_some() { index - next } else { index };
                spans.push((offset, 1));
            }
        }
        next = index + 1;
    }
    for (offset, length) in spans {
        let at = open(out, 12);
        sint(out, 1, i64::from(offset));
        uint(out, 2, u64::from(length));
        close(out, at);
    }
    if native.positive.is_empty() {
        return;
    }
    // Packed: one length, then the zigzag varints.
    let at = open(out, 13);
    let mut previous = 0i64;
    for &(_, count) in &native.positive {
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        varint(out, zigzag(count.wrapping_sub(previous)));
        previous = count;
    }
    close(out, at);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_zigzag() {
        let mut out = Vec::new();
        varint(&mut out, 300);
        assert_eq!(out, [0xac, 0x02]);
        assert_eq!((zigzag(0), zigzag(-1), zigzag(1), zigzag(-2)), (0, 1, 2, 3));
    }

    /// A message of 128 bytes or more gets a two-byte length, and what follows moves up.
    #[test]
    fn long_messages_widen_their_length() {
        let mut out = vec![9];
        let at = open(&mut out, 1);
        string(&mut out, 1, &"x".repeat(200));
        close(&mut out, at);
        assert_eq!(&out[..4], [9, 0x0a, 0xcb, 0x01]); // 203 = 0xcb 0x01
        assert_eq!(out.len(), 4 + 203);
    }

    #[test]
    fn escaped_labels_are_read_back() {
        let mut labels = super::super::Labels::empty();
        labels.push("a", "x\"y\\z\nw");
        labels.push("b", "");
        let mut out = Vec::new();
        write_labels(&mut out, &labels.0);
        let mut expected = Vec::new();
        label(&mut expected, "a", "x\"y\\z\nw");
        label(&mut expected, "b", "");
        assert_eq!(out, expected);
    }
}
