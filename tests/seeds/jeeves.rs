//! Seed 001: jeeves, the agent pipelines behind a gateway.

use std::collections::BTreeSet;

use crate::harness::{
    families, label_names, label_values, logs_in_traces, plus, set, start, traces, tree, value,
};

/// Seed 001: jeeves, 20 requests through the gateway.
#[test]
#[allow(clippy::too_many_lines)] // one plan, read top to bottom
fn seed_jeeves() {
    let run = start("seed_jeeves", &[("JEEVES_REQUESTS", "20")]);
    run.wait_for_line("workload done: 20 requests, 16 succeeded");
    let page = run.page();

    let kinds = families(&page, "jeeves_");
    for (name, kind) in [
        ("jeeves_pipeline_executions_total", "counter"),
        ("jeeves_pipeline_duration_seconds", "histogram"),
        ("jeeves_agent_executions_total", "counter"),
        ("jeeves_agent_duration_seconds", "histogram"),
        ("jeeves_llm_calls_total", "counter"),
        ("jeeves_llm_tokens_total", "counter"),
        ("jeeves_llm_duration_seconds", "histogram"),
        ("jeeves_db_connections", "gauge"),
        ("jeeves_db_query_duration_seconds", "histogram"),
        ("jeeves_interrupts_total", "counter"),
        ("jeeves_http_requests_total", "counter"),
        ("jeeves_http_request_duration_seconds", "histogram"),
        ("jeeves_db_pool_size", "gauge"),
        ("jeeves_db_pool_active_connections", "gauge"),
        ("jeeves_db_pool_idle_connections", "gauge"),
    ] {
        assert_eq!(
            kinds.get(name).map(String::as_str),
            Some(kind),
            "{name}: {kinds:?}"
        );
    }

    // Pipelines: `answer` on even requests, `triage` on odd ones; per 10, one provider error
    // (triage) and one timeout (answer).
    assert_eq!(
        label_names(&page, "jeeves_pipeline_executions_total"),
        set(&["function", "module", "pipeline", "status"])
    );
    assert_eq!(
        label_values(&page, "jeeves_pipeline_executions_total", "status"),
        set(&["error", "success", "timeout"])
    );
    let pipeline = |name: &str, status: &str| {
        value(
            &page,
            "jeeves_pipeline_executions_total",
            &[
                ("function", "PipelineRunner::execute"),
                ("module", "seed_jeeves"),
                ("pipeline", name),
                ("status", status),
            ],
        )
    };
    assert_eq!(pipeline("answer", "success"), 8);
    assert_eq!(pipeline("answer", "timeout"), 2);
    assert_eq!(pipeline("triage", "success"), 8);
    assert_eq!(pipeline("triage", "error"), 2);
    let answer_ok = [
        ("function", "PipelineRunner::execute"),
        ("module", "seed_jeeves"),
        ("pipeline", "answer"),
        ("status", "success"),
    ];
    let le = |le: &str| {
        value(
            &page,
            "jeeves_pipeline_duration_seconds_bucket",
            &plus(&answer_ok, &[("le", le)]),
        )
    };
    assert_eq!(le("0.1"), 6, "the two slow selects take 120 ms");
    assert_eq!(le("0.5"), 8);
    assert_eq!(le("60"), 8);

    let agent = |name: &str, status: &str| {
        value(
            &page,
            "jeeves_agent_executions_total",
            &[
                ("function", "Agent::process"),
                ("module", "seed_jeeves"),
                ("agent", name),
                ("status", status),
            ],
        )
    };
    assert_eq!(agent("planner", "success"), 20);
    assert_eq!(agent("retriever", "success"), 8);
    assert_eq!(agent("retriever", "timeout"), 2);
    assert_eq!(agent("writer", "success"), 16);
    assert_eq!(agent("writer", "error"), 2);

    // LLM calls per provider and model; tokens of the successful calls, by type.
    assert_eq!(
        label_names(&page, "jeeves_llm_calls_total"),
        set(&["function", "module", "model", "provider", "status"])
    );
    let llm = |provider: &str, model: &str, status: &str| {
        value(
            &page,
            "jeeves_llm_calls_total",
            &[
                ("function", "Provider::generate"),
                ("module", "seed_jeeves"),
                ("provider", provider),
                ("model", model),
                ("status", status),
            ],
        )
    };
    assert_eq!(llm("anthropic", "claude-sonnet-4-5", "success"), 20);
    assert_eq!(llm("llama-server", "llama-3.1-8b", "success"), 8);
    assert_eq!(llm("llama-server", "llama-3.1-8b", "timeout"), 2);
    assert_eq!(llm("openai", "gpt-4o", "success"), 16);
    assert_eq!(llm("openai", "gpt-4o", "error"), 2);
    let tokens = |provider: &str, model: &str, kind: &str| {
        value(
            &page,
            "jeeves_llm_tokens_total",
            &[("model", model), ("provider", provider), ("type", kind)],
        )
    };
    assert_eq!(tokens("anthropic", "claude-sonnet-4-5", "input"), 2400);
    assert_eq!(tokens("anthropic", "claude-sonnet-4-5", "output"), 800);
    assert_eq!(tokens("llama-server", "llama-3.1-8b", "input"), 2400);
    assert_eq!(tokens("openai", "gpt-4o", "output"), 4000);

    // The database: per operation, and the pool's gauges back at rest.
    let query = |op: &str| {
        value(
            &page,
            "jeeves_db_query_duration_seconds_count",
            &[
                ("function", "Database::query"),
                ("module", "seed_jeeves"),
                ("operation", op),
                ("status", "success"),
            ],
        )
    };
    assert_eq!(query("insert"), 20);
    assert_eq!(query("select"), 8);
    assert_eq!(query("update"), 16);
    let select_fast = [
        ("function", "Database::query"),
        ("module", "seed_jeeves"),
        ("operation", "select"),
        ("status", "success"),
        ("le", "0.1"),
    ];
    assert_eq!(
        value(
            &page,
            "jeeves_db_query_duration_seconds_bucket",
            &select_fast
        ),
        6
    );
    for (gauge, v) in [
        ("jeeves_db_pool_size", 10),
        ("jeeves_db_connections", 10),
        ("jeeves_db_pool_active_connections", 0),
        ("jeeves_db_pool_idle_connections", 10),
    ] {
        assert_eq!(value(&page, gauge, &[]), v, "{gauge}");
    }

    let interrupt = |kind: &str, status: &str| {
        value(
            &page,
            "jeeves_interrupts_total",
            &[
                ("function", "raise_interrupt"),
                ("module", "seed_jeeves"),
                ("kind", kind),
                ("status", status),
            ],
        )
    };
    assert_eq!(interrupt("clarification", "success"), 2);
    assert_eq!(interrupt("confirmation", "timeout"), 2);

    // The gateway's `status` is the HTTP code.
    assert_eq!(
        label_names(&page, "jeeves_http_requests_total"),
        set(&["endpoint", "function", "method", "module", "status"])
    );
    let http = |code: &str| {
        value(
            &page,
            "jeeves_http_requests_total",
            &[
                ("function", "Gateway::handle"),
                ("module", "seed_jeeves"),
                ("method", "POST"),
                ("endpoint", "/v1/pipelines/run"),
                ("status", code),
            ],
        )
    };
    assert_eq!(http("200"), 16);
    assert_eq!(http("500"), 2);
    assert_eq!(http("504"), 2);

    // The four SLOs are alerts; the gateway's error ratio counts what is not 200.
    run.check_dashboard();
    let rules = run.rules();
    for function in [
        "PipelineRunner::execute",
        "Provider::generate",
        "Database::query",
    ] {
        assert!(
            rules.contains(&format!(
                "alert: ObsErrorBudgetFastBurn\n        expr: (obs:jeeves_{}:error_ratio_rate1h{{function=\"{function}\"",
                match function {
                    "PipelineRunner::execute" => "pipeline_executions",
                    "Provider::generate" => "llm_calls",
                    _ => "db_queries",
                }
            )),
            "{function}: {rules}"
        );
    }
    assert!(rules.contains(r#"rate(jeeves_pipeline_duration_seconds_bucket{function="PipelineRunner::execute",module="seed_jeeves",le=~"5(\\.0*)?"}[1h])"#), "{rules}");
    assert!(
        rules.contains(r#"rate(jeeves_http_requests_total{status!="200"}[5m])"#),
        "{rules}"
    );

    // Traces: the plan's span names, nested as the calls are.
    let spans = run.spans(184);
    assert_eq!(spans.len(), 184);
    let traces = traces(&spans);
    assert_eq!(traces.len(), 20);
    let mut edges: BTreeSet<String> = BTreeSet::new();
    for trace in traces.values() {
        edges.extend(tree(trace));
    }
    assert_eq!(
        edges,
        set(&[
            "agent.process < pipeline.execute",
            "db.query < agent.process",
            "db.query < pipeline.execute",
            "http.request < root",
            "interrupt.raise < agent.process",
            "llm.generate < agent.process",
            "pipeline.execute < http.request",
        ])
    );
    let count = |name: &str| spans.iter().filter(|s| s.name == name).count();
    assert_eq!(count("llm.generate"), 48);
    assert_eq!(count("db.query"), 44);
    assert_eq!(logs_in_traces(&run, &traces, "pipeline.started").len(), 20);
    assert_eq!(logs_in_traces(&run, &traces, "pipeline failed").len(), 4);
}
