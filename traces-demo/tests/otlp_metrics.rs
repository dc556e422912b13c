//! Metrics pushed over OTLP (`OTEL_METRICS_EXPORTER=otlp`) to a receiver on the official
//! protobuf types, over HTTP/protobuf and gRPC: after a workload and the guard's drop, what
//! arrived, put through the standard OTLP-to-Prometheus translation, is the page `render()`
//! serves, series by series.

mod otlp_receiver;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use obs_runtime::{Builder, MetricsExporter, ObsGuard, OtlpProtocol, Temporality, TracesExporter};
use otlp_receiver::metrics::{Point, points};
use otlp_receiver::{Attr, Receiver};

/// The tests share the process's sites and its one subscriber: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
/// The trace ids every receiver of this process got.
static EXPORTED_TRACES: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

#[obs_runtime::traced]
#[obs_runtime::counted]
#[obs_runtime::timed]
fn checkout(items: u32) -> Result<u32, String> {
    std::thread::sleep(Duration::from_micros(200));
    if items.is_multiple_of(4) {
        Err("card declined".into())
    } else {
        Ok(items * 3)
    }
}

#[obs_runtime::traced]
#[obs_runtime::timed(native)]
#[obs_runtime::in_flight]
fn ship(parcel: u32) -> u32 {
    std::thread::sleep(Duration::from_micros(100 * u64::from(parcel % 5)));
    parcel
}

/// A request through the HTTP layer: its families go by their semantic-convention names.
fn http_request(path: &str) {
    use tower::{Layer as _, ServiceExt as _};
    let app = tower::service_fn(|_req: http::Request<String>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::new(
            bytes::Bytes::from("ok"),
        )))
    });
    let app = obs_runtime::http::ServerLayer::new()
        .route_fn(|parts| Some(parts.uri.path().to_owned()))
        .layer(app);
    let request = http::Request::post(path).body(String::new()).unwrap();
    let response = futures_executor::block_on(app.oneshot(request)).unwrap();
    futures_executor::block_on(http_body_util::BodyExt::collect(response.into_body())).unwrap();
}

fn workload(rounds: u32) {
    for i in 1..=rounds {
        let _ = checkout(i);
        let _ = ship(i);
        http_request(if i % 2 == 0 { "/orders" } else { "/refunds" });
    }
}

fn install(receiver: &Receiver, temporality: Temporality, traces: bool) -> ObsGuard {
    let protocol = if receiver.protocol == "grpc" {
        OtlpProtocol::Grpc
    } else {
        OtlpProtocol::HttpProtobuf
    };
    Builder::new()
        .env(|_| None)
        .service_name("checkout-job")
        .metrics_exporter(MetricsExporter::Otlp)
        .metric_export_interval(Duration::from_millis(150))
        .metric_export_timeout(Duration::from_millis(400))
        .metrics_temporality(temporality)
        .traces_exporter(if traces {
            TracesExporter::Otlp
        } else {
            TracesExporter::None
        })
        .otlp_endpoint(receiver.endpoint())
        .otlp_protocol(protocol)
        .flush_timeout(Duration::from_secs(5))
        .install()
        .expect("installs")
}

// --- The standard OTLP-to-Prometheus translation (Prometheus's otlptranslator with suffixes,
// as the collector's prometheus and prometheusremotewrite exporters apply it). ---

/// The Prometheus word of a UCUM unit; `{…}` annotations say nothing.
fn unit_word(unit: &str) -> String {
    let main = |u: &str| -> String {
        match u {
            "s" => "seconds",
            "ms" => "milliseconds",
            "us" => "microseconds",
            "ns" => "nanoseconds",
            "min" => "minutes",
            "h" => "hours",
            "d" => "days",
            "By" => "bytes",
            "KiBy" => "kibibytes",
            "MiBy" => "mebibytes",
            "%" => "percent",
            "1" => "",
            other if other.starts_with('{') => "",
            other => other,
        }
        .to_owned()
    };
    match unit.split_once('/') {
        Some((per, of)) => {
            let of = main(of);
            let per = main(per);
            match (per.is_empty(), of.is_empty()) {
                (_, true) => per,
                (true, false) => format!("per_{of}"),
                (false, false) => format!("{per}_per_{of}"),
            }
        }
        None => main(unit),
    }
}

/// The Prometheus family name of an OTLP metric.
fn prometheus_name(name: &str, unit: &str, kind: &str, monotonic: bool) -> String {
    let mut tokens: Vec<String> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let word = unit_word(unit);
    for w in word.split('_').filter(|w| !w.is_empty()) {
        if !tokens.iter().any(|t| t == w) {
            tokens.push(w.to_owned());
        }
    }
    if kind == "sum" && monotonic {
        tokens.retain(|t| t != "total");
        tokens.push("total".into());
    }
    if kind == "gauge" && unit == "1" && !tokens.iter().any(|t| t == "ratio") {
        tokens.push("ratio".into());
    }
    tokens.join("_")
}

/// A Prometheus label name of an OTLP attribute key.
fn prometheus_label(key: &str) -> String {
    let mut label: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if label.starts_with(|c: char| c.is_ascii_digit()) {
        label.insert_str(0, "key_");
    }
    label
}

// --- The page, parsed. ---

/// `name{sorted labels}` → value, and the `# TYPE` of each family.
struct Page {
    samples: BTreeMap<String, f64>,
    types: BTreeMap<String, String>,
}

fn series_key(name: &str, labels: &BTreeMap<String, String>) -> String {
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{name}{{{}}}", labels.join(","))
}

/// The page read by the tests' exposition-format parser (obs-testkit's), keyed for lookups.
fn parse_page(text: &str) -> Page {
    let page = obs_testkit::Page::parse(text);
    let samples = page
        .samples()
        .iter()
        .map(|s| {
            let labels: BTreeMap<String, String> = s.labels.iter().cloned().collect();
            (series_key(&s.name, &labels), s.value)
        })
        .collect();
    let types = page
        .families()
        .iter()
        .filter_map(|f| Some((f.name.clone(), f.kind.clone()?)))
        .collect();
    Page { samples, types }
}

/// A pushed point's family name and labels on the page.
fn translated(p: &Point) -> (String, BTreeMap<String, String>) {
    let name = prometheus_name(&p.name, &p.unit, p.kind, p.monotonic);
    let labels = p
        .attributes
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Attr::Str(s) => s.clone(),
                // An int attribute translates to its decimal text.
                Attr::Int(n) => n.to_string(),
                other => format!("{other:?}"),
            };
            (prometheus_label(k), v)
        })
        .collect();
    (name, labels)
}

/// The page's samples of a pushed point: `(sample key, value)`.
fn samples_of(p: &Point) -> Vec<(String, f64)> {
    let (name, labels) = translated(p);
    #[allow(clippy::cast_precision_loss)]
    match p.kind {
        "sum" | "gauge" => vec![(series_key(&name, &labels), p.value)],
        "histogram" => {
            let mut out = Vec::new();
            let mut cumulative = 0;
            for (i, count) in p.buckets.iter().enumerate() {
                cumulative += count;
                let le = p.bounds.get(i).map_or("+Inf".to_owned(), f64::to_string);
                let mut with_le = labels.clone();
                with_le.insert("le".into(), le);
                out.push((
                    series_key(&format!("{name}_bucket"), &with_le),
                    cumulative as f64,
                ));
            }
            out.push((
                series_key(&format!("{name}_count"), &labels),
                p.count as f64,
            ));
            out.push((series_key(&format!("{name}_sum"), &labels), p.value));
            out
        }
        "exponential_histogram" => vec![
            (
                series_key(&format!("{name}_count"), &labels),
                p.count as f64,
            ),
            (series_key(&format!("{name}_sum"), &labels), p.value),
        ],
        other => panic!("unexpected {other}"),
    }
}

/// Families whose value moves between the last push and the scrape: the process's own, and
/// the pusher's count of itself (a push counts after its answer).
fn moves(name: &str) -> bool {
    name.starts_with("process_") || name.starts_with("obs_metric_points_")
}

/// Waits for the pusher's next interval push after the receiver held `pushes` requests (a
/// wait, not a sleep: a loaded machine may run the 150 ms timer late).
fn pushed_after(receiver: &Receiver, pushes: usize) {
    obs_testkit::eventually("the next push", Duration::from_secs(30), || {
        let now = receiver.metrics.lock().unwrap().len();
        if now > pushes { Ok(()) } else { Err(now) }
    });
}

fn last_push(receiver: &Receiver) -> (String, Vec<Point>) {
    let requests = receiver.metrics.lock().unwrap();
    points(requests.last().expect("at least one push"))
}

fn pushed_metrics_match_the_page(receiver: &Receiver) {
    let before = receiver.metrics.lock().unwrap().len();
    let guard = install(receiver, Temporality::Cumulative, true);
    workload(24);
    pushed_after(receiver, before);
    workload(8);
    drop(guard);
    let page_text = obs_runtime::render();
    let page = parse_page(&page_text);
    let requests = receiver.metrics.lock().unwrap().len() - before;
    assert!(
        requests >= 2,
        "{requests} pushes: the interval's and the guard's"
    );
    let (service, pushed) = last_push(receiver);
    assert_eq!(service, "checkout-job");

    // Every family the page has is pushed, and every pushed name translates to one of them.
    let pushed_families: BTreeSet<String> = pushed.iter().map(|p| translated(p).0).collect();
    let page_families: BTreeSet<String> = page
        .types
        .keys()
        .filter(|n| *n != "target_info")
        .cloned()
        .collect();
    assert_eq!(pushed_families, page_families, "{page_text}");
    for p in &pushed {
        let (name, _) = translated(p);
        let want = match p.kind {
            "sum" => "counter",
            "exponential_histogram" => "histogram",
            other => other,
        };
        assert_eq!(page.types[&name], want, "{} is a {}", p.name, p.kind);
        assert_eq!(p.temporality, if p.kind == "gauge" { 0 } else { 2 });
    }

    // Every series of the page is pushed with the value the page shows.
    let mut compared = 0;
    for p in pushed.iter().filter(|p| !moves(&translated(p).0)) {
        for (key, value) in samples_of(p) {
            let on_page = page.samples.get(&key).unwrap_or_else(|| {
                panic!(
                    "{key} (pushed as {} {:?}) is not on the page",
                    p.name, p.attributes
                )
            });
            // Exact: the page writes the shortest decimal that reads back as the same bits.
            assert_eq!(
                on_page.to_bits(),
                value.to_bits(),
                "{key}: {on_page} != {value}"
            );
            compared += 1;
        }
    }
    let page_series = page
        .samples
        .keys()
        // ship's native histogram is pushed without its classic buckets.
        .filter(|k| !moves(k) && !k.starts_with("target_info"))
        .filter(|k| !(k.contains("_bucket{") && k.contains(r#"function="ship""#)))
        .count();
    assert!(
        compared >= page_series,
        "{compared} of {page_series} compared"
    );
    let calls = pushed
        .iter()
        .find(|p| {
            p.name == "function_calls"
                && p.attributes.get("function").and_then(Attr::str) == Some("checkout")
                && p.attributes.get("status").and_then(Attr::str) == Some("error")
        })
        .expect("checkout's errors");
    assert!(calls.value >= 8.0 && calls.monotonic && calls.kind == "sum");
    special_families(&pushed);
    // Exemplars name spans a receiver got: this one, or an earlier test's, since a bucket
    // keeps the exemplar of its latest sampled call, which may be older than this test.
    let mut traces = EXPORTED_TRACES.lock().unwrap();
    traces.extend(receiver.spans().into_iter().map(|s| s.trace_id));
    let exemplars: Vec<_> = pushed.iter().flat_map(|p| p.exemplars.clone()).collect();
    assert!(!exemplars.is_empty(), "no exemplar pushed");
    for (trace, _, _) in &exemplars {
        assert!(
            traces.contains(trace),
            "exemplar trace {trace} was not exported"
        );
    }
    let this_run = receiver
        .spans()
        .into_iter()
        .map(|s| s.trace_id)
        .collect::<BTreeSet<_>>();
    assert!(exemplars.iter().any(|(t, _, _)| this_run.contains(t)));
    // Cumulative points all start when the process did, before the first push.
    let start = pushed[0].start_unix_nanos;
    assert!(
        start > 0
            && pushed
                .iter()
                .all(|p| p.kind == "gauge" || p.start_unix_nanos == start)
    );
    assert!(pushed.iter().all(|p| p.unix_nanos > start));
}

/// The HTTP layer's families and the native histogram, as pushed.
fn special_families(pushed: &[Point]) {
    // The HTTP layer's families go by their semantic-convention names and keys.
    let requests = pushed
        .iter()
        .find(|p| {
            p.name == "http.server.request.duration"
                && p.attributes.get("http.route").and_then(Attr::str) == Some("/orders")
        })
        .expect("the server layer's histogram");
    assert_eq!((requests.kind, requests.unit.as_str()), ("histogram", "s"));
    assert_eq!(
        requests
            .attributes
            .get("http.request.method")
            .and_then(Attr::str),
        Some("POST")
    );
    // An int, as the semantic conventions type it, though the page's label is text.
    assert_eq!(
        requests.attributes.get("http.response.status_code"),
        Some(&Attr::Int(200))
    );
    assert!(requests.count >= 16);

    // The native histogram goes as an exponential one: its buckets hold its count.
    let ship = pushed
        .iter()
        .find(|p| {
            p.kind == "exponential_histogram"
                && p.attributes.get("function").and_then(Attr::str) == Some("ship")
        })
        .expect("ship's native histogram");
    assert_eq!(ship.unit, "s");
    assert!(ship.count >= 32);
    assert_eq!(
        ship.buckets.iter().sum::<u64>() + ship.zero_count,
        ship.count
    );
}

#[test]
fn pushed_metrics_over_http_match_the_page() {
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    pushed_metrics_match_the_page(&Receiver::http());
}

#[test]
fn pushed_metrics_over_grpc_match_the_page() {
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    pushed_metrics_match_the_page(&Receiver::grpc());
}

#[test]
fn delta_points_add_up_to_the_cumulative_ones() {
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let receiver = Receiver::grpc();
    let guard = install(&receiver, Temporality::Delta, false);
    for _ in 0..4 {
        workload(10);
        let pushes = receiver.metrics.lock().unwrap().len();
        pushed_after(&receiver, pushes);
    }
    drop(guard);
    let page = parse_page(&obs_runtime::render());
    let requests = receiver.metrics.lock().unwrap().clone();
    assert!(requests.len() >= 3, "{} pushes", requests.len());
    let mut sums: BTreeMap<String, f64> = BTreeMap::new();
    let mut last_time: BTreeMap<String, u64> = BTreeMap::new();
    for request in &requests {
        for p in points(request).1 {
            let (name, _) = translated(&p);
            if moves(&name) || p.kind == "gauge" {
                continue;
            }
            assert_eq!(p.temporality, 1, "{} is delta", p.name);
            for (key, value) in samples_of(&p) {
                *sums.entry(key.clone()).or_default() += value;
                // Each point starts where the same series' previous one ended.
                if let Some(previous) = last_time.insert(key.clone(), p.unix_nanos) {
                    assert_eq!(p.start_unix_nanos, previous, "{key}");
                }
            }
        }
    }
    let mut compared = 0;
    for (key, sum) in &sums {
        // Histograms' `_bucket` deltas add up per bucket: the cumulative bucket of each push
        // is the sum of its own deltas, so the sums are the page's cumulative buckets.
        let on_page = page.samples[key];
        assert!(
            (on_page - sum).abs() < 1e-6,
            "{key}: page {on_page}, deltas add to {sum}"
        );
        compared += 1;
    }
    assert!(compared > 10 && sums.keys().any(|k| k.contains("checkout")));
}

#[test]
fn a_collector_down_loses_that_interval_only_and_counts_it() {
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dropped = |page: &Page| {
        page.samples
            .get(r#"obs_metric_points_dropped_total{reason="export_failed"}"#)
            .copied()
            .unwrap_or(0.0)
    };
    let before = dropped(&parse_page(&obs_runtime::render()));
    // The first push is answered 503 (retryable, but its 400 ms budget allows no retry).
    let receiver = Receiver::http_answering(&["503 Service Unavailable"]);
    workload(4);
    let guard = install(&receiver, Temporality::Cumulative, false);
    // Two pushes (the failed one and the next), or ten seconds: the asserts below say which.
    let _ = obs_testkit::wait_until(Duration::from_secs(10), || {
        (receiver.metrics.lock().unwrap().len() >= 2)
            .then_some(())
            .ok_or(())
    });
    workload(4);
    drop(guard);
    let page = parse_page(&obs_runtime::render());
    let requests = receiver.metrics.lock().unwrap().clone();
    assert!(
        requests.len() >= 3,
        "the pushes after the failed one arrived"
    );
    // Exactly one push was lost: its points are the next push's (the page kept its series).
    let counted = dropped(&page) - before;
    #[allow(clippy::cast_precision_loss)]
    let one_push = points(&requests[0]).1.len() as f64;
    assert_eq!(
        counted.to_bits(),
        one_push.to_bits(),
        "one interval's points counted as dropped: {counted}, not {one_push}"
    );
    // Nothing else was lost: the final push still equals the page.
    let (_, final_push) = points(requests.last().unwrap());
    for p in final_push.iter().filter(|p| !moves(&translated(p).0)) {
        for (key, value) in samples_of(p) {
            assert_eq!(page.samples[&key].to_bits(), value.to_bits(), "{key}");
        }
    }
}
