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
        let expr = rest[..end]
            .replace("\\\"", "\"")
            .replace("\\\\", "\\")
            .replace("$__rate_interval", "1m")
            .replace("$job", "shop")
            .replace("$function", ".*");
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
