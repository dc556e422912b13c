//! A Grafana dashboard generated from the catalog.
//!
//! Served at `/obs/dashboard.json`, returned by [`dashboard_json`], written to the file named
//! by `OBS_EXPORT_DASHBOARD` when [`init`](crate::init) runs. Import it in Grafana (Dashboards →
//! New → Import) and pick the Prometheus data source. Variables pick the data source, the
//! service (`job`) and the functions.
//!
//! Panels: request rate by status, error ratio, p50/p95/p99 latency, calls in flight, and for
//! each objective its error-budget burn rate (1 = spending the budget exactly over 30 days).
//!
//! The latency panels show exemplars (Prometheus needs `--enable-feature=exemplar-storage`):
//! a dot per stored exemplar, whose `trace_id` links to that trace in the trace data source the
//! `traces` variable names (`Tempo` or `Jaeger`, the names Grafana gives those data sources;
//! type another name or a uid for yours).
//!
//! ```
//! #[obs_runtime::counted]
//! fn ping() {}
//!
//! let json = obs_runtime::dashboard::dashboard_json();
//! assert!(json.starts_with('{') && json.contains(r#""title":"Request rate""#));
//! ```

use std::fmt::{self, Write as _};

use super::promql::{
    Calls, Success, bad_ratio_expr, calls_rate, entry_matchers, error_ratio_expr, family_by, num,
    status_groups,
};
use crate::json::write_string;
use crate::metrics::catalog::{self, Function, MetricKind, Objective};
use crate::metrics::site::{CALLS_FAMILY, DURATION_FAMILY, IN_FLIGHT_FAMILY};

/// A JSON value, enough for Grafana's model.
enum Json {
    Str(String),
    Num(f64),
    Bool(bool),
    Arr(Vec<Json>),
    Obj(Vec<(&'static str, Json)>),
}

fn s(text: impl Into<String>) -> Json {
    Json::Str(text.into())
}

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Json::Str(text) => {
                let mut literal = String::with_capacity(text.len() + 2);
                write_string(&mut literal, text);
                f.write_str(&literal)
            }
            Json::Num(n) if n.is_finite() => write!(f, "{n}"),
            Json::Num(_) => f.write_str("null"),
            Json::Bool(b) => write!(f, "{b}"),
            Json::Arr(items) => {
                f.write_char('[')?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_char(']')
            }
            Json::Obj(fields) => {
                f.write_char('{')?;
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write!(f, "{}:{value}", s(*key))?;
                }
                f.write_char('}')
            }
        }
    }
}

/// One panel's title, unit and queries (`(legend, PromQL)`), before layout.
pub struct Panel {
    /// The panel title.
    pub title: String,
    /// Grafana's unit id (`reqps`, `percentunit`, `s`, `short`).
    pub unit: &'static str,
    /// `(legend, PromQL)`; the PromQL uses `$job`, `$function` and `$__rate_interval`.
    pub queries: Vec<(String, String)>,
}

fn selector(extra: &str) -> String {
    format!("{{job=~\"$job\",function=~\"$function\"{extra}}}")
}

/// What a family's panels sum by: `function` and the labels the metric declares besides
/// `module` (`labels(route = ..)`), and the legend that names them.
fn by_and_legend(functions: &[Function], name: &str) -> (String, String) {
    let by: Vec<&str> = family_by(functions, name)
        .into_iter()
        .filter(|l| *l != "module")
        .collect();
    let legend: Vec<String> = by.iter().map(|l| format!("{{{{{l}}}}}")).collect();
    (by.join(", "), legend.join(" "))
}

/// The panels for `functions`, with their PromQL: the attributes' families by function, the
/// HTTP layer's by route.
pub fn panels_for(functions: &[Function]) -> Vec<Panel> {
    let (layers, functions): (Vec<Function>, Vec<Function>) = functions
        .iter()
        .cloned()
        .partition(|f| f.selector.is_empty());
    let mut panels = function_panels(&functions);
    panels.extend(layer_panels(&layers));
    let all: Vec<Function> = functions.into_iter().chain(layers).collect();
    panels.extend(burn_panel(&all));
    panels
}

/// The matcher of the `job` variable's series.
const JOB: &str = "job=~\"$job\"";

/// The panels of the HTTP layer's families: rate by status code, error ratio, latency and
/// requests in flight, per route.
fn layer_panels(layers: &[Function]) -> Vec<Panel> {
    let sel = "{job=~\"$job\"}";
    let mut panels = Vec::new();
    for f in layers {
        let Some(metric) = f.metrics.first() else {
            continue;
        };
        let name = metric.name;
        let by = metric.by.join(", ");
        let legend: Vec<String> = metric.by.iter().map(|l| format!("{{{{{l}}}}}")).collect();
        let legend = legend.join(" ");
        if metric.kind == MetricKind::Gauge {
            panels.push(Panel {
                title: format!("In flight: {name}"),
                unit: "short",
                queries: vec![(legend, format!("sum by ({by}) ({name}{sel})"))],
            });
            continue;
        }
        let code = if name.starts_with("rpc_") {
            "rpc_grpc_status_code"
        } else {
            "http_response_status_code"
        };
        panels.push(Panel {
            title: format!("Request rate: {name}"),
            unit: "reqps",
            queries: vec![(
                format!("{legend} {{{{{code}}}}}"),
                calls_rate(
                    Calls::Histogram(name),
                    &[JOB],
                    &format!("{by}, {code}"),
                    "$__rate_interval",
                ),
            )],
        });
        let groups = status_groups(layers, name);
        panels.push(Panel {
            title: format!("Error ratio: {name}"),
            unit: "percentunit",
            queries: vec![(
                legend.clone(),
                error_ratio_expr(
                    Calls::Histogram(name),
                    &groups,
                    JOB,
                    &by,
                    "$__rate_interval",
                ),
            )],
        });
        let queries = [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)]
            .into_iter()
            .map(|(label, q)| {
                (
                    format!("{legend} {label}"),
                    super::promql::quantile_expr(q, name, sel, &by, "$__rate_interval"),
                )
            })
            .collect();
        panels.push(Panel {
            title: format!("Latency: {name}"),
            unit: "s",
            queries,
        });
    }
    panels
}

/// The panels of the attributes' families.
#[allow(clippy::too_many_lines)] // one panel after another, each short
fn function_panels(functions: &[Function]) -> Vec<Panel> {
    let mut counters = Vec::new();
    let mut histograms = Vec::new();
    let mut gauges = Vec::new();
    for metric in functions.iter().flat_map(|f| &f.metrics) {
        let list = match metric.kind {
            MetricKind::Counter => &mut counters,
            MetricKind::Histogram => &mut histograms,
            MetricKind::Gauge => &mut gauges,
        };
        if !list.contains(&metric.name) {
            list.push(metric.name);
        }
    }
    let mut panels = Vec::new();
    for name in &counters {
        let sel = selector("");
        let (by, legend) = by_and_legend(functions, name);
        let groups = status_groups(functions, name);
        let status_labels: Vec<&str> = groups.iter().fold(Vec::new(), |mut all, (s, _)| {
            if !all.contains(&s.label.name()) {
                all.push(s.label.name());
            }
            all
        });
        let legend_status: Vec<String> = status_labels
            .iter()
            .map(|l| format!("{{{{{l}}}}}"))
            .collect();
        panels.push(Panel {
            title: if *name == CALLS_FAMILY {
                "Request rate".into()
            } else {
                format!("Rate of {name}")
            },
            unit: "reqps",
            queries: vec![(
                format!("{legend} {}", legend_status.join(" ")),
                format!(
                    "sum by ({by}, {}) (rate({name}{sel}[$__rate_interval]))",
                    status_labels.join(", ")
                ),
            )],
        });
        panels.push(Panel {
            title: if *name == CALLS_FAMILY {
                "Error ratio".into()
            } else {
                format!("Error ratio of {name}")
            },
            unit: "percentunit",
            queries: vec![(
                legend.clone(),
                error_ratio_expr(
                    Calls::Counter(name),
                    &groups,
                    "job=~\"$job\",function=~\"$function\"",
                    &by,
                    "$__rate_interval",
                ),
            )],
        });
    }
    for name in &histograms {
        let sel = selector("");
        let (by, legend) = by_and_legend(functions, name);
        let queries = [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)]
            .into_iter()
            .map(|(label, q)| {
                (
                    format!("{legend} {label}"),
                    super::promql::quantile_expr(q, name, &sel, &by, "$__rate_interval"),
                )
            })
            .collect();
        let title = if *name == DURATION_FAMILY {
            "Latency".into()
        } else {
            format!("Latency of {name}")
        };
        panels.push(Panel {
            title,
            unit: "s",
            queries,
        });
    }
    for name in &gauges {
        let title = if *name == IN_FLIGHT_FAMILY {
            "In flight".into()
        } else {
            (*name).to_owned()
        };
        panels.push(Panel {
            title,
            unit: "short",
            queries: vec![(
                "{{function}}".into(),
                format!("sum by (function) ({name}{})", selector("")),
            )],
        });
    }
    panels
}

/// One panel with the 1h burn rate of every objective, if there is any.
fn burn_panel(functions: &[Function]) -> Option<Panel> {
    let mut burns = Vec::new();
    for f in functions {
        for metric in &f.metrics {
            let Some(objective) = metric.objective else {
                continue;
            };
            let matchers = entry_matchers(f);
            let selector = if matchers.is_empty() {
                "job=~\"$job\"".to_owned()
            } else {
                format!("job=~\"$job\",{matchers}")
            };
            let by = if f.selector.is_empty() {
                metric.by.join(", ")
            } else {
                "function".to_owned()
            };
            let who = if f.selector.is_empty() {
                let labels: Vec<String> =
                    metric.by.iter().map(|l| format!("{{{{{l}}}}}")).collect();
                labels.join(" ")
            } else {
                f.function.clone()
            };
            let legend = match objective {
                Objective::Success { percent } => format!("{who} success {percent}%"),
                Objective::Latency { threshold, percent } => {
                    format!("{who} {percent}% under {threshold}s")
                }
            };
            // A success objective on a histogram (the HTTP layer's) counts its observations.
            let calls = if metric.kind == MetricKind::Histogram {
                Calls::Histogram(metric.name)
            } else {
                Calls::Counter(metric.name)
            };
            let ratio =
                bad_ratio_expr(calls, objective, &Success::of(metric), &selector, &by, "1h");
            burns.push((legend, format!("({ratio}) / {}", num(objective.budget()))));
        }
    }
    (!burns.is_empty()).then(|| Panel {
        title: "Objective burn rate (1h)".into(),
        unit: "short",
        queries: burns,
    })
}

/// The data source reference every panel and variable uses: the `datasource` variable.
fn datasource() -> Json {
    Json::Obj(vec![("type", s("prometheus")), ("uid", s("${datasource}"))])
}

/// The latency panels (the ones in seconds) show exemplars.
fn shows_exemplars(panel: &Panel) -> bool {
    panel.unit == "s"
}

/// A link on an exemplar's `trace_id` to that trace, in Grafana's Explore on the data source
/// the `traces` variable names. The query is the trace id: what Tempo's `TraceQL` editor and
/// Jaeger's trace-id lookup both take.
fn trace_link() -> Json {
    let explore = r#"/explore?left={"datasource":"${traces}","queries":[{"refId":"A","queryType":"traceql","query":"${__value.raw}"}],"range":{"from":"now-1h","to":"now"}}"#;
    let link = Json::Obj(vec![
        ("title", s("Open trace ${__value.raw}")),
        ("url", s(explore)),
        ("targetBlank", Json::Bool(false)),
    ]);
    Json::Obj(vec![
        (
            "matcher",
            Json::Obj(vec![("id", s("byName")), ("options", s("trace_id"))]),
        ),
        (
            "properties",
            Json::Arr(vec![Json::Obj(vec![
                ("id", s("links")),
                ("value", Json::Arr(vec![link])),
            ])]),
        ),
    ])
}

/// Panel number `i` (from 0), laid out two to a row.
fn panel_json(i: usize, panel: Panel) -> Json {
    let exemplars = shows_exemplars(&panel);
    #[allow(clippy::cast_precision_loss)]
    let (x, y, id) = ((i % 2) as f64 * 12.0, (i / 2) as f64 * 8.0, (i + 1) as f64);
    let targets = panel
        .queries
        .into_iter()
        .enumerate()
        .map(|(j, (legend, expr))| {
            let ref_id = char::from(b'A' + u8::try_from(j % 26).unwrap_or(0)).to_string();
            Json::Obj(vec![
                ("datasource", datasource()),
                ("expr", s(expr)),
                ("legendFormat", s(legend)),
                ("refId", s(ref_id)),
                ("exemplar", Json::Bool(exemplars)),
            ])
        })
        .collect();
    let grid = Json::Obj(vec![
        ("h", Json::Num(8.0)),
        ("w", Json::Num(12.0)),
        ("x", Json::Num(x)),
        ("y", Json::Num(y)),
    ]);
    let field_config = Json::Obj(vec![
        ("defaults", Json::Obj(vec![("unit", s(panel.unit))])),
        (
            "overrides",
            Json::Arr(exemplars.then(trace_link).into_iter().collect()),
        ),
    ]);
    Json::Obj(vec![
        ("id", Json::Num(id)),
        ("type", s("timeseries")),
        ("title", s(panel.title)),
        ("datasource", datasource()),
        ("gridPos", grid),
        ("fieldConfig", field_config),
        ("targets", Json::Arr(targets)),
    ])
}

/// The trace data source exemplars link to: `Tempo` or `Jaeger`, or any name or uid typed in.
fn traces_var() -> Json {
    let option = |name: &str, selected: bool| {
        Json::Obj(vec![
            ("text", s(name)),
            ("value", s(name)),
            ("selected", Json::Bool(selected)),
        ])
    };
    Json::Obj(vec![
        ("name", s("traces")),
        ("label", s("Trace data source")),
        ("type", s("custom")),
        ("query", s("Tempo,Jaeger")),
        ("allowCustomValue", Json::Bool(true)),
        (
            "current",
            Json::Obj(vec![("text", s("Tempo")), ("value", s("Tempo"))]),
        ),
        (
            "options",
            Json::Arr(vec![option("Tempo", true), option("Jaeger", false)]),
        ),
    ])
}

/// The dashboard for every instrumented function of this program, as Grafana JSON.
pub fn dashboard_json() -> String {
    dashboard_for(&catalog::functions())
}

/// The dashboard for `functions` (see [`dashboard_json`]).
pub fn dashboard_for(functions: &[Function]) -> String {
    let panels = panels_for(functions)
        .into_iter()
        .enumerate()
        .map(|(i, p)| panel_json(i, p))
        .collect();
    let ds = datasource;
    let query_var = |name: &'static str, label: &'static str, query: &str| {
        Json::Obj(vec![
            ("name", s(name)),
            ("label", s(label)),
            ("type", s("query")),
            ("datasource", ds()),
            (
                "query",
                Json::Obj(vec![("query", s(query)), ("refId", s(name))]),
            ),
            ("definition", s(query)),
            ("refresh", Json::Num(2.0)),
            ("includeAll", Json::Bool(true)),
            ("multi", Json::Bool(true)),
            ("allValue", s(".*")),
            (
                "current",
                Json::Obj(vec![("text", s("All")), ("value", s("$__all"))]),
            ),
        ])
    };
    let dashboard = Json::Obj(vec![
        ("title", s("obs: instrumented functions")),
        ("uid", s("obs-functions")),
        ("tags", Json::Arr(vec![s("obs")])),
        ("schemaVersion", Json::Num(39.0)),
        ("editable", Json::Bool(true)),
        (
            "time",
            Json::Obj(vec![("from", s("now-1h")), ("to", s("now"))]),
        ),
        ("refresh", s("30s")),
        (
            "templating",
            Json::Obj(vec![(
                "list",
                Json::Arr(vec![
                    Json::Obj(vec![
                        ("name", s("datasource")),
                        ("label", s("Data source")),
                        ("type", s("datasource")),
                        ("query", s("prometheus")),
                    ]),
                    query_var("job", "Service", "label_values(function_calls_total, job)"),
                    query_var(
                        "function",
                        "Function",
                        "label_values(function_calls_total{job=~\"$job\"}, function)",
                    ),
                    traces_var(),
                ]),
            )]),
        ),
        ("panels", Json::Arr(panels)),
    ]);
    dashboard.to_string()
}
