//! The console exporter (`OTEL_TRACES_EXPORTER=console`): one line per finished span on
//! standard output, so a developer sees traces with no backend.
//!
//! ```text
//! span name=Shop::reserve duration=0.153ms status=error description="sku 3 is out of stock" trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7 parent_id=a3ce929d0e0e4736
//! ```
//!
//! With the `otlp` feature the lines come from the OpenTelemetry pipeline (its ids, its
//! sampling). Without it, [`ConsoleLayer`] is a plain `tracing` layer that gives spans W3C-shaped
//! ids of its own and applies the configured sampler; either way lines are written by the
//! exporter thread, never by the thread that closed the span.

use core::fmt::Write as _;
use std::io::Write as _;
use std::time::Duration;

use super::ids::hex;
use super::pipeline::{Item, Sink};

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
    fn export(&mut self, batch: Vec<Item>, _timeout: Duration) -> Result<(), String> {
        let mut text = String::with_capacity(batch.len() * 160);
        for item in batch {
            to_line(item).write(&mut text);
        }
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| e.to_string())
    }

    fn target(&self) -> String {
        "standard output".into()
    }
}

#[cfg(not(feature = "otlp"))]
fn to_line(item: Item) -> Line {
    item
}

#[cfg(feature = "otlp")]
fn to_line(span: Item) -> Line {
    use opentelemetry::trace::{SpanId, Status};
    let duration = span
        .end_time
        .duration_since(span.start_time)
        .unwrap_or_default();
    let status = match span.status {
        Status::Unset => LineStatus::Unset,
        Status::Ok => LineStatus::Ok,
        Status::Error { description } => LineStatus::Error(description.into_owned()),
    };
    Line {
        name: span.name.into_owned(),
        duration,
        status,
        trace_id: span.span_context.trace_id().to_bytes(),
        span_id: span.span_context.span_id().to_bytes(),
        parent_id: (span.parent_span_id != SpanId::INVALID).then(|| span.parent_span_id.to_bytes()),
    }
}

#[cfg(not(feature = "otlp"))]
pub(crate) use layer::ConsoleLayer;

/// The console exporter as a plain `tracing` layer, for builds without the `otlp` feature.
#[cfg(not(feature = "otlp"))]
mod layer {
    use std::cell::Cell;
    use std::fmt;
    use std::time::Instant;

    use tracing::Subscriber;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::Context;
    use tracing_subscriber::registry::LookupSpan;

    use super::{Line, LineStatus};
    use crate::traces::ids::SpanIds;

    /// Gives each span ids, samples at the root, and hands finished sampled spans to the
    /// active pipeline.
    #[derive(Clone, Copy, Debug, Default)]
    pub(crate) struct ConsoleLayer;

    /// What an open span has gathered.
    struct Open {
        name: String,
        start: Instant,
        parent_id: Option<[u8; 8]>,
        status_code: Option<String>,
        description: Option<String>,
    }

    impl Visit for Open {
        fn record_str(&mut self, field: &Field, value: &str) {
            match field.name() {
                "otel.name" => value.clone_into(&mut self.name),
                "otel.status_code" => self.status_code = Some(value.to_owned()),
                "otel.status_description" => self.description = Some(value.to_owned()),
                _ => {}
            }
        }

        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            if field.name().starts_with("otel.") {
                self.record_str(field, &format!("{value:?}"));
            }
        }
    }

    impl<S> Layer<S> for ConsoleLayer
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
            let Some(span) = ctx.span(id) else { return };
            let parent = span
                .parent()
                .and_then(|p| p.extensions().get::<SpanIds>().copied());
            let trace_id = parent.map_or_else(random_trace_id, |p| p.trace_id);
            let sampled = crate::traces::pipeline::with_active(|pipeline| {
                pipeline.sampler.decide(parent.map(|p| p.sampled), trace_id)
            })
            .unwrap_or(false);
            let ids = SpanIds {
                trace_id,
                span_id: random_span_id(),
                sampled,
            };
            let mut open = Open {
                name: attrs.metadata().name().to_owned(),
                start: Instant::now(),
                parent_id: parent.map(|p| p.span_id),
                status_code: None,
                description: None,
            };
            attrs.record(&mut open);
            let mut extensions = span.extensions_mut();
            if extensions.get_mut::<SpanIds>().is_none() {
                extensions.insert(ids);
            }
            if extensions.get_mut::<Open>().is_none() {
                extensions.insert(open);
            }
        }

        fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
            if let Some(span) = ctx.span(id)
                && let Some(open) = span.extensions_mut().get_mut::<Open>()
            {
                values.record(open);
            }
        }

        fn on_close(&self, id: Id, ctx: Context<'_, S>) {
            let Some(span) = ctx.span(&id) else { return };
            let mut extensions = span.extensions_mut();
            let (Some(open), Some(ids)) = (
                extensions.remove::<Open>(),
                extensions.get_mut::<SpanIds>().copied(),
            ) else {
                return;
            };
            drop(extensions);
            if !ids.sampled {
                return;
            }
            let status = match open.status_code.as_deref() {
                Some(code) if code.eq_ignore_ascii_case("error") => {
                    LineStatus::Error(open.description.unwrap_or_default())
                }
                Some(code) if code.eq_ignore_ascii_case("ok") => LineStatus::Ok,
                _ => LineStatus::Unset,
            };
            crate::traces::pipeline::submit(Line {
                name: open.name,
                duration: open.start.elapsed(),
                status,
                trace_id: ids.trace_id,
                span_id: ids.span_id,
                parent_id: open.parent_id,
            });
        }
    }

    thread_local! {
        static STATE: Cell<u64> = Cell::new(seed());
    }

    /// A per-thread seed from the standard library's randomly keyed hasher.
    fn seed() -> u64 {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        hasher.finish()
    }

    /// `SplitMix64`: fast, and good enough for ids (not for secrets).
    fn next() -> u64 {
        STATE.with(|state| {
            let x = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
            state.set(x);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        })
    }

    fn random_trace_id() -> [u8; 16] {
        loop {
            let id = (u128::from(next()) << 64) | u128::from(next());
            if id != 0 {
                return id.to_be_bytes();
            }
        }
    }

    fn random_span_id() -> [u8; 8] {
        loop {
            let id = next();
            if id != 0 {
                return id.to_be_bytes();
            }
        }
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
