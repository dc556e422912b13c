//! Seed 004: the retrieval pipeline and its nested span tree.

use std::collections::BTreeMap;

use crate::harness::{
    families, label_names, logs_in_traces, plus, set, start, traces, tree, value,
};

/// Seed 004: the retrieval pipeline, 20 queries, and its nested span tree.
#[test]
#[allow(clippy::too_many_lines)] // one plan, read top to bottom
fn seed_retrieval() {
    let run = start("seed_retrieval", &[("RETRIEVAL_QUERIES", "20")]);
    run.wait_for_line("workload done: 20 queries, 16 answered");
    let page = run.page();

    for (name, kind) in [
        ("queries_total", "counter"),
        ("query_latency_seconds", "histogram"),
        ("cache_hit_rate", "gauge"),
        ("hallucination_score", "histogram"),
    ] {
        assert_eq!(
            families(&page, name).get(name).map(String::as_str),
            Some(kind),
            "{name}"
        );
    }
    assert_eq!(
        label_names(&page, "queries_total"),
        set(&["controller", "function", "module", "status"])
    );
    let queries = |controller: &str, status: &str| {
        value(
            &page,
            "queries_total",
            &[
                ("function", "process_query"),
                ("module", "seed_retrieval"),
                ("controller", controller),
                ("status", status),
            ],
        )
    };
    assert_eq!(queries("orchestrated", "ok"), 6);
    assert_eq!(queries("orchestrated", "blocked"), 2);
    assert_eq!(queries("orchestrated", "error"), 2);
    assert_eq!(queries("direct", "ok"), 10);
    assert_eq!(
        label_names(&page, "query_latency_seconds"),
        set(&["function", "module", "pipeline", "status"])
    );
    let single_hop = [
        ("function", "process_query"),
        ("module", "seed_retrieval"),
        ("pipeline", "single_hop"),
        ("status", "ok"),
    ];
    let bucket = |le: &str| {
        value(
            &page,
            "query_latency_seconds_bucket",
            &plus(&single_hop, &[("le", le)]),
        )
    };
    assert_eq!(bucket("0.1"), 8, "the two slow generations take 150 ms");
    assert_eq!(bucket("3"), 10);
    assert!(
        page.value("cache_hit_rate", &[]) == Some(0.5),
        "the second 10 questions hit the embedding cache"
    );
    assert_eq!(value(&page, "hallucination_score_count", &[]), 18);
    assert_eq!(
        value(&page, "hallucination_score_bucket", &[("le", "0.1")]),
        16,
        "two answers withheld at 0.8"
    );

    run.check_dashboard();
    let rules = run.rules();
    assert!(
        rules.contains(r#"rate(query_latency_seconds_bucket{function="process_query",module="seed_retrieval",le=~"3(\\.0*)?"}[1h])"#),
        "{rules}"
    );
    assert!(
        rules.contains("expr: (obs:queries:error_ratio_rate1h{function=\"process_query\""),
        "{rules}"
    );

    // The plan's tree, for every query: the searches under retrieval, on their own threads.
    let spans = run.spans(178);
    assert_eq!(spans.len(), 178);
    let traces = traces(&spans);
    assert_eq!(traces.len(), 20);
    let full = |verified: bool| {
        let mut edges = vec![
            "bm25_search < retrieval",
            "generation < query_processing",
            "query_analysis < query_processing",
            "query_processing < root",
            "reranking < query_processing",
            "retrieval < query_processing",
            "routing < query_processing",
            "vector_search < retrieval",
        ];
        if verified {
            edges.push("verification < query_processing");
        }
        edges.sort_unstable();
        edges.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let shapes: BTreeMap<Vec<String>, usize> =
        traces.values().fold(BTreeMap::new(), |mut all, trace| {
            *all.entry(tree(trace)).or_default() += 1;
            all
        });
    assert_eq!(shapes.get(&full(true)), Some(&18), "{shapes:#?}");
    assert_eq!(
        shapes.get(&full(false)),
        Some(&2),
        "no verification after a failed generation"
    );
    // A failed step marks its span; the vector search's timeout does not fail the query.
    let failed = |name: &str| {
        spans
            .iter()
            .filter(|s| s.name == name && s.status == "error")
            .count()
    };
    assert_eq!(failed("vector_search"), 2);
    assert_eq!(failed("generation"), 2);
    assert_eq!(failed("verification"), 2);
    assert_eq!(failed("query_processing"), 4);

    // JSON logs: trace ids and a component on each event.
    let withheld = logs_in_traces(&run, &traces, "answer withheld");
    assert_eq!(withheld.len(), 2);
    assert!(
        withheld
            .iter()
            .all(|l| l["fields"]["component"] == "verification")
    );
    let degraded = logs_in_traces(&run, &traces, "answering from BM25 alone");
    assert_eq!(degraded.len(), 2);
    assert_eq!(degraded[0]["span"], "retrieval");
}
