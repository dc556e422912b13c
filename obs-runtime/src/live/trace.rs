//! The traces on the page: the recent failed and the slowest, and `GET /obs/trace/{trace_id}`,
//! one trace's spans as a waterfall.

use core::fmt::Write as _;
use std::sync::RwLock;

use super::html::{escape, foot, head, seconds};
use crate::sync::{read, write};
use crate::traces::ids::to_hex;
use crate::traces::recent::{self, SpanView, TraceView};

/// `OBS_TRACE_URL`: where a trace id opens in the user's trace backend.
static TRACE_URL: RwLock<Option<String>> = RwLock::new(None);

/// Checks an `OBS_TRACE_URL` value: an `http://` or `https://` URL with `{trace_id}` in it.
pub(crate) fn check_trace_url(url: &str) -> Result<String, String> {
    let url = url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err("expected an http:// or https:// URL, e.g. \
                    http://localhost:16686/trace/{trace_id}"
            .into());
    }
    if !url.contains("{trace_id}") {
        return Err(
            "the URL must contain {trace_id}, which is replaced by the trace's id, e.g. \
                    http://localhost:16686/trace/{trace_id}"
                .into(),
        );
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the URL must not contain spaces or control characters".into());
    }
    Ok(url.to_owned())
}

/// Sets (or clears) the trace backend's URL.
pub(crate) fn set_trace_url(url: Option<String>) {
    *write(&TRACE_URL) = url;
}

fn backend_link(out: &mut String, trace_id: &str) {
    if let Some(url) = read(&TRACE_URL).as_deref() {
        out.push_str(" <a class=\"backend\" href=\"");
        escape(out, &url.replace("{trace_id}", trace_id));
        out.push_str("\">open in the trace backend</a>");
    }
}

fn error_of(t: &TraceView) -> Option<&str> {
    t.spans.iter().find_map(|s| s.error.as_deref())
}

fn list(out: &mut String, id: &str, title: &str, traces: &[TraceView]) {
    let _ = write!(out, "<h3>{title}</h3>");
    if traces.is_empty() {
        out.push_str("<p class=\"note\">none yet</p>");
        return;
    }
    let _ = write!(
        out,
        "<table id=\"{id}\"><thead><tr><th class=\"name\">trace</th><th>duration</th>\
         <th>spans</th><th class=\"name\">error</th></tr></thead><tbody>"
    );
    for t in traces {
        let hex = to_hex(&t.trace_id);
        let _ = write!(
            out,
            "<tr data-trace=\"{hex}\"><td class=\"name\"><a href=\"/obs/trace/{hex}\">"
        );
        escape(out, t.root().map_or("?", |s| &s.name));
        let _ = write!(out, "</a> <small><code>{hex}</code></small>");
        backend_link(out, &hex);
        #[allow(clippy::cast_precision_loss)]
        let duration = t.duration() as f64 / 1e9;
        let _ = write!(
            out,
            "</td><td>{}</td><td>{}</td><td class=\"name\">",
            seconds(duration),
            t.spans.len() + t.dropped
        );
        if let Some(e) = error_of(t) {
            out.push_str("<span class=\"bad\">");
            escape(out, e);
            out.push_str("</span>");
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</tbody></table>\n");
}

/// The traces section of the page.
pub(crate) fn lists(out: &mut String) {
    out.push_str("<h2>Recent traces</h2>\n");
    if !crate::traces::exporting() {
        out.push_str(
            "<p class=\"note\" id=\"no-exporter\">No trace exporter is running, so no span is \
             recorded and none is kept here. Set <code>OTEL_TRACES_EXPORTER=console</code> \
             (nothing to install) or <code>otlp</code> (the <code>otlp</code> feature): the \
             page then keeps the latest failed and the slowest of the spans the exporter \
             gets.</p>\n",
        );
        return;
    }
    let (failed, slow) = recent::lists();
    list(out, "failed-traces", "Failed", &failed);
    list(out, "slow-traces", "Slowest", &slow);
}

/// Parses a trace id of 32 hex digits.
fn parse_id(hex: &str) -> Option<[u8; 16]> {
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut id = [0u8; 16];
    for (i, byte) in id.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(id)
}

/// The spans in tree order, each with its depth: children under their parent, by start.
fn tree(spans: &[SpanView]) -> Vec<(usize, &SpanView)> {
    let ids: Vec<[u8; 8]> = spans.iter().map(|s| s.span_id).collect();
    let mut roots: Vec<&SpanView> = spans
        .iter()
        .filter(|s| s.parent.is_none_or(|p| !ids.contains(&p)))
        .collect();
    roots.sort_by_key(|s| s.start);
    let mut out = Vec::with_capacity(spans.len());
    let mut stack: Vec<(usize, &SpanView)> = roots.into_iter().rev().map(|s| (0, s)).collect();
    while let Some((depth, span)) = stack.pop() {
        out.push((depth, span));
        let mut children: Vec<&SpanView> = spans
            .iter()
            .filter(|s| s.parent == Some(span.span_id))
            .collect();
        children.sort_by_key(|s| std::cmp::Reverse(s.start));
        stack.extend(children.into_iter().map(|c| (depth + 1, c)));
    }
    out
}

fn fields(out: &mut String, fields: &[(&'static str, String)]) {
    for (k, v) in fields {
        out.push_str("<span class=\"attr\"><b>");
        escape(out, k);
        out.push_str("</b>=");
        escape(out, v);
        out.push_str("</span> ");
    }
}

/// `GET /obs/trace/{trace_id}`: `None` if the id is not one kept.
pub(crate) fn page(hex: &str) -> Option<String> {
    let trace = recent::get(&parse_id(hex)?)?;
    let hex = to_hex(&trace.trace_id);
    let mut out = String::with_capacity(4096 + trace.spans.len() * 1024);
    head(&mut out, &format!("trace {hex}"), None);
    let start = trace.spans.iter().map(|s| s.start).min().unwrap_or(0);
    let total = trace.duration().max(1);
    #[allow(clippy::cast_precision_loss)]
    let secs = |ns: u64| ns as f64 / 1e9;
    let _ = write!(
        out,
        "<p>Trace <code id=\"trace-id\">{hex}</code>, {} spans, {}.",
        trace.spans.len() + trace.dropped,
        seconds(secs(trace.duration()))
    );
    backend_link(&mut out, &hex);
    if trace.dropped > 0 {
        let _ = write!(
            out,
            " {} spans past the first {} are not kept.",
            trace.dropped,
            recent::MAX_SPANS
        );
    }
    out.push_str(
        "</p>\n<table id=\"spans\"><thead><tr><th class=\"name\">span</th><th>duration</th>\
         <th>status</th><th class=\"name\">waterfall</th></tr></thead><tbody>\n",
    );
    for (depth, span) in tree(&trace.spans) {
        let duration = span.end.saturating_sub(span.start);
        #[allow(clippy::cast_precision_loss)]
        let (left, width) = (
            span.start.saturating_sub(start) as f64 / total as f64 * 100.0,
            duration as f64 / total as f64 * 100.0,
        );
        let (status, class) = match (&span.error, span.ok) {
            (Some(_), _) => ("error", "bad"),
            (None, true) => ("ok", "ok"),
            (None, false) => ("unset", "note"),
        };
        let _ = write!(
            out,
            "<tr class=\"span\" data-span=\"{}\" data-status=\"{status}\"><td class=\"name\" \
             style=\"padding-left:{}em\">",
            to_hex(&span.span_id),
            0.5 + 1.2 * f64::from(u32::try_from(depth).unwrap_or(u32::MAX))
        );
        escape(&mut out, &span.name);
        let _ = write!(
            out,
            "</td><td>{}</td><td class=\"{class}\">{status}</td><td class=\"wf\"><div \
             class=\"bar{}\" style=\"margin-left:{left:.2}%;width:{width:.2}%\"></div></td></tr>",
            seconds(secs(duration)),
            if span.error.is_some() { " error" } else { "" }
        );
        out.push_str("\n<tr class=\"detail\"><td colspan=\"4\" class=\"kv\">");
        if let Some(e) = &span.error {
            out.push_str("<span class=\"bad error-message\">");
            escape(&mut out, e);
            out.push_str("</span> ");
        }
        fields(&mut out, &span.attributes);
        for event in &span.events {
            let _ = write!(
                out,
                "<br><span class=\"event\">+{} <b>",
                seconds(secs(event.time.saturating_sub(start)))
            );
            escape(&mut out, &event.name);
            out.push_str("</b></span> ");
            fields(&mut out, &event.fields);
        }
        if span.truncated {
            out.push_str(" <small>(cut)</small>");
        }
        out.push_str("</td></tr>\n");
    }
    out.push_str("</tbody></table>\n");
    foot(&mut out);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_urls_need_http_and_the_placeholder() {
        let jaeger = "http://localhost:16686/trace/{trace_id}";
        assert_eq!(check_trace_url(jaeger).as_deref(), Ok(jaeger));
        assert!(check_trace_url("https://x/{trace_id}?a=1").is_ok());
        assert!(check_trace_url("localhost:16686/trace/{trace_id}").is_err());
        assert!(check_trace_url("javascript:alert(1)//{trace_id}").is_err());
        assert!(check_trace_url("http://localhost:16686/trace/").is_err());
        assert!(check_trace_url("http://a b/{trace_id}").is_err());
    }

    #[test]
    fn ids_are_32_hex_digits() {
        assert_eq!(parse_id(&"ab".repeat(16)), Some([0xab; 16]));
        assert_eq!(parse_id("ab"), None);
        assert_eq!(parse_id(&"zz".repeat(16)), None);
    }
}
