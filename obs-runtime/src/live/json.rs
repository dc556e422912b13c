//! `GET /obs/functions.json`: the numbers of the page, for scripts.

use core::fmt::Write as _;
use std::time::Instant;

use super::rows::Row;
use super::window::{Stats, TICK, ratio, started};
use crate::json::write_string;
use crate::metrics::catalog::Objective;

/// A number, or `null` for none (and for what JSON cannot write).
fn number(out: &mut String, value: Option<f64>) {
    match value {
        Some(v) if v.is_finite() => {
            let _ = write!(out, "{v}");
        }
        _ => out.push_str("null"),
    }
}

fn row_json(out: &mut String, row: &Row, s: &Stats) {
    out.push_str("{\"function\":");
    write_string(out, &row.name);
    out.push_str(",\"module\":");
    write_string(out, &row.module);
    let kind = if row.route { "route" } else { "function" };
    let _ = write!(out, ",\"kind\":\"{kind}\",\"labels\":{{");
    for (i, (k, v)) in row.labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, k);
        out.push(':');
        write_string(out, v);
    }
    let _ = write!(
        out,
        "}},\"calls\":{},\"failures\":{},\"calls_1m\":{},\"failures_1m\":{},\"rate\":",
        s.calls, s.failures, s.calls_1m, s.failures_1m
    );
    number(out, Some(s.rate));
    out.push_str(",\"rate_1m\":");
    number(out, Some(s.rate_1m));
    out.push_str(",\"window_1m_seconds\":");
    number(out, Some(s.window_1m));
    out.push_str(",\"error_ratio\":");
    number(out, ratio(s.failures, s.calls));
    out.push_str(",\"error_ratio_1m\":");
    number(out, ratio(s.failures_1m, s.calls_1m));
    for (name, q) in [("p50_1m", s.p50), ("p95_1m", s.p95), ("p99_1m", s.p99)] {
        let _ = write!(out, ",\"{name}_seconds\":");
        number(out, q);
    }
    out.push_str(",\"in_flight\":");
    #[allow(clippy::cast_precision_loss)]
    number(out, s.in_flight.map(|v| v as f64));
    out.push_str(",\"objectives\":[");
    for (i, (o, left)) in s.budgets.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match o {
            Objective::Success { percent } => {
                let _ = write!(out, "{{\"success_percent\":{percent}");
            }
            Objective::Latency { threshold, percent } => {
                let _ = write!(
                    out,
                    "{{\"latency_seconds\":{threshold},\"latency_percent\":{percent}"
                );
            }
        }
        out.push_str(",\"budget_left\":");
        number(out, *left);
        out.push('}');
    }
    out.push_str("],\"series\":[");
    for (i, (rate, p99)) in s.series.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        number(out, Some(*rate));
        out.push(',');
        number(out, *p99);
        out.push(']');
    }
    out.push_str("]}");
}

/// The document: when it was read, the windows, then one object per row in the page's order.
pub(crate) fn functions_json() -> String {
    let now = Instant::now();
    let rows = super::table::read_all(now);
    let mut out = String::with_capacity(1024 + rows.len() * 1024);
    let _ = write!(
        out,
        "{{\"uptime_seconds\":{},\"tick_seconds\":{},\"budget_window_seconds\":{},\"functions\":[",
        now.duration_since(started()).as_secs_f64(),
        TICK.as_secs(),
        super::window::KEPT.as_secs()
    );
    for (i, (row, s)) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('\n');
        row_json(&mut out, row, s);
    }
    out.push_str("\n]}\n");
    out
}
