//! Seed 000: VIKI, the voice assistant: requests, skills and cortex layers.

use std::collections::BTreeMap;

use crate::harness::{
    families, label_names, label_values, logs_in_traces, plus, set, start, traces, tree, value,
};

/// Seed 000: VIKI, 20 requests.
#[test]
#[allow(clippy::too_many_lines)] // one plan, read top to bottom
fn seed_viki() {
    let run = start("seed_viki", &[("VIKI_REQUESTS", "20")]);
    run.wait_for_line("workload done: 20 requests, 14 answered");
    let page = run.page();
    let m = [("function", "process_request"), ("module", "seed_viki")];

    assert_eq!(
        families(&page, "viki_"),
        [
            ("viki_active_requests", "gauge"),
            ("viki_cortex_layer_duration_seconds", "histogram"),
            ("viki_request_duration_seconds", "histogram"),
            ("viki_requests_total", "counter"),
            ("viki_skill_duration_seconds", "histogram"),
            ("viki_skill_executions_total", "counter"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect()
    );
    assert!(
        page.text()
            .contains("# HELP viki_requests_total Total number of requests\n")
    );
    // Per 10 requests: 7 answered, 1 blocked, 2 errors (a failed and a timed-out skill).
    assert_eq!(
        label_values(&page, "viki_requests_total", "status"),
        set(&["blocked", "error", "success"])
    );
    let requests = |status: &str| {
        value(
            &page,
            "viki_requests_total",
            &plus(&m, &[("status", status)]),
        )
    };
    assert_eq!(requests("success"), 14);
    assert_eq!(requests("error"), 4);
    assert_eq!(requests("blocked"), 2);
    // The plan's buckets; the two slow requests (150 ms) are over 0.1 s.
    let bucket = |le: &str| {
        value(
            &page,
            "viki_request_duration_seconds_bucket",
            &plus(&m, &[("status", "success"), ("le", le)]),
        )
    };
    assert_eq!(bucket("0.1"), 12);
    assert_eq!(bucket("0.5"), 14);
    assert_eq!(bucket("10"), 14);
    assert!(page.text().contains(r#"viki_request_duration_seconds_bucket{function="process_request",module="seed_viki",status="success",le="2"}"#));
    assert_eq!(value(&page, "viki_active_requests", &m), 0);

    // Skills: success and error only, as in the plan (the smart home timeouts read `error`).
    assert_eq!(
        label_names(&page, "viki_skill_executions_total"),
        set(&["function", "module", "skill_name", "status"])
    );
    assert_eq!(
        label_values(&page, "viki_skill_executions_total", "status"),
        set(&["error", "success"])
    );
    let skill = |name: &str, status: &str| {
        value(
            &page,
            "viki_skill_executions_total",
            &[
                ("function", "execute_skill"),
                ("module", "seed_viki"),
                ("skill_name", name),
                ("status", status),
            ],
        )
    };
    for (name, ok, failed) in [
        ("weather", 6, 0),
        ("timer", 4, 0),
        ("web_search", 2, 2),
        ("smart_home", 2, 2),
    ] {
        assert_eq!(skill(name, "success"), ok, "{name}");
        assert_eq!(skill(name, "error"), failed, "{name}");
    }
    let weather = [
        ("function", "execute_skill"),
        ("module", "seed_viki"),
        ("skill_name", "weather"),
        ("status", "success"),
    ];
    assert_eq!(
        value(
            &page,
            "viki_skill_duration_seconds_bucket",
            &plus(&weather, &[("le", "0.1")])
        ),
        4,
        "the two detailed forecasts take 150 ms"
    );
    assert_eq!(
        value(
            &page,
            "viki_skill_duration_seconds_bucket",
            &plus(&weather, &[("le", "5")])
        ),
        6
    );

    // Cortex layers: one family, `layer_name` from each layer's attribute.
    let layer = |name: &str, status: &str| {
        value(
            &page,
            "viki_cortex_layer_duration_seconds_count",
            &[
                ("function", name),
                ("module", "seed_viki"),
                ("layer_name", name),
                ("status", status),
            ],
        )
    };
    assert_eq!(layer("reflex", "success"), 18);
    assert_eq!(layer("reflex", "blocked"), 2);
    assert_eq!(layer("cognition", "success"), 14);
    assert_eq!(layer("cognition", "error"), 4);
    assert_eq!(layer("synthesis", "success"), 14);

    // The objectives' alerts count failures as what is not `success`.
    run.check_dashboard();
    let rules = run.rules();
    assert!(
        rules.contains(r#"rate(viki_requests_total{status!="success"}[1h])"#),
        "{rules}"
    );
    assert!(rules.contains("alert: ObsErrorBudgetFastBurn"), "{rules}");
    assert!(rules.contains("alert: ObsLatencyBudgetFastBurn"), "{rules}");

    // One trace per request: the layers under the request, the skill under cognition.
    let spans = run.spans(90);
    assert_eq!(spans.len(), 90);
    let traces = traces(&spans);
    assert_eq!(traces.len(), 20, "{spans:#?}");
    let shapes: BTreeMap<Vec<String>, usize> =
        traces.values().fold(BTreeMap::new(), |mut all, trace| {
            *all.entry(tree(trace)).or_default() += 1;
            all
        });
    let answered = vec![
        "cognition < process_request".to_owned(),
        "execute_skill < cognition".to_owned(),
        "process_request < root".to_owned(),
        "reflex < process_request".to_owned(),
        "synthesis < process_request".to_owned(),
    ];
    assert_eq!(shapes.get(&answered), Some(&14), "{shapes:#?}");
    let blocked = vec![
        "process_request < root".to_owned(),
        "reflex < process_request".to_owned(),
    ];
    assert_eq!(shapes.get(&blocked), Some(&2), "{shapes:#?}");
    let failed_requests = spans
        .iter()
        .filter(|s| s.name == "process_request" && s.status == "error")
        .count();
    assert_eq!(
        failed_requests, 6,
        "errors and blocked requests mark their span"
    );

    // Logs carry the request's trace id; skill failures are logged inside their span.
    let failures = logs_in_traces(&run, &traces, "skill failed");
    assert_eq!(failures.len(), 4);
    for line in &failures {
        // The request's user and the skill, from the enclosing spans' fields.
        assert!(line["context"]["user_id"].is_string(), "{line}");
        assert_eq!(line["context"]["skill_name"], line["fields"]["skill"]);
    }
    assert!(
        failures
            .iter()
            .any(|l| l["fields"]["error"] == "timed out after 60ms"),
        "{failures:?}"
    );
    assert_eq!(logs_in_traces(&run, &traces, "request started").len(), 20);
}
