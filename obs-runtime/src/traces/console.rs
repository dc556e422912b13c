//! The console exporter (`OTEL_TRACES_EXPORTER=console`): one line per finished span on
//! standard output, so a developer sees traces with no backend.
//!
//! ```text
//! span name=Shop::reserve duration=0.153ms status=error description="sku 3 is out of stock" trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7 parent_id=a3ce929d0e0e4736
//! ```
//!
//! The spans are those obs's trace layer recorded (its ids, its sampling), with or without the
//! `otlp` feature; lines are written by the exporter thread, never by the thread that closed
//! the span.

use core::fmt::Write as _;
use std::io::Write as _;
use std::time::Duration;

use super::ids::hex;
use super::pipeline::{Item, Sink};
use super::record::SpanStatus;
use crate::otlp::response::Accepted;
use crate::otlp::retry::Failure;

/// How a span ended, as OpenTelemetry says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LineStatus {
    Unset,
    Ok,
    Error(String),
}

/// One finished span, as the console prints it.
#[derive(Clone, Debug)]
pub(crate) struct Line {
    pub(crate) name: String,
    pub(crate) duration: Duration,
    pub(crate) status: LineStatus,
    pub(crate) trace_id: [u8; 16],
    pub(crate) span_id: [u8; 8],
    pub(crate) parent_id: Option<[u8; 8]>,
}

/// Writes `value` bare when it is one word, quoted and escaped otherwise.
fn word(out: &mut String, value: &str) {
    let bare = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '=');
    if bare {
        out.push_str(value);
    } else {
        let _ = write!(out, "{value:?}");
    }
}

impl Line {
    /// `span name=… duration=…ms status=… [description=…] trace_id=… span_id=… parent_id=…`,
    /// with a newline.
    pub(crate) fn write(&self, out: &mut String) {
        out.push_str("span name=");
        word(out, &self.name);
        let _ = write!(
            out,
            " duration={:.3}ms status=",
            self.duration.as_secs_f64() * 1000.0
        );
        match &self.status {
            LineStatus::Unset => out.push_str("unset"),
            LineStatus::Ok => out.push_str("ok"),
            LineStatus::Error(description) => {
                out.push_str("error");
                if !description.is_empty() {
                    out.push_str(" description=");
                    let _ = write!(out, "{description:?}");
                }
            }
        }
        out.push_str(" trace_id=");
        hex(out, &self.trace_id);
        out.push_str(" span_id=");
        hex(out, &self.span_id);
        out.push_str(" parent_id=");
        match &self.parent_id {
            Some(parent) => hex(out, parent),
            None => out.push_str("none"),
        }
        out.push('\n');
    }
}

/// Writes batches to standard output.
pub(crate) struct ConsoleSink;

impl Sink for ConsoleSink {
    fn export(&mut self, batch: &[Item], _timeout: Duration) -> Result<Accepted, Failure> {
        let mut text = String::with_capacity(batch.len() * 160);
        for item in batch {
            to_line(item).write(&mut text);
        }
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map(|()| Accepted::default())
            // Standard output that fails now is not going to work again.
            .map_err(|e| Failure::permanent(e.to_string()))
    }

    fn target(&self) -> String {
        "standard output".into()
    }
}

fn to_line(span: &Item) -> Line {
    let status = match &span.record.status {
        SpanStatus::Unset => LineStatus::Unset,
        SpanStatus::Ok => LineStatus::Ok,
        SpanStatus::Error(description) => LineStatus::Error(description.clone()),
    };
    Line {
        name: span.name().to_owned(),
        duration: Duration::from_nanos(span.duration_nanos()),
        status,
        trace_id: span.record.ids.trace_id,
        span_id: span.record.ids.span_id,
        parent_id: span.record.parent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_has_every_part_and_quotes_what_needs_it() {
        let mut out = String::new();
        Line {
            name: "Shop::reserve".into(),
            duration: Duration::from_micros(1500),
            status: LineStatus::Error("out of \"stock\"".into()),
            trace_id: [0xab; 16],
            span_id: [1; 8],
            parent_id: None,
        }
        .write(&mut out);
        assert_eq!(
            out,
            "span name=Shop::reserve duration=1.500ms status=error description=\"out of \\\"stock\\\"\" \
             trace_id=abababababababababababababababab span_id=0101010101010101 parent_id=none\n"
        );
        let mut out = String::new();
        Line {
            name: "two words".into(),
            duration: Duration::ZERO,
            status: LineStatus::Unset,
            trace_id: [0; 16],
            span_id: [0; 8],
            parent_id: Some([2; 8]),
        }
        .write(&mut out);
        assert!(out.starts_with("span name=\"two words\" duration=0.000ms status=unset "));
        assert!(out.ends_with("parent_id=0202020202020202\n"));
    }
}
