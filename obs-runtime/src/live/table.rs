//! `GET /obs/`: one row per function and route, sortable by any column with links (no
//! script), then the recent failed and slowest traces.

use core::cmp::Ordering;
use core::fmt::Write as _;
use std::time::Instant;

use super::html::{chart, data, escape, foot, head, percent, seconds};
use super::rows::Row;
use super::window::{Stats, TICK, ratio, started, stats_all};
use crate::metrics::catalog::Objective;

/// The columns: the `sort` key of each and its header.
pub(crate) const COLUMNS: [(&str, &str); 13] = [
    ("function", "function / route"),
    ("calls_1m", "calls 1m"),
    ("rate_1m", "rate 1m"),
    ("errors_1m", "error ratio 1m"),
    ("calls", "calls"),
    ("rate", "rate"),
    ("errors", "error ratio"),
    ("p50", "p50 1m"),
    ("p95", "p95 1m"),
    ("p99", "p99 1m"),
    ("in_flight", "in flight"),
    ("budget", "error budget left"),
    ("chart", "15 min: rate, p99"),
];

/// The column and direction a query asks for: `?sort=p99&dir=desc`. Unknown keys are
/// ignored: the catalog's order, by module then function.
pub(crate) fn sort_of(query: Option<&str>) -> (&'static str, bool) {
    let (mut sort, mut desc) = ("function", false);
    for pair in query.unwrap_or_default().split('&') {
        match pair.split_once('=') {
            Some(("sort", key)) => {
                if let Some((k, _)) = COLUMNS.iter().find(|(k, _)| *k == key && *k != "chart") {
                    sort = k;
                }
            }
            Some(("dir", dir)) => desc = dir == "desc",
            _ => {}
        }
    }
    (sort, desc)
}

/// The least share of error budget left over the row's objectives.
fn least_budget(s: &Stats) -> Option<f64> {
    s.budgets
        .iter()
        .filter_map(|(_, left)| *left)
        .reduce(f64::min)
}

/// What a column sorts by (text for the name).
fn value(column: &str, s: &Stats) -> Option<f64> {
    #[allow(clippy::cast_precision_loss)]
    match column {
        "calls_1m" => Some(s.calls_1m as f64),
        "rate_1m" => Some(s.rate_1m),
        "errors_1m" => ratio(s.failures_1m, s.calls_1m),
        "calls" => Some(s.calls as f64),
        "rate" => Some(s.rate),
        "errors" => ratio(s.failures, s.calls),
        "p50" => s.p50,
        "p95" => s.p95,
        "p99" => s.p99,
        "in_flight" => s.in_flight.map(|v| v as f64),
        "budget" => least_budget(s),
        _ => None,
    }
}

/// The order of `rows` by `column`, as indices (moving the rows themselves took a tenth of a
/// page of 1,000); rows without a value go last either way.
pub(crate) fn order(rows: &[(Row, Stats)], column: &str, desc: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&left, &right| {
        let ((row_l, stats_l), (row_r, stats_r)) = (&rows[left], &rows[right]);
        if column == "function" {
            let by_name = (&row_l.route, &row_l.name, &row_l.module).cmp(&(
                &row_r.route,
                &row_r.name,
                &row_r.module,
            ));
            return if desc { by_name.reverse() } else { by_name };
        }
        match (value(column, stats_l), value(column, stats_r)) {
            (Some(l), Some(r)) => {
                let o = l.partial_cmp(&r).unwrap_or(Ordering::Equal);
                if desc { o.reverse() } else { o }
            }
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
    });
    order
}

/// Every row with its stats, read now.
pub(crate) fn read_all(now: Instant) -> Vec<(Row, Stats)> {
    stats_all(super::rows::current(), now)
}

fn cell(out: &mut String, column: &str, value: Option<f64>, text: &str) {
    let _ = write!(
        out,
        "<td data-col=\"{column}\" data-value=\"{}\">{text}</td>",
        data(value)
    );
}

fn objective(out: &mut String, o: &Objective, left: Option<f64>) {
    match o {
        Objective::Success { percent } => {
            let _ = write!(out, "success ≥ {percent}%");
        }
        Objective::Latency { threshold, percent } => {
            let _ = write!(out, "{percent}% ≤ {}", seconds(*threshold));
        }
    }
    let class = match left {
        Some(l) if l < 0.0 => "bad",
        Some(l) if l < 0.25 => "warn",
        Some(_) => "ok",
        None => "note",
    };
    let _ = write!(
        out,
        ": <span class=\"{class}\" data-budget=\"{}\">{}</span><br>",
        data(left),
        left.map_or_else(|| "no calls".into(), |l| format!("{:.0}% left", l * 100.0))
    );
}

fn row_html(out: &mut String, row: &Row, s: &Stats) {
    out.push_str("<tr data-function=\"");
    escape(out, &row.name);
    out.push_str("\" data-module=\"");
    escape(out, &row.module);
    out.push_str("\"><td class=\"name\"><b>");
    escape(out, &row.name);
    out.push_str("</b> <small>");
    escape(out, &row.module);
    out.push_str("</small>");
    for (k, v) in &row.labels {
        out.push_str(" <small class=\"labels\">");
        escape(out, k);
        out.push('=');
        escape(out, v);
        out.push_str("</small>");
    }
    out.push_str("</td>");
    let errors = |f, c| ratio(f, c);
    #[allow(clippy::cast_precision_loss)]
    {
        cell(
            out,
            "calls_1m",
            Some(s.calls_1m as f64),
            &s.calls_1m.to_string(),
        );
        cell(
            out,
            "rate_1m",
            Some(s.rate_1m),
            &format!("{:.2}/s", s.rate_1m),
        );
        let e1 = errors(s.failures_1m, s.calls_1m);
        cell(out, "errors_1m", e1, &percent(e1));
        cell(out, "calls", Some(s.calls as f64), &s.calls.to_string());
        cell(out, "rate", Some(s.rate), &format!("{:.2}/s", s.rate));
        let e = errors(s.failures, s.calls);
        cell(out, "errors", e, &percent(e));
    }
    for (column, q) in [("p50", s.p50), ("p95", s.p95), ("p99", s.p99)] {
        cell(out, column, q, &q.map_or_else(|| "—".into(), seconds));
    }
    #[allow(clippy::cast_precision_loss)]
    let in_flight = s.in_flight.map(|v| v as f64);
    let text = s.in_flight.map_or_else(|| "—".into(), |v| v.to_string());
    cell(out, "in_flight", in_flight, &text);
    let _ = write!(
        out,
        "<td data-col=\"budget\" data-value=\"{}\" class=\"kv\">",
        data(least_budget(s))
    );
    for (o, left) in &s.budgets {
        objective(out, o, *left);
    }
    out.push_str("</td><td data-col=\"chart\">");
    chart(out, &s.series);
    out.push_str("</td></tr>\n");
}

/// The whole page for `query` (`sort=…&dir=…`).
pub(crate) fn page(query: Option<&str>) -> String {
    let now = Instant::now();
    let rows = read_all(now);
    let (column, desc) = sort_of(query);
    let order = order(&rows, column, desc);
    render(&rows, &order, column, desc, now)
}

/// Renders `rows` in `order`, which is by `column`.
pub(crate) fn render(
    rows: &[(Row, Stats)],
    order: &[usize],
    column: &str,
    desc: bool,
    now: Instant,
) -> String {
    let mut out = String::with_capacity(4096 + rows.len() * 2560);
    let title = crate::page::service_name().map_or_else(|| "obs".into(), |s| format!("obs · {s}"));
    head(&mut out, &title, Some(TICK.as_secs()));
    let up = now.duration_since(started()).as_secs();
    let _ = write!(
        out,
        "<p class=\"note\">Up {up} s. The last minute (1m) and the 15-minute charts come from \
         snapshots obs's own thread takes every {} s; p50, p95 and p99 are interpolated within \
         the histogram's buckets; error budgets are over the last 15 minutes (since start, when \
         younger). This page refreshes every {} s; sort by a column with its header.</p>",
        TICK.as_secs(),
        TICK.as_secs()
    );
    out.push_str("\n<h2>Functions and routes</h2>\n<table id=\"functions\"><thead><tr>");
    for (key, header) in COLUMNS {
        let class = if key == "function" {
            " class=\"name\""
        } else {
            ""
        };
        if key == "chart" {
            let _ = write!(out, "<th{class}>{header}</th>");
            continue;
        }
        let next_desc = if key == column {
            !desc
        } else {
            key != "function"
        };
        let arrow = match (key == column, desc) {
            (true, true) => " ▼",
            (true, false) => " ▲",
            _ => "",
        };
        let dir = if next_desc { "desc" } else { "asc" };
        let _ = write!(
            out,
            "<th{class} data-sort=\"{key}\"><a href=\"/obs/?sort={key}&amp;dir={dir}\">{header}{arrow}</a></th>"
        );
    }
    out.push_str("</tr></thead><tbody>\n");
    for &i in order {
        let (row, s) = &rows[i];
        row_html(&mut out, row, s);
    }
    out.push_str("</tbody></table>\n");
    super::trace::lists(&mut out);
    foot(&mut out);
    out
}
