//! OTLP export against a real receiver: the two examples (`client` calls `server` over HTTP)
//! export to an OTLP receiver built on the official protobuf types, over gRPC and over
//! HTTP/protobuf; the tests read what arrived.

#[path = "../../tests/common/mod.rs"]
mod common;
mod otlp_receiver;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use otlp_receiver::{
    Attr, ClientRun, Receiver, Server, Span, black_hole, dead_port, env, run_client,
};

/// Orders per run: 3 and 8 are out of stock, 6 is declined.
const ORDERS: u32 = 8;
/// Spans the client makes per order.
const CLIENT_SPANS: [&str; 9] = [
    "order",
    "place_order",
    "quote",
    "price",
    "audit",
    "notify",
    "flaky",
    "give_up",
    "call_server",
];

struct Run {
    client: ClientRun,
    server_stderr: String,
    spans: Vec<Span>,
}

impl Run {
    fn trace(&self, order: u32) -> Vec<&Span> {
        let id = &self
            .client
            .traces
            .iter()
            .find(|(o, _)| *o == order)
            .unwrap_or_else(|| panic!("order {order} in {}", self.client.stdout))
            .1;
        self.spans.iter().filter(|s| &s.trace_id == id).collect()
    }

    fn span(&self, order: u32, name: &str) -> &Span {
        let trace = self.trace(order);
        let matching: Vec<_> = trace.iter().filter(|s| s.name == name).collect();
        assert_eq!(matching.len(), 1, "one {name} in order {order}: {trace:#?}");
        matching[0]
    }
}

/// Server and client exporting to `receiver`, with JSON logs.
fn run_pair(receiver: &Receiver, orders: u32) -> Run {
    let mut vars = receiver.env();
    vars.extend(env(&[
        ("OBS_LOG_FORMAT", "json"),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment.name=test",
        ),
    ]));
    let server = Server::start(&vars);
    let client = run_client(&vars, &server.addr, orders);
    let server_stderr = server.stop();
    // Both flushed before exiting: everything has arrived.
    Run {
        client,
        server_stderr,
        spans: receiver.spans(),
    }
}

fn grpc_run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| run_pair(&Receiver::grpc(), ORDERS))
}

fn server_spans(order: u32) -> usize {
    if order % 5 == 3 { 2 } else { 3 }
}

#[test]
fn every_span_of_both_services_arrives_in_one_trace_per_order() {
    let run = grpc_run();
    assert_eq!(
        run.client.traces.len(),
        ORDERS as usize,
        "{}",
        run.client.stdout
    );
    let expected: usize = (1..=ORDERS)
        .map(|o| CLIENT_SPANS.len() + server_spans(o))
        .sum();
    assert_eq!(run.spans.len(), expected, "{:#?}", run.spans);
    for order in 1..=ORDERS {
        let trace = run.trace(order);
        let mut names: Vec<&str> = trace
            .iter()
            .filter(|s| s.service == "shop")
            .map(|s| s.name.as_str())
            .collect();
        names.sort_unstable();
        let mut want = CLIENT_SPANS.to_vec();
        want.sort_unstable();
        assert_eq!(names, want, "order {order}");
        let server: BTreeSet<&str> = trace
            .iter()
            .filter(|s| s.service == "orders")
            .map(|s| s.name.as_str())
            .collect();
        let want: BTreeSet<&str> = if order % 5 == 3 {
            ["handle_order", "reserve"].into()
        } else {
            ["handle_order", "reserve", "charge"].into()
        };
        assert_eq!(server, want, "order {order}");
    }
    // Ids are unique.
    let ids: BTreeSet<&str> = run.spans.iter().map(|s| s.span_id.as_str()).collect();
    assert_eq!(ids.len(), run.spans.len());
}

#[test]
fn parents_follow_calls_awaits_threads_tasks_and_the_network() {
    let run = grpc_run();
    for order in 1..=ORDERS {
        let id = |name: &str| Some(run.span(order, name).span_id.clone());
        let parent = |name: &str| run.span(order, name).parent_id.clone();
        assert_eq!(parent("order"), None, "the root");
        assert_eq!(parent("place_order"), id("order"));
        // Across `.await`: price inside quote inside place_order.
        assert_eq!(parent("quote"), id("place_order"));
        assert_eq!(parent("price"), id("quote"));
        // A std thread entering the carried span, a Tokio task instrumented with it.
        assert_eq!(parent("audit"), id("place_order"));
        assert_eq!(parent("notify"), id("place_order"));
        assert_eq!(parent("flaky"), id("place_order"));
        assert_eq!(parent("give_up"), id("place_order"));
        assert_eq!(parent("call_server"), id("place_order"));
        // Over HTTP: the server's span is a child of the client's call.
        assert_eq!(parent("handle_order"), id("call_server"));
        assert_eq!(parent("reserve"), id("handle_order"));
        let handle = run.span(order, "handle_order");
        let call = run.span(order, "call_server");
        assert_eq!(handle.trace_id, call.trace_id);
        assert_eq!(
            (handle.service.as_str(), call.service.as_str()),
            ("orders", "shop")
        );
    }
}

#[test]
fn failures_are_error_status_with_description_and_error_type() {
    const UNSET: i32 = 0;
    const ERROR: i32 = 2;
    let run = grpc_run();
    let status = |order, name| {
        let span = run.span(order, name);
        (
            span.status_code,
            span.status_message.as_str(),
            span.attr("error.type").and_then(Attr::str),
        )
    };
    for order in 1..=ORDERS {
        assert_eq!(status(order, "flaky"), (ERROR, "panic", Some("panic")));
        assert_eq!(
            status(order, "give_up"),
            (ERROR, "cancelled", Some("cancelled"))
        );
        assert_eq!(status(order, "quote"), (UNSET, "", None));
    }
    assert_eq!(
        status(3, "reserve"),
        (ERROR, "sku 21 is out of stock", Some("server::OrderError"))
    );
    assert_eq!(status(3, "handle_order").1, "sku 21 is out of stock");
    assert_eq!(
        status(3, "call_server"),
        (
            ERROR,
            "the server refused: sku 21 is out of stock",
            Some("client::ClientError")
        )
    );
    assert_eq!(
        status(6, "charge"),
        (ERROR, "the card was declined", Some("server::OrderError"))
    );
    assert_eq!(status(1, "handle_order"), (UNSET, "", None));
    assert_eq!(status(1, "call_server"), (UNSET, "", None));
}

#[test]
fn spans_carry_code_location_and_arguments_once_each() {
    let run = grpc_run();
    let source = include_str!("../examples/client.rs");
    let line = source
        .lines()
        .position(|l| l.starts_with("fn place_order("))
        .unwrap()
        + 1;
    let span = run.span(2, "place_order");
    assert_eq!(
        span.attr("code.function.name"),
        Some(&Attr::Str("client::place_order".into()))
    );
    assert_eq!(
        span.attr("code.file.path"),
        Some(&Attr::Str("traces-demo/examples/client.rs".into()))
    );
    assert_eq!(
        span.attr("code.line.number"),
        Some(&Attr::Int(i64::try_from(line).unwrap()))
    );
    // Recorded arguments; `skip(runtime)` is left out.
    // An integer argument is recorded as an integer (through `tracing::Value`), so OTLP
    // carries an int attribute, not the Debug text `"2"` it carried before.
    assert_eq!(span.attr("order"), Some(&Attr::Int(2)));
    assert!(span.attr("server").is_some(), "{span:#?}");
    assert!(span.attr("runtime").is_none(), "{span:#?}");
    // Each key once, though the layer and `#[traced]` both know the location.
    let mut keys = span.keys.clone();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), span.keys.len(), "{:?}", span.keys);
    // Server side too.
    let reserve = run.span(2, "reserve");
    assert_eq!(
        reserve.attr("sku"),
        Some(&Attr::Int(14)),
        "typed, as `order`"
    );
    assert_eq!(
        reserve.attr("code.function.name"),
        Some(&Attr::Str("server::reserve".into()))
    );
}

#[test]
fn the_resource_names_each_service() {
    let run = grpc_run();
    let services: BTreeSet<&str> = run.spans.iter().map(|s| s.service.as_str()).collect();
    assert_eq!(services, ["orders", "shop"].into());
    for span in &run.spans {
        assert_eq!(
            span.resource.get("deployment.environment.name"),
            Some(&Attr::Str("test".into()))
        );
        assert_eq!(
            span.resource.get("telemetry.sdk.language"),
            Some(&Attr::Str("rust".into()))
        );
        assert_eq!(span.scope, "obs-runtime");
    }
}

/// Every line of both services' stderr is a JSON object; those inside a span carry the ids
/// of a span that was exported, with that name.
#[test]
fn json_log_lines_carry_the_ids_of_the_exported_spans() {
    let run = grpc_run();
    let by_id: BTreeMap<&str, &Span> = run.spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let mut with_ids = BTreeMap::<String, usize>::new();
    for (service, stderr) in [("shop", &run.client.stderr), ("orders", &run.server_stderr)] {
        assert!(!stderr.trim().is_empty(), "{service} logged nothing");
        for line in stderr.lines() {
            let json: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{service}: not JSON ({e}): {line}"));
            for key in ["timestamp", "level", "target", "message"] {
                assert!(json[key].is_string(), "{service}: no {key}: {line}");
            }
            assert!(json["fields"].is_object(), "{line}");
            let Some(trace_id) = json["trace_id"].as_str() else {
                continue;
            };
            let span_id = json["span_id"].as_str().expect("span_id with trace_id");
            let span = by_id
                .get(span_id)
                .unwrap_or_else(|| panic!("{service}: no exported span {span_id}: {line}"));
            assert_eq!(span.trace_id, trace_id, "{line}");
            assert_eq!(span.service, service, "{line}");
            assert_eq!(json["span"].as_str(), Some(span.name.as_str()), "{line}");
            *with_ids
                .entry(json["message"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    let n = ORDERS as usize;
    assert_eq!(with_ids.get("quoted"), Some(&n), "{with_ids:?}");
    assert_eq!(with_ids.get("out of stock"), Some(&2), "{with_ids:?}");
    assert_eq!(with_ids.get("order placed"), Some(&(n - 3)), "{with_ids:?}");
}

#[test]
fn http_protobuf_carries_the_same_traces() {
    let receiver = Receiver::http();
    let run = run_pair(&receiver, 3);
    let expected: usize = (1..=3).map(|o| CLIENT_SPANS.len() + server_spans(o)).sum();
    assert_eq!(run.spans.len(), expected, "{:#?}", run.spans);
    for order in 1..=3 {
        assert_eq!(
            run.span(order, "handle_order").parent_id.as_ref(),
            Some(&run.span(order, "call_server").span_id)
        );
    }
    assert_eq!(
        run.span(3, "reserve").status_message,
        "sku 21 is out of stock"
    );
}

/// One test, not two: the runs share the sampler settings' receiver.
#[test]
fn sampling_keeps_no_trace_at_ratio_0_every_trace_at_1_and_servers_follow_the_caller() {
    let receiver = Receiver::grpc();
    let mut base = receiver.env();
    base.push((
        "OTEL_TRACES_SAMPLER".into(),
        "parentbased_traceidratio".into(),
    ));
    let with = |ratio: &str| {
        let mut vars = base.clone();
        vars.push(("OTEL_TRACES_SAMPLER_ARG".into(), ratio.into()));
        vars
    };
    // A server that samples no trace of its own, but follows its callers.
    let server = Server::start(&with("0"));

    // Ratio 0 at the client: nothing from either side.
    let unsampled = run_client(&with("0"), &server.addr, 3);
    assert!(
        unsampled.stdout.matches("(trace (not sampled))").count() == 3,
        "{}",
        unsampled.stdout
    );
    // Ratio 1 at the client: everything, including the server's spans.
    let sampled = run_client(&with("1"), &server.addr, 3);
    let server_stderr = server.stop();
    let spans = receiver.spans();
    let expected: usize = (1..=3).map(|o| CLIENT_SPANS.len() + server_spans(o)).sum();
    assert_eq!(spans.len(), expected, "{spans:#?}\n{server_stderr}");
    let traces: BTreeSet<&str> = spans.iter().map(|s| s.trace_id.as_str()).collect();
    let printed: BTreeSet<&str> = sampled.traces.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(traces, printed);
    assert_eq!(spans.iter().filter(|s| s.service == "orders").count(), 8);

    // Plain `traceidratio` ignores the parent: at 0 nothing, even under a sampled caller.
    let receiver = Receiver::http();
    let mut vars = receiver.env();
    vars.extend(env(&[
        ("OTEL_TRACES_SAMPLER", "traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0"),
    ]));
    let run = run_client(&vars, &format!("127.0.0.1:{}", dead_port()), 2);
    assert_eq!(run.traces.len(), 2);
    assert!(receiver.spans().is_empty());
    vars.retain(|(k, _)| k != "OTEL_TRACES_SAMPLER_ARG");
    vars.push(("OTEL_TRACES_SAMPLER".into(), "always_on".into()));
    run_client(&vars, &format!("127.0.0.1:{}", dead_port()), 2);
    assert_eq!(receiver.spans().len(), 2 * CLIENT_SPANS.len());
}

/// A collector that refuses connections, and one that accepts and never answers: the client
/// does all its work, prints the same results, and exits within the flush timeout.
#[test]
fn a_dead_or_silent_collector_leaves_the_application_unaffected() {
    let reference = grpc_run();
    for (what, endpoint, protocol) in [
        (
            "dead, gRPC",
            format!("http://127.0.0.1:{}", dead_port()),
            "grpc",
        ),
        (
            "dead, HTTP",
            format!("http://127.0.0.1:{}", dead_port()),
            "http/protobuf",
        ),
        ("silent, gRPC", format!("http://{}", black_hole()), "grpc"),
        (
            "silent, HTTP",
            format!("http://{}", black_hole()),
            "http/protobuf",
        ),
    ] {
        let vars = env(&[
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
            // An export that waited for the silent collector would wait 10 minutes.
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "600000"),
        ]);
        let server = Server::start(&vars);
        let run = run_client(&vars, &server.addr, ORDERS);
        server.stop();
        // The same orders succeed and fail as with a working collector.
        let results = |stdout: &str| -> Vec<String> {
            stdout
                .lines()
                .map(|l| l.split(" (trace").next().unwrap().to_owned())
                .collect()
        };
        assert_eq!(
            results(&run.stdout),
            results(&reference.client.stdout),
            "{what}"
        );
        // The flush timeout (3 s) bounds the exit, not the export's 10 minutes; the bound
        // leaves a loaded machine room and still tells the two apart.
        assert!(
            run.elapsed < Duration::from_secs(120),
            "{what}: the client took {:?}",
            run.elapsed
        );
        if what.starts_with("dead") {
            assert!(
                run.stderr.contains("cannot export spans"),
                "{what}: {}",
                run.stderr
            );
        }
    }
}

#[obs_runtime::traced]
fn busy(i: u32) -> u32 {
    i
}

/// Tests that install obs in this process take turns: one exporter is active at a time.
static IN_PROCESS: Mutex<()> = Mutex::new(());

/// In this process: a collector that never answers fills the bounded queue; calls go on while
/// the exporter is stuck, the drops are counted on the page (promtool-clean), and dropping the
/// guard returns at its flush timeout, not the export's.
///
/// No call is timed: the export timeout is 10 minutes, so a caller that ever waited for the
/// exporter, or a guard that waited for the export, would take minutes; the bounds below are
/// liveness bounds, seconds apart from the failure they catch on any machine.
#[test]
fn a_full_queue_drops_spans_counts_them_and_never_blocks_the_caller() {
    let _turn = IN_PROCESS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let endpoint = format!("http://{}", black_hole());
    let vars = env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "16"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4"),
        ("OTEL_BSP_SCHEDULE_DELAY", "10"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "600000"),
    ]);
    let obs = obs_runtime::Builder::new()
        .env(move |var| vars.iter().find(|(k, _)| k == var).map(|(_, v)| v.clone()))
        .without_server()
        .log_format(obs_runtime::LogFormat::Off)
        .flush_timeout(Duration::from_millis(500))
        .install()
        .expect("install");
    let (done, calls) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let made = (0..2000).filter(|&i| busy(i) == i).count();
        let _ = done.send(made);
    });
    let made = calls
        .recv_timeout(Duration::from_secs(120))
        .expect("2,000 calls waited for a collector that never answers");
    assert_eq!(made, 2000);

    let page = common::Page::parse(&obs_runtime::render());
    let dropped = page
        .value("obs_spans_dropped_total", &[("reason", "queue_full")])
        .unwrap_or_else(|| panic!("{page}"));
    assert!(dropped >= 1000.0, "{dropped} dropped\n{page}");
    assert!(
        page.text()
            .contains("# TYPE obs_spans_dropped_total counter"),
        "{page}"
    );
    assert!(
        page.text()
            .contains("# TYPE obs_spans_exported_total counter"),
        "{page}"
    );
    if let Some((ok, out)) = common::promtool_check_metrics(page.text()) {
        assert!(ok, "promtool: {out}\n{page}");
    }

    let start = Instant::now();
    drop(obs);
    assert!(
        start.elapsed() < Duration::from_secs(120),
        "dropping the guard took {:?}: it waited for the export",
        start.elapsed()
    );
}

/// In this process: a later install takes over from an earlier one, and each flushes its own
/// spans.
#[test]
fn repeated_installs_each_export_their_own_spans() {
    let _turn = IN_PROCESS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let install = |receiver: &Receiver| {
        let vars = receiver.env();
        obs_runtime::Builder::new()
            .env(move |var| vars.iter().find(|(k, _)| k == var).map(|(_, v)| v.clone()))
            .without_server()
            .log_format(obs_runtime::LogFormat::Off)
            .install()
            .expect("install")
    };
    let first = Receiver::http();
    let second = Receiver::grpc();
    let a = install(&first);
    busy(1);
    let b = install(&second);
    busy(2);
    busy(3);
    drop(b);
    drop(a);
    let names = |r: &Receiver| r.spans().iter().filter(|s| s.name == "busy").count();
    assert_eq!((names(&first), names(&second)), (1, 2));
}

struct Inventory;

impl Inventory {
    #[obs_runtime::traced]
    fn count(&self, sku: u32) -> u32 {
        tracing::info!(sku, found = true, "counted");
        sku * 2
    }
}

/// In this process, over both transports: obs's own layer exports a method's span under
/// `Type::method` with its `code.*` attributes (taken from the function, not recorded as
/// fields), a user's `tracing::span!` with the callsite's location, typed fields, an event
/// with its fields, a link from `follows_from`, the span kind from `otel.kind`, and times in
/// Unix nanoseconds.
#[test]
fn own_layer_exports_methods_user_spans_events_links_and_typed_fields() {
    let _turn = IN_PROCESS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for receiver in [Receiver::http(), Receiver::grpc()] {
        let vars = receiver.env();
        let obs = obs_runtime::Builder::new()
            .env(move |var| vars.iter().find(|(k, _)| k == var).map(|(_, v)| v.clone()))
            .without_server()
            .log_format(obs_runtime::LogFormat::Off)
            .install()
            .expect("install");
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let earlier = tracing::info_span!("earlier");
        drop(earlier.clone().entered());
        let user_line = line!() + 1;
        let job = tracing::info_span!("job", attempts = 3_u64, ratio = 0.5, otel.kind = "consumer");
        job.follows_from(&earlier);
        job.in_scope(|| Inventory.count(4));
        drop(job);
        drop(earlier);
        drop(obs);
        let spans = receiver.spans();
        let by_name = |name: &str| {
            spans
                .iter()
                .find(|s| s.name == name)
                .unwrap_or_else(|| panic!("no {name} in {spans:#?}"))
        };
        let count = by_name("Inventory::count");
        assert_eq!(
            count.attr("code.function.name"),
            Some(&Attr::Str("otlp::Inventory::count".into()))
        );
        assert_eq!(
            count.attr("code.file.path"),
            Some(&Attr::Str("traces-demo/tests/otlp.rs".into()))
        );
        assert!(matches!(count.attr("code.line.number"), Some(Attr::Int(_))));
        assert_eq!(count.attr("otel.name"), None, "{count:#?}");
        assert_eq!(count.kind, 1, "internal");
        let (event, fields) = &count.events[0];
        assert_eq!(event, "counted");
        assert_eq!(fields.get("found"), Some(&Attr::Bool(true)));
        assert_eq!(fields.get("sku"), Some(&Attr::Int(4)));
        assert_eq!(fields.get("level"), Some(&Attr::Str("INFO".into())));

        let job = by_name("job");
        assert_eq!(count.parent_id.as_ref(), Some(&job.span_id));
        assert_eq!(job.attr("attempts"), Some(&Attr::Int(3)));
        assert_eq!(job.attr("ratio"), Some(&Attr::Double(0.5)));
        assert_eq!(job.attr("otel.kind"), None);
        assert_eq!(job.kind, 5, "consumer, from otel.kind");
        assert_eq!(
            job.attr("code.line.number"),
            Some(&Attr::Int(i64::from(user_line)))
        );
        assert_eq!(job.attr("code.function.name"), None, "not a #[traced] fn");
        let earlier = by_name("earlier");
        assert_eq!(
            job.links,
            vec![(earlier.trace_id.clone(), earlier.span_id.clone())]
        );
        let start = Duration::from_nanos(job.start_unix_nanos);
        assert!(
            start + Duration::from_millis(50) >= before && start < before + Duration::from_secs(5),
            "{start:?} against {before:?}"
        );
    }
}
