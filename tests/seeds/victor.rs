//! Seed 003: Victor, the coding agent, and its health probes.

use std::collections::BTreeSet;

use crate::harness::{logs_in_traces, plus, set, start, traces, tree, value};

/// Seed 003: Victor, 20 requests, and its health probes from start-up on.
#[test]
#[allow(clippy::too_many_lines)] // one plan, read top to bottom
fn seed_victor() {
    let run = start(
        "seed_victor",
        &[("VICTOR_REQUESTS", "20"), ("VICTOR_MODEL_LOAD_MS", "1500")],
    );
    // Loading the models: the start-up probe fails, and says why.
    let startup = run.get("/health/startup");
    assert_eq!(
        startup.status_line, "HTTP/1.1 503 Service Unavailable",
        "{}",
        startup.body
    );
    assert!(
        startup
            .body
            .contains(r#"{"name":"models","status":"fail","error":"models not loaded yet""#),
        "{}",
        startup.body
    );
    run.wait_for_line("workload done: 20 requests, 16 succeeded");
    for (probe, checks) in [
        ("/health/startup", ["models", "warmup"]),
        ("/health/live", ["process", "memory"]),
        ("/health/ready", ["database", "cache"]),
    ] {
        let response = run.get(probe);
        assert_eq!(response.status_line, "HTTP/1.1 200 OK", "{probe}");
        let json: serde_json::Value = serde_json::from_str(&response.body).unwrap();
        let names: Vec<&str> = json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, checks, "{probe}");
    }

    let page = run.page();
    // The plan's system metrics are the process's.
    if cfg!(target_os = "linux") {
        for name in [
            "process_resident_memory_bytes",
            "process_cpu_seconds_total",
            "process_open_fds",
            "process_start_time_seconds",
        ] {
            assert!(page.text().contains(&format!("\n{name} ")), "{name}");
        }
    }
    let request = |provider: &str, model: &str, status: &str| {
        value(
            &page,
            "victor_requests_total",
            &[
                ("function", "handle_request"),
                ("module", "seed_victor"),
                ("endpoint", "/chat"),
                ("provider", provider),
                ("model", model),
                ("status", status),
            ],
        )
    };
    assert_eq!(request("anthropic", "claude-sonnet-4-5", "ok"), 8);
    assert_eq!(request("anthropic", "claude-sonnet-4-5", "error"), 2);
    assert_eq!(request("openai", "gpt-4o", "ok"), 8);
    assert_eq!(request("openai", "gpt-4o", "timeout"), 2);
    assert_eq!(
        value(
            &page,
            "victor_active_requests",
            &[("function", "handle_request"), ("module", "seed_victor")]
        ),
        0
    );
    let tasks = |status: &str| {
        value(
            &page,
            "victor_tasks_total",
            &[
                ("function", "run_task"),
                ("module", "seed_victor"),
                ("status", status),
            ],
        )
    };
    assert_eq!(tasks("completed"), 16);
    assert_eq!(tasks("failed"), 4);

    // Tools: `read_file` runs on cache misses only.
    let tool = |name: &str, status: &str| {
        value(
            &page,
            "victor_tool_calls_total",
            &[
                ("function", "execute_tool"),
                ("module", "seed_victor"),
                ("tool", name),
                ("status", status),
            ],
        )
    };
    assert_eq!(tool("read_file", "ok"), 5);
    assert_eq!(tool("web_search", "ok"), 8);
    assert_eq!(tool("web_search", "error"), 2);
    assert_eq!(tool("code_exec", "ok"), 4);
    let code_exec = [
        ("function", "execute_tool"),
        ("module", "seed_victor"),
        ("tool", "code_exec"),
        ("status", "ok"),
    ];
    assert_eq!(
        value(
            &page,
            "victor_tool_duration_seconds_bucket",
            &plus(&code_exec, &[("le", "0.1")])
        ),
        2,
        "two slow runs of 150 ms"
    );
    for name in ["read_file", "web_search", "code_exec"] {
        let labels = [
            ("function", "execute_tool"),
            ("module", "seed_victor"),
            ("tool", name),
        ];
        assert_eq!(value(&page, "victor_tool_executions_active", &labels), 0);
    }

    // The cache: 20 lookups, a sweep every 10 requests.
    let cache = [("cache", "tool_cache")];
    assert_eq!(value(&page, "victor_cache_hits_total", &cache), 15);
    assert_eq!(value(&page, "victor_cache_misses_total", &cache), 5);
    assert_eq!(value(&page, "victor_cache_evictions_total", &cache), 6);

    // LLM calls, tokens, cost.
    let anthropic = [("model", "claude-sonnet-4-5"), ("provider", "anthropic")];
    assert_eq!(
        value(
            &page,
            "victor_llm_tokens_total",
            &plus(&anthropic, &[("type", "input")])
        ),
        4000
    );
    assert_eq!(
        value(
            &page,
            "victor_llm_tokens_total",
            &[
                ("model", "gpt-4o"),
                ("provider", "openai"),
                ("type", "output")
            ]
        ),
        960
    );
    assert_eq!(value(&page, "victor_llm_cost_dollars_count", &anthropic), 8);
    let cost = page
        .value("victor_llm_cost_dollars_sum", &anthropic)
        .unwrap();
    assert!((cost - 0.032).abs() < 1e-9, "{cost}");
    assert_eq!(
        value(
            &page,
            "victor_llm_calls_total",
            &[
                ("function", "call_llm"),
                ("module", "seed_victor"),
                ("provider", "openai"),
                ("model", "gpt-4o"),
                ("status", "timeout")
            ]
        ),
        2
    );

    // The alert rules: requests, tools and the coordinator (whose success is `completed`).
    run.check_dashboard();
    let rules = run.rules();
    for (alert, function) in [
        ("ObsErrorBudgetFastBurn", "handle_request"),
        ("ObsLatencyBudgetFastBurn", "handle_request"),
        ("ObsErrorBudgetFastBurn", "execute_tool"),
        ("ObsLatencyBudgetFastBurn", "execute_tool"),
        ("ObsErrorBudgetFastBurn", "run_task"),
    ] {
        let wanted = format!("function: \"{function}\"");
        assert!(
            rules
                .split("- alert: ")
                .any(|a| a.starts_with(alert) && a.contains(&wanted)),
            "{alert} for {function}: {rules}"
        );
    }
    assert!(
        rules.contains(r#"rate(victor_tasks_total{status!="completed"}[5m])"#),
        "{rules}"
    );

    let spans = run.spans(78);
    assert_eq!(spans.len(), 78);
    let traces = traces(&spans);
    let mut edges: BTreeSet<String> = BTreeSet::new();
    for trace in traces.values() {
        edges.extend(tree(trace));
    }
    assert_eq!(
        edges,
        set(&[
            "call_llm < coordinator",
            "coordinator < process_request",
            "execute_tool < coordinator",
            "process_request < root",
            "start_up < root",
        ])
    );
    assert_eq!(logs_in_traces(&run, &traces, "request failed").len(), 4);
}

/// Seed 003: with the database down, the ready probe fails and names it; liveness holds.
#[test]
fn seed_victor_database_down() {
    let run = start(
        "seed_victor",
        &[("VICTOR_REQUESTS", "0"), ("VICTOR_DATABASE", "down")],
    );
    run.wait_for_line("started");
    let ready = run.get("/health/ready");
    assert_eq!(ready.status_line, "HTTP/1.1 503 Service Unavailable");
    assert!(
        ready.body.starts_with(r#"{"status":"fail","checks":[{"name":"database","status":"fail","error":"database unreachable","#),
        "{}",
        ready.body
    );
    assert!(ready.body.contains(r#"{"name":"cache","status":"pass","#));
    assert_eq!(run.get("/health/live").status_line, "HTTP/1.1 200 OK");
}
