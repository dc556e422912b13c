//! The protobuf page, decoded with prost from `client_model`'s `metrics.proto` field numbers
//! (written out below), against the text page of the same program: same families, same
//! values, plus the native buckets of `#[timed(native)]`.
// Exact: the text page writes the shortest decimal that reads back as the same f64. One test
// walks the whole page, in the order a reader checks it.
#![allow(clippy::float_cmp, clippy::too_many_lines)]

use obs_runtime::{TracesExporter, counted, timed, traced};

#[derive(Clone, PartialEq, prost::Message)]
struct MetricFamily {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(string, optional, tag = "2")]
    help: Option<String>,
    #[prost(int32, optional, tag = "3")]
    r#type: Option<i32>,
    #[prost(message, repeated, tag = "4")]
    metric: Vec<Metric>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Metric {
    #[prost(message, repeated, tag = "1")]
    label: Vec<LabelPair>,
    #[prost(message, optional, tag = "2")]
    gauge: Option<Gauge>,
    #[prost(message, optional, tag = "3")]
    counter: Option<Counter>,
    #[prost(message, optional, tag = "7")]
    histogram: Option<Histogram>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct LabelPair {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(string, optional, tag = "2")]
    value: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Gauge {
    #[prost(double, optional, tag = "1")]
    value: Option<f64>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Counter {
    #[prost(double, optional, tag = "1")]
    value: Option<f64>,
    #[prost(message, optional, tag = "2")]
    exemplar: Option<Exemplar>,
    #[prost(message, optional, tag = "3")]
    created_timestamp: Option<Timestamp>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Timestamp {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Exemplar {
    #[prost(message, repeated, tag = "1")]
    label: Vec<LabelPair>,
    #[prost(double, optional, tag = "2")]
    value: Option<f64>,
    #[prost(message, optional, tag = "3")]
    timestamp: Option<Timestamp>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Histogram {
    #[prost(uint64, optional, tag = "1")]
    sample_count: Option<u64>,
    #[prost(double, optional, tag = "2")]
    sample_sum: Option<f64>,
    #[prost(message, repeated, tag = "3")]
    bucket: Vec<Bucket>,
    #[prost(message, optional, tag = "15")]
    created_timestamp: Option<Timestamp>,
    #[prost(sint32, optional, tag = "5")]
    schema: Option<i32>,
    #[prost(double, optional, tag = "6")]
    zero_threshold: Option<f64>,
    #[prost(uint64, optional, tag = "7")]
    zero_count: Option<u64>,
    #[prost(message, repeated, tag = "12")]
    positive_span: Vec<BucketSpan>,
    #[prost(sint64, repeated, tag = "13")]
    positive_delta: Vec<i64>,
    #[prost(message, repeated, tag = "16")]
    exemplars: Vec<Exemplar>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Bucket {
    #[prost(uint64, optional, tag = "1")]
    cumulative_count: Option<u64>,
    #[prost(double, optional, tag = "2")]
    upper_bound: Option<f64>,
    #[prost(message, optional, tag = "3")]
    exemplar: Option<Exemplar>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct BucketSpan {
    #[prost(sint32, optional, tag = "1")]
    offset: Option<i32>,
    #[prost(uint32, optional, tag = "2")]
    length: Option<u32>,
}

fn decode(mut page: &[u8]) -> Vec<MetricFamily> {
    let mut families = Vec::new();
    while !page.is_empty() {
        let family = prost::Message::decode_length_delimited(&mut page).expect("a family");
        families.push(family);
    }
    families
}

/// `{name="value",…}` of a text page line, as the protobuf page's labels.
fn text_labels(metric: &Metric) -> String {
    let pairs: Vec<String> = metric
        .label
        .iter()
        .map(|l| format!("{}=\"{}\"", l.name(), l.value().replace('"', "\\\"")))
        .collect();
    pairs.join(",")
}

/// The histogram of the series of `family` whose labels contain `labels`.
fn histogram_of<'a>(family: &'a MetricFamily, labels: &str) -> &'a Histogram {
    family
        .metric
        .iter()
        .find(|m| text_labels(m).contains(labels))
        .and_then(|m| m.histogram.as_ref())
        .unwrap_or_else(|| panic!("no series with {labels}"))
}

fn native_buckets(h: &Histogram) -> Vec<(i32, u64)> {
    let mut out = Vec::new();
    let (mut index, mut count, mut deltas) = (0i32, 0i64, h.positive_delta.iter());
    for (n, span) in h.positive_span.iter().enumerate() {
        index = if n == 0 {
            span.offset()
        } else {
            index + span.offset()
        };
        for _ in 0..span.length() {
            count += deltas.next().expect("a delta per bucket");
            out.push((index, u64::try_from(count).unwrap()));
            index += 1;
        }
    }
    out
}

#[timed(native)]
fn fast(nanos: u64) {
    std::thread::sleep(std::time::Duration::from_nanos(nanos));
}

/// Traced: its calls record with their own sampled span current, so both its classic buckets
/// and its native histogram carry exemplars.
#[traced]
#[timed(native)]
fn traced_native() {}

#[counted]
#[timed(buckets = [0.001, 1.0])]
fn classic() -> Result<(), &'static str> {
    Ok(())
}

#[test]
fn the_protobuf_page_has_the_text_pages_values_and_native_buckets() {
    for _ in 0..3 {
        fast(1_000);
        fast(2_000_000);
        classic().unwrap();
    }
    metrics::counter!("facade_jobs_total").increment(5);
    let obs = obs_runtime::Builder::new()
        .without_server()
        .env(|_| None)
        .service_name("proto-test")
        // Spans are sampled only when they are exported somewhere (here: stdout).
        .traces_exporter(TracesExporter::Console)
        .install()
        .unwrap();
    traced_native();
    traced_native();
    metrics::counter!("facade_jobs_total").increment(2);
    metrics::gauge!("facade_depth").set(4.5);
    let families = decode(&obs_runtime::render_protobuf());
    let text = obs_runtime::render();
    let names: Vec<&str> = families.iter().map(MetricFamily::name).collect();
    for name in [
        "function_calls_total",
        "function_duration_seconds",
        "facade_jobs_total",
        "facade_depth",
        "target_info",
        "process_cpu_seconds_total",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} not on the text page"
        );
    }
    // Every sample of every family reads as on the text page.
    for family in &families {
        assert!(text.contains(&format!("# HELP {} {}\n", family.name(), family.help())));
        for metric in &family.metric {
            let labels = text_labels(metric);
            let series = |suffix: &str| {
                if labels.is_empty() {
                    format!("{}{suffix} ", family.name())
                } else {
                    format!("{}{suffix}{{{labels}}} ", family.name())
                }
            };
            let line = |suffix: &str| -> f64 {
                let start = series(suffix);
                let found = text.lines().find_map(|l| l.strip_prefix(start.as_str()));
                found
                    .unwrap_or_else(|| panic!("no {start} in {text}"))
                    .parse()
                    .unwrap()
            };
            if let Some(c) = &metric.counter {
                assert_eq!(family.r#type(), 0);
                if family.name() != "process_cpu_seconds_total" {
                    assert_eq!(c.value(), line(""), "{}", series(""));
                }
                assert!(c.created_timestamp.as_ref().unwrap().seconds > 1_600_000_000);
            } else if let Some(g) = &metric.gauge {
                assert_eq!(family.r#type(), 1);
                if family.name().starts_with("process_") {
                    continue; // read again, may have moved
                }
                assert_eq!(g.value(), line(""), "{}", series(""));
            } else {
                let h = metric.histogram.as_ref().expect("a value");
                assert_eq!(family.r#type(), 4);
                #[allow(clippy::cast_precision_loss)]
                let count = h.sample_count() as f64;
                assert_eq!(count, line("_count"));
                assert_eq!(h.sample_sum(), line("_sum"));
                assert!(h.created_timestamp.is_some());
                let last = h.bucket.last().unwrap();
                assert_eq!(last.upper_bound(), f64::INFINITY);
                assert_eq!(last.cumulative_count(), h.sample_count());
            }
        }
    }
    // Facade calls before `install` are dropped (docs/design.md): 2 of 7 on both pages.
    assert!(text.contains("facade_jobs_total 2\n"), "{text}");
    // The native histogram of `fast`: schema 3, 1 µs and 2 ms in their buckets, count 6.
    let durations = families
        .iter()
        .find(|f| f.name() == "function_duration_seconds")
        .unwrap();
    let fast = histogram_of(durations, "function=\"fast\"");
    assert_eq!((fast.schema(), fast.sample_count()), (3, 6));
    assert_eq!(fast.zero_threshold(), 2f64.powi(-30));
    let buckets = native_buckets(fast);
    let total: u64 = buckets.iter().map(|b| b.1).sum::<u64>() + fast.zero_count();
    assert_eq!(total, 6, "{buckets:?}");
    for (index, _) in &buckets {
        // Every call slept at least its duration and is far below a second.
        let upper = 2f64.powf(f64::from(*index) / 8.0);
        assert!(upper > 1e-6 && upper < 0.5, "bucket {index}");
    }
    assert_eq!(fast.bucket.len(), 23, "the classic buckets too");
    assert!(fast.exemplars.is_empty(), "no span, no exemplar");
    // A native histogram's exemplars are in `exemplars`: those of the classic buckets, with
    // their sampled span's ids and a timestamp.
    let traced = histogram_of(durations, "function=\"traced_native\"");
    let on_buckets: Vec<&Exemplar> = traced
        .bucket
        .iter()
        .filter_map(|b| b.exemplar.as_ref())
        .collect();
    assert!(!traced.exemplars.is_empty(), "{traced:?}");
    assert_eq!(traced.exemplars.iter().collect::<Vec<_>>(), on_buckets);
    for e in &traced.exemplars {
        let ids: Vec<(&str, usize)> = e
            .label
            .iter()
            .map(|l| (l.name(), l.value().len()))
            .collect();
        assert_eq!(ids, [("trace_id", 32), ("span_id", 16)]);
        assert!(e.value() > 0.0 && e.value() < 0.5, "{e:?}");
        assert!(e.timestamp.as_ref().unwrap().seconds > 1_600_000_000);
    }
    // `classic` has no native buckets: the program's switch is off.
    let plain = histogram_of(
        durations,
        "function=\"classic\",module=\"protobuf\",status=\"ok\"",
    );
    assert_eq!((plain.schema, plain.zero_threshold), (None, None));
    assert_eq!(plain.bucket.len(), 3);
    assert!(plain.exemplars.is_empty());

    // The program's switch: every histogram keeps native buckets from then on, the facade's
    // included; calls before it stay in the classic buckets only.
    drop(obs);
    let _obs = obs_runtime::Builder::new()
        .without_server()
        .without_subscriber()
        .native_histograms(true)
        .install()
        .unwrap();
    classic().unwrap();
    metrics::histogram!("facade_wait_seconds").record(0.003);
    let families = decode(&obs_runtime::render_protobuf());
    let histogram = |family: &str, labels: &str| {
        families
            .iter()
            .find(|f| f.name() == family)
            .and_then(|f| f.metric.iter().find(|m| text_labels(m).contains(labels)))
            .and_then(|m| m.histogram.clone())
            .unwrap()
    };
    let switched = histogram(
        "function_duration_seconds",
        "function=\"classic\",module=\"protobuf\",status=\"ok\"",
    );
    assert_eq!((switched.schema(), switched.sample_count()), (3, 1));
    let wait = histogram("facade_wait_seconds", "");
    assert_eq!((wait.schema(), wait.sample_count()), (3, 1));
    let index = native_buckets(&wait)[0].0; // 0.003 s: ceil(log2(0.003) × 8) = -67
    assert_eq!(index, -67);
    // The text page is unchanged by it: no native syntax there.
    assert!(!obs_runtime::render().contains("schema"));
}
