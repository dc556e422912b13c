//! Generated Prometheus rules and Grafana dashboard: promtool validates them, and a committed
//! `promtool test rules` file shows the fast-burn alert firing on a 10 % error series and
//! staying silent on a healthy one. `tests/rules/native.test.yml` (promtool 2.53, named by
//! `OBS_PROMTOOL_NATIVE`) feeds the latency rules and the dashboard's queries the same calls
//! as classic buckets, a native histogram, and both.
//!
//! The generated rule file is committed as `tests/rules/obs.rules.yml` so a change to it shows
//! in review; `OBS_BLESS=1 cargo test --test rules` rewrites it.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use obs_runtime::catalog::{self, MetricKind, Objective};
use obs_runtime::{counted, in_flight, timed};

/// The service the rules are tested on.
pub mod shop {
    use super::{counted, in_flight, timed};

    /// Has both objectives.
    #[counted(objective(success = 99.9))]
    #[timed(buckets = [0.05, 0.1, 0.25, 0.5, 1.0], objective(latency = "250ms", percentile = 99))]
    #[in_flight]
    pub fn checkout() {}

    /// Has none.
    #[counted]
    pub fn browse() {}
}

#[test]
fn the_catalog_lists_functions_before_any_call_with_their_objectives() {
    let functions = catalog::functions();
    let checkout = functions
        .iter()
        .find(|f| f.function == "checkout")
        .expect("checkout listed");
    assert_eq!(checkout.module, "rules::shop");
    assert_eq!(checkout.qualified, "rules::shop::checkout");
    assert!(checkout.file.ends_with("rules.rs"));
    let kinds: Vec<_> = checkout.metrics.iter().map(|m| (m.kind, m.name)).collect();
    assert_eq!(
        kinds,
        [
            (MetricKind::Gauge, "function_calls_in_flight"),
            (MetricKind::Counter, "function_calls_total"),
            (MetricKind::Histogram, "function_duration_seconds"),
        ]
    );
    assert_eq!(
        checkout.metrics[1].objective,
        Some(Objective::Success { percent: 99.9 })
    );
    assert_eq!(
        checkout.metrics[2].objective,
        Some(Objective::Latency {
            threshold: 0.25,
            percent: 99.0
        })
    );
    assert_eq!(
        checkout.metrics[2].buckets.as_deref(),
        Some(&[0.05, 0.1, 0.25, 0.5, 1.0][..])
    );
}

#[test]
fn generated_rules_match_the_committed_file_and_pass_promtool() {
    let yaml = obs_runtime::rules::rules_yaml();
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules/obs.rules.yml");
    if std::env::var_os("OBS_BLESS").is_some() {
        std::fs::write(&committed, &yaml).unwrap();
    }
    let on_disk = std::fs::read_to_string(&committed).unwrap_or_default();
    assert_eq!(
        on_disk, yaml,
        "the generated rules changed: review, then OBS_BLESS=1 cargo test --test rules"
    );

    let dir = tempdir();
    std::fs::write(dir.join("obs.rules.yml"), &yaml).unwrap();
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules/burn.test.yml");
    std::fs::copy(&tests, dir.join("burn.test.yml")).unwrap();
    let rules = dir.join("obs.rules.yml");
    if let Some((ok, report)) = common::promtool(&["check", "rules", rules.to_str().unwrap()], None)
    {
        assert!(ok, "promtool check rules:\n{report}");
        assert!(report.contains("SUCCESS"), "{report}");
    }
    let test = dir.join("burn.test.yml");
    if let Some((ok, report)) = common::promtool(&["test", "rules", test.to_str().unwrap()], None) {
        assert!(ok, "promtool test rules:\n{report}");
    }
}

/// The p50 and p99 rules, the dashboard's latency and burn-rate queries and the latency
/// fast-burn alert, fed the same calls as classic buckets only, a native histogram only, and
/// both: the hand-computed values of `tests/rules/native.test.yml`, the native ones when both
/// are stored.
#[test]
fn latency_rules_and_panels_answer_with_classic_native_or_both_stored() {
    // promtool 2.42 cannot write a native histogram in `input_series`: 2.53 can.
    let json: serde_json::Value =
        serde_json::from_str(&obs_runtime::dashboard::dashboard_json()).expect("valid JSON");
    let dir = tempdir();
    std::fs::write(dir.join("obs.rules.yml"), obs_runtime::rules::rules_yaml()).unwrap();
    std::fs::write(
        dir.join("dashboard.rules.yml"),
        dashboard_rules(&json, "5m"),
    )
    .unwrap();
    let alerts = alert_values(&obs_runtime::rules::rules_yaml());
    std::fs::write(dir.join("alerts.rules.yml"), alerts).unwrap();
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules/native.test.yml");
    std::fs::copy(&tests, dir.join("native.test.yml")).unwrap();
    let test = dir.join("native.test.yml");
    if let Some((ok, report)) =
        common::native_promtool(&["test", "rules", test.to_str().unwrap()], None)
    {
        assert!(ok, "promtool test rules native.test.yml:\n{report}");
    }
}

#[test]
fn the_latency_panels_show_exemplars_that_link_to_the_chosen_trace_data_source() {
    let json: serde_json::Value =
        serde_json::from_str(&obs_runtime::dashboard::dashboard_json()).expect("valid JSON");
    let traces = json["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "traces")
        .expect("a traces variable");
    assert_eq!(traces["query"], "Tempo,Jaeger");
    for panel in json["panels"].as_array().unwrap() {
        let latency = panel["title"].as_str().unwrap().starts_with("Latency");
        for target in panel["targets"].as_array().unwrap() {
            assert_eq!(target["exemplar"], latency, "{panel}");
        }
        let overrides = panel["fieldConfig"]["overrides"].as_array().unwrap();
        if !latency {
            assert!(overrides.is_empty(), "{panel}");
            continue;
        }
        let link = &overrides[0];
        assert_eq!(link["matcher"]["options"], "trace_id");
        let url = link["properties"][0]["value"][0]["url"].as_str().unwrap();
        assert!(url.starts_with("/explore?left="), "{url}");
        let left: serde_json::Value =
            serde_json::from_str(url.trim_start_matches("/explore?left=")).unwrap();
        assert_eq!(left["datasource"], "${traces}");
        assert_eq!(left["queries"][0]["query"], "${__value.raw}");
    }
}

#[test]
fn the_dashboard_is_grafana_json_and_every_query_passes_promtool() {
    let json: serde_json::Value =
        serde_json::from_str(&obs_runtime::dashboard::dashboard_json()).expect("valid JSON");
    let variables: Vec<&str> = json["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(variables, ["datasource", "job", "function", "traces"]);
    let panels = json["panels"].as_array().unwrap();
    let titles: Vec<&str> = panels
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    for wanted in [
        "Request rate",
        "Error ratio",
        "Latency",
        "In flight",
        "Objective burn rate (1h)",
    ] {
        assert!(titles.contains(&wanted), "{wanted} missing from {titles:?}");
    }
    let exprs: Vec<String> = panels
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap())
        .map(|t| t["expr"].as_str().unwrap().to_owned())
        .collect();
    assert!(exprs.iter().any(|e| e.contains("histogram_quantile(0.99")));
    assert!(
        exprs
            .iter()
            .any(|e| e.contains(r#"function="checkout""#) && e.contains("/ 0.001")),
        "{exprs:?}"
    );

    // promtool has no dashboard check: each query becomes a recording rule.
    let file = dashboard_rules(&json, "1m");
    let dir = tempdir();
    let path = dir.join("dashboard.rules.yml");
    std::fs::write(&path, file).unwrap();
    if let Some((ok, report)) = common::promtool(&["check", "rules", path.to_str().unwrap()], None)
    {
        assert!(ok, "a dashboard query does not parse:\n{report}");
    }
}

/// Every query of `dashboard` (its JSON) as a recording rule named
/// `dashboard:<panel title>:<legend>` (lower case, runs of other characters as `_`), with
/// Grafana's variables replaced as Grafana would: `$__rate_interval` by `window`, `$job` by
/// `shop`, `$function` by `.*`.
fn dashboard_rules(dashboard: &serde_json::Value, window: &str) -> String {
    let mut file = String::from("groups:\n  - name: dashboard\n    rules:\n");
    let mut names = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let name = format!(
                "dashboard:{}:{}",
                slug(panel["title"].as_str().unwrap()),
                slug(target["legendFormat"].as_str().unwrap_or_default())
            );
            assert!(!names.contains(&name), "two queries named {name}");
            let concrete = target["expr"]
                .as_str()
                .unwrap()
                .replace("$__rate_interval", window)
                .replace("$job", "shop")
                .replace("$function", ".*");
            let _ = write!(
                file,
                "      - record: {name}\n        expr: {}\n",
                serde_json::to_string(&concrete).unwrap()
            );
            names.push(name);
        }
    }
    file
}

/// Every alert of the generated rule file `yaml` as a recording rule named `alert:<its name>`,
/// so a test can read its expression's value (an alert's `A > x and B > x` is A's value where
/// it fires, nothing where it does not).
fn alert_values(yaml: &str) -> String {
    let mut file = String::from("groups:\n  - name: alerts\n    rules:\n");
    let mut lines = yaml.lines();
    while let Some(line) = lines.next() {
        if let Some(name) = line.trim_start().strip_prefix("- alert: ") {
            let expr = lines.next().unwrap().trim_start();
            assert!(expr.starts_with("expr: "), "{name}: {expr}");
            let _ = writeln!(file, "      - record: alert:{name}\n        {expr}");
        }
    }
    file
}

/// `text` as a metric name's part: lower case, each run of other characters one `_`.
fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_owned()
}

/// A fresh directory under the target dir, per test.
fn tempdir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "obs-rules-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
