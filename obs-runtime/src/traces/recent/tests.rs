use super::*;

fn span(id: u8, start: u64, end: u64, error: Option<&str>) -> SpanView {
    SpanView {
        span_id: [id; 8],
        parent: (id > 1).then_some([1; 8]),
        name: format!("s{id}"),
        start,
        end,
        error: error.map(str::to_owned),
        ok: false,
        attributes: Vec::new(),
        events: Vec::new(),
        truncated: false,
    }
}

fn trace(n: u8, spans: Vec<SpanView>, touched: Instant) -> TraceView {
    TraceView {
        trace_id: [n; 16],
        spans,
        dropped: 0,
        touched,
    }
}

#[test]
fn text_is_cut_to_the_budget_on_a_char_boundary() {
    let (mut budget, mut cut) = (5, false);
    assert_eq!(within("abc", &mut budget, &mut cut), "abc");
    assert!(!cut);
    assert_eq!(within("éé", &mut budget, &mut cut), "é…");
    assert!(cut);
    assert_eq!(budget, 0);
}

#[test]
fn keeps_latest_failed_slowest_and_pending_only() {
    let old = Instant::now();
    let now = old + PENDING_FOR * 2;
    let mut traces = HashMap::new();
    // 30 old failed traces, 30 old slow ones, one fresh.
    for n in 0..30u8 {
        let t = trace(
            n,
            vec![span(1, 0, 10, Some("e"))],
            old + Duration::from_secs(n.into()),
        );
        traces.insert(t.trace_id, t);
        let slow = trace(100 + n, vec![span(1, 0, 1000 + u64::from(n), None)], old);
        traces.insert(slow.trace_id, slow);
    }
    let fresh = trace(250, vec![span(2, 0, 1, None)], now);
    traces.insert(fresh.trace_id, fresh);
    prune(&mut traces, now);
    assert_eq!(traces.len(), KEPT * 2 + 1);
    assert!(traces.contains_key(&[29; 16]), "the latest failed stays");
    assert!(!traces.contains_key(&[0; 16]), "the oldest failed goes");
    assert!(traces.contains_key(&[129; 16]), "the slowest stays");
    assert!(!traces.contains_key(&[100; 16]));
    assert!(
        traces.contains_key(&[250; 16]),
        "a fresh trace waits for its root"
    );
    let t = &traces[&[250; 16]];
    assert_eq!(
        t.root().map(|s| s.span_id),
        Some([2; 8]),
        "its parent is not here"
    );
}
