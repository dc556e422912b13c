//! The layer's families in the generated rules and dashboard: promtool checks them, and a
//! `promtool test rules` run shows the fast-burn alert firing for the one route that fails
//! (5xx), not for the one whose clients hang up (`cancelled` is not a failure).

mod common;

use std::fmt::Write as _;
use std::time::Duration;

use obs_runtime::catalog::Objective;
use obs_runtime::http::{ClientLayer, ServerLayer};
use tower::ServiceExt as _;

fn build_layer() {
    let layer = ServerLayer::new()
        .objective(Objective::success(99.9))
        .objective(Objective::latency(Duration::from_millis(250), 99.0));
    let _service = tower::Layer::layer(
        &layer,
        tower::service_fn(|_: http::Request<String>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        }),
    );
}

/// Runs promtool (required in CI) and asserts it is content.
fn promtool(args: &[&str]) {
    if let Some((ok, report)) = obs_testkit::promtool(args, None) {
        assert!(ok, "promtool {args:?}:\n{report}");
    }
}

const TEST: &str = r#"rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'http_server_request_duration_seconds_count{job="shop",http_request_method="GET",http_route="/a",http_response_status_code="200",error_type=""}'
        values: '0+90x180'
      - series: 'http_server_request_duration_seconds_count{job="shop",http_request_method="GET",http_route="/a",http_response_status_code="503",error_type="503"}'
        values: '0+10x180'
      - series: 'http_server_request_duration_seconds_count{job="shop",http_request_method="GET",http_route="/b",http_response_status_code="200",error_type=""}'
        values: '0+50x180'
      - series: 'http_server_request_duration_seconds_count{job="shop",http_request_method="GET",http_route="/b",http_response_status_code="200",error_type="cancelled"}'
        values: '0+50x180'
    alert_rule_test:
      - eval_time: 150m
        alertname: ObsErrorBudgetFastBurn
        exp_alerts:
          - exp_labels:
              severity: critical
              job: shop
              http_request_method: GET
              http_route: /a
            exp_annotations:
              summary: "http_server_request_duration_seconds GET /a burns its error budget 14.4x too fast (1h and 5m windows)"
              description: "Objective: 99.9% of calls succeed (declared on the HTTP layer). At this rate the budget of 0.1% is spent in 2.1 days of a 30-day window."
"#;

#[test]
fn layer_objectives_alert_per_route_and_pass_promtool() {
    build_layer();
    let yaml = obs_runtime::rules::rules_yaml();
    assert!(yaml.contains(r#"error_type!~"|cancelled""#), "{yaml}");
    assert!(
        yaml.contains("sum by (job, http_request_method, http_route, le)"),
        "{yaml}"
    );
    let dir = std::env::temp_dir().join(format!("obs-http-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rules.yml"), &yaml).unwrap();
    std::fs::write(dir.join("test.yml"), TEST).unwrap();
    promtool(&["check", "rules", dir.join("rules.yml").to_str().unwrap()]);
    promtool(&["test", "rules", dir.join("test.yml").to_str().unwrap()]);
}

/// The routes of `TEST` as `promtool test rules` input: native histograms (a protobuf scrape
/// with native histograms on) each minute, and if `classic_too`, their classic `_count` too.
/// All calls 0.1 s (bucket -26 at schema 3), the counts `TEST`'s.
fn native_input(classic_too: bool) -> String {
    let mut series = String::new();
    for (route, code, error, calls) in [
        ("/a", "200", "", 90),
        ("/a", "503", "503", 10),
        ("/b", "200", "", 50),
        ("/b", "200", "cancelled", 50),
    ] {
        let labels = format!(
            r#"job="shop",http_request_method="GET",http_route="{route}",http_response_status_code="{code}",error_type="{error}""#
        );
        let _ = write!(
            series,
            "      - series: 'http_server_request_duration_seconds{{{labels}}}'\n        values: '{{{{schema:3 count:0 sum:0}}}}+{{{{schema:3 count:{calls} sum:{sum} offset:-26 buckets:[{calls}]}}}}x180'\n",
            sum = f64::from(calls) / 10.0
        );
        if classic_too {
            let _ = write!(
                series,
                "      - series: 'http_server_request_duration_seconds_count{{{labels}}}'\n        values: '0+{calls}x180'\n"
            );
        }
    }
    series
}

/// The first query of the dashboard panel titled `title`, as Prometheus reads it: JSON's
/// escapes undone, Grafana's variables replaced as Grafana would (`$__rate_interval` by 5m).
fn panel_query(json: &str, title: &str) -> String {
    let at = json
        .find(&format!(r#""title":"{title}""#))
        .unwrap_or_else(|| panic!("no panel {title}: {json}"));
    let rest = &json[at..];
    let rest = &rest[rest.find(r#""expr":""#).unwrap() + 8..];
    grafana_expr(&rest[..rest.find(r#"","legendFormat""#).unwrap()], "5m")
}

/// A dashboard query's JSON text as Prometheus reads it, `$__rate_interval` as `window`.
fn grafana_expr(json: &str, window: &str) -> String {
    json.replace("\\\"", "\"")
        .replace("\\\\", "\\")
        .replace("$__rate_interval", window)
        .replace("$job", "shop")
        .replace("$function", ".*")
}

/// A Prometheus that scrapes native histograms may store no `_count` (2.42 to 2.44, 3.x
/// without `always_scrape_classic_histograms`): the layer's error ratios, the burn alert of
/// its success objective and the dashboard's request rate, error ratio and burn-rate panels
/// then read the native count, and with both stored they read one of them, once. Needs promtool 2.53 (`OBS_PROMTOOL_NATIVE`, which `.ci/run` sets) for the
/// native notation in `input_series`.
#[test]
fn layer_error_ratios_read_the_native_count_when_no_classic_one_is_stored() {
    build_layer();
    // /b has no failed call (`cancelled` is not one), so no ratio: as with `_count`. Rates:
    // /a 90 and 10 calls a minute, /b 100 (two error_type values, one status code).
    let json = obs_runtime::dashboard::dashboard_json();
    let family = "http_server_request_duration_seconds";
    let route = |r: &str| format!(r#"http_request_method="GET",http_route="{r}""#);
    let a = route("/a");
    let checks = [
        (
            format!("obs:{family}:error_ratio_rate1h"),
            vec![(format!(r#"job="shop",{a}"#), "0.1")],
        ),
        (
            panel_query(&json, &format!("Request rate: {family}")),
            vec![
                (format!(r#"{a},http_response_status_code="200""#), "1.5"),
                (format!(r#"{a},http_response_status_code="503""#), "0.167"),
                (
                    format!(r#"{},http_response_status_code="200""#, route("/b")),
                    "1.667",
                ),
            ],
        ),
        (
            panel_query(&json, &format!("Error ratio: {family}")),
            vec![(a.clone(), "0.1")],
        ),
        // The success objective's 1h burn: 0.1 / 0.001.
        (
            panel_query(&json, "Objective burn rate (1h)"),
            vec![(a.clone(), "100")],
        ),
    ];
    let mut expect = String::from("    promql_expr_test:\n");
    for (expr, samples) in &checks {
        let _ = write!(
            expect,
            "      - expr: 'round({}, 0.001)'\n        eval_time: 150m\n        exp_samples:\n",
            expr.replace('\'', "''")
        );
        for (labels, value) in samples {
            let _ = write!(
                expect,
                "          - labels: '{{{labels}}}'\n            value: {value}\n"
            );
        }
    }
    let alert = &TEST[TEST.find("    alert_rule_test:").unwrap()..];
    let mut test = String::from("rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n");
    for classic_too in [false, true] {
        let _ = write!(
            test,
            "  - interval: 1m\n    input_series:\n{}{expect}{alert}",
            native_input(classic_too)
        );
    }
    let dir = std::env::temp_dir().join(format!("obs-http-native-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rules.yml"), obs_runtime::rules::rules_yaml()).unwrap();
    std::fs::write(dir.join("test.yml"), &test).unwrap();
    let run = obs_testkit::native_promtool(
        &["test", "rules", dir.join("test.yml").to_str().unwrap()],
        None,
    );
    let _ = std::fs::remove_dir_all(&dir);
    if let Some((ok, report)) = run {
        assert!(ok, "{test}\n{report}");
    }
}

#[test]
fn the_dashboard_has_per_route_panels_whose_queries_parse() {
    build_layer();
    let json = obs_runtime::dashboard::dashboard_json();
    assert!(
        json.contains("Latency: http_server_request_duration_seconds"),
        "{json}"
    );
    assert!(
        json.contains("In flight: http_server_active_requests"),
        "{json}"
    );
    let mut file = String::from("groups:\n  - name: dashboard\n    rules:\n");
    let mut rest = json.as_str();
    let mut i = 0;
    while let Some(at) = rest.find(r#""expr":""#) {
        rest = &rest[at + 8..];
        let end = rest.find(r#"","legendFormat""#).unwrap();
        let expr = grafana_expr(&rest[..end], "1m");
        let _ = writeln!(
            file,
            "      - record: dashboard:q{i}\n        expr: '{}'",
            expr.replace('\'', "''")
        );
        i += 1;
    }
    assert!(i > 5);
    let path = std::env::temp_dir().join(format!("obs-http-dash-{}.yml", std::process::id()));
    std::fs::write(&path, file).unwrap();
    promtool(&["check", "rules", path.to_str().unwrap()]);
}

/// A regression: the gRPC family and its rules were registered with every server layer, so a
/// plain HTTP service's rules and dashboard carried `rpc_` groups for calls it never serves.
#[tokio::test]
async fn a_layer_that_served_only_http_puts_no_rpc_family_on_the_page_or_in_the_rules() {
    let answer = tower::service_fn(|_: http::Request<String>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    });
    let server = tower::Layer::layer(&ServerLayer::new(), answer);
    let client = tower::Layer::layer(&ClientLayer::new(), answer);
    for service in [server.boxed_clone(), client.boxed_clone()] {
        let request = http::Request::get("http://127.0.0.1/a").body(String::new());
        let response = service.oneshot(request.unwrap()).await.unwrap();
        drop(response); // a `String` body is at its end: the request completes here
    }
    let page = obs_runtime::render();
    assert!(
        page.contains("http_client_request_duration_seconds_count{"),
        "{page}"
    );
    for (what, text) in [
        ("page", page),
        ("rules", obs_runtime::rules::rules_yaml()),
        ("dashboard", obs_runtime::dashboard::dashboard_json()),
    ] {
        assert!(
            !text.contains("rpc_"),
            "the {what} has a gRPC family:\n{text}"
        );
    }
}
