//! Seed 002: sixseven, commands that start background jobs.

use std::collections::BTreeSet;

use crate::harness::{
    families, label_names, label_values, logs_in_traces, plus, set, start, traces, tree, value,
};

/// Seed 002: sixseven, 20 commands.
#[test]
#[allow(clippy::too_many_lines)] // one plan, read top to bottom
fn seed_sixseven() {
    let run = start("seed_sixseven", &[("SIXSEVEN_COMMANDS", "20")]);
    run.wait_for_line("workload done: 20 commands, 12 jobs succeeded");
    let page = run.page();

    for (name, kind) in [
        ("sixseven_commands_total", "counter"),
        ("sixseven_job_duration_seconds", "histogram"),
        ("sixseven_active_jobs", "gauge"),
        ("sixseven_api_latency_seconds", "histogram"),
        ("sixseven_external_api_calls_total", "counter"),
        ("sixseven_external_api_latency_seconds", "histogram"),
    ] {
        assert_eq!(
            families(&page, name).get(name).map(String::as_str),
            Some(kind),
            "{name}"
        );
    }

    // The plan's command statuses: `created` when the job is, then `succeeded` or `failed`.
    assert_eq!(
        label_names(&page, "sixseven_commands_total"),
        set(&["function", "intent", "module", "status"])
    );
    assert_eq!(
        label_values(&page, "sixseven_commands_total", "status"),
        set(&["created", "failed", "succeeded"])
    );
    let commands = |function: &str, intent: &str, status: &str| {
        value(
            &page,
            "sixseven_commands_total",
            &[
                ("function", function),
                ("module", "seed_sixseven"),
                ("intent", intent),
                ("status", status),
            ],
        )
    };
    assert_eq!(commands("Api::create_job", "research", "created"), 10);
    assert_eq!(commands("Api::create_job", "creative", "created"), 6);
    assert_eq!(commands("run_job", "research", "succeeded"), 8);
    assert_eq!(commands("run_job", "research", "failed"), 2);
    assert_eq!(commands("run_job", "creative", "succeeded"), 4);
    assert_eq!(commands("run_job", "creative", "failed"), 2);

    assert_eq!(
        label_names(&page, "sixseven_job_duration_seconds"),
        set(&["function", "job_type", "module", "status"])
    );
    let research_ok = [
        ("function", "run_job"),
        ("module", "seed_sixseven"),
        ("job_type", "research"),
        ("status", "succeeded"),
    ];
    assert_eq!(
        value(
            &page,
            "sixseven_job_duration_seconds_bucket",
            &plus(&research_ok, &[("le", "0.1")])
        ),
        6,
        "the two battery researches poll four times, 30 ms each"
    );
    assert_eq!(
        value(&page, "sixseven_job_duration_seconds_count", &research_ok),
        8
    );
    for job_type in ["research", "creative"] {
        let labels = [
            ("function", "run_job"),
            ("module", "seed_sixseven"),
            ("job_type", job_type),
        ];
        assert_eq!(value(&page, "sixseven_active_jobs", &labels), 0);
    }

    // The API's latency by endpoint, method and HTTP status code.
    assert_eq!(
        label_names(&page, "sixseven_api_latency_seconds"),
        set(&["endpoint", "function", "method", "module", "status_code"])
    );
    let api = |function: &str, endpoint: &str, method: &str, code: &str| {
        value(
            &page,
            "sixseven_api_latency_seconds_count",
            &[
                ("function", function),
                ("module", "seed_sixseven"),
                ("endpoint", endpoint),
                ("method", method),
                ("status_code", code),
            ],
        )
    };
    assert_eq!(api("Api::handle_command", "/command", "POST", "200"), 16);
    assert_eq!(api("Api::handle_command", "/command", "POST", "400"), 2);
    assert_eq!(api("Api::handle_command", "/command", "POST", "429"), 2);
    assert_eq!(api("Api::get_job", "/jobs/{job_id}", "GET", "200"), 16);

    // Calls to Yutori and Freepik, `success` or `error` (a timed-out poll is an error).
    assert_eq!(
        label_values(&page, "sixseven_external_api_calls_total", "status"),
        set(&["error", "success"])
    );
    let external = |function: &str, provider: &str, status: &str| {
        value(
            &page,
            "sixseven_external_api_calls_total",
            &[
                ("function", function),
                ("module", "seed_sixseven"),
                ("provider", provider),
                ("status", status),
            ],
        )
    };
    assert_eq!(external("http_get", "yutori", "success"), 22);
    assert_eq!(external("http_get", "yutori", "error"), 2);
    assert_eq!(external("http_post", "yutori", "success"), 10);
    assert_eq!(external("http_post", "freepik", "success"), 4);
    assert_eq!(external("http_post", "freepik", "error"), 2);

    // `created` and `succeeded` both mean success, each for its own function.
    run.check_dashboard();
    let rules = run.rules();
    assert!(
        rules.contains(r#"rate(sixseven_commands_total{function="run_job",module="seed_sixseven",status!="succeeded"}[1h])"#),
        "{rules}"
    );
    assert!(
        rules.contains(r#"rate(sixseven_commands_total{status!="created"}[1h])"#),
        "{rules}"
    );

    // The plan's trace hierarchy; the job's thread is in the command's trace.
    let spans = run.spans(146);
    assert_eq!(spans.len(), 146);
    let traces = traces(&spans);
    let mut edges: BTreeSet<String> = BTreeSet::new();
    for trace in traces.values() {
        edges.extend(tree(trace));
    }
    assert_eq!(
        edges,
        set(&[
            "create_job < handle_command",
            "create_yutori_task < execute_research",
            "execute_creative < handle_command",
            "execute_research < handle_command",
            "get_job < root",
            "handle_command < root",
            "http_get < poll_yutori_task",
            "http_post < create_yutori_task",
            "http_post < execute_creative",
            "parse_intent < handle_command",
            "poll_yutori_task < execute_research",
        ])
    );
    let completed = logs_in_traces(&run, &traces, "job_completed");
    assert_eq!(completed.len(), 16);
    for line in &completed {
        // The plan's context on every line: the session and the job, from the spans' fields.
        assert!(line["context"]["session_id"].is_string(), "{line}");
        assert_eq!(line["context"]["response.job_id"], line["fields"]["job_id"]);
        let trace = &traces[line["trace_id"].as_str().unwrap()];
        assert!(
            trace.iter().any(|s| s.name == "handle_command"),
            "the background job logs in its command's trace: {line}"
        );
    }
}
