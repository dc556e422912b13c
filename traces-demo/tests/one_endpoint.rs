//! One `Builder::otlp_endpoint` for the three signals, as `OTEL_EXPORTER_OTLP_ENDPOINT` is:
//! spans, pushed metrics and shipped log records all arrive at one receiver on loopback, each
//! at the endpoint's path with its own `/v1/{signal}` added. Bodies are read back with the
//! official protobuf types. The receiver here records every request whatever its path (the
//! shared one in `otlp_receiver` answers only the standard paths), so a signal sent to the
//! wrong path shows up as such instead of as a refusal.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use obs_runtime::{Builder, LogsExporter, MetricsExporter, TracesExporter};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message as _;
use tracing_subscriber::layer::SubscriberExt as _;

/// Every request body received, by path.
type Bodies = Arc<Mutex<BTreeMap<String, Vec<Vec<u8>>>>>;

/// OTLP/HTTP on loopback: answers every `POST` with `200` and an empty protobuf body.
fn receiver() -> (SocketAddr, Bodies) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let bodies = Bodies::default();
    let store = Arc::clone(&bodies);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let store = Arc::clone(&store);
            std::thread::spawn(move || serve(stream, &store));
        }
    });
    (addr, bodies)
}

/// Reads requests off one kept-alive connection until it closes.
fn serve(stream: TcpStream, store: &Bodies) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let mut length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        store.lock().unwrap().entry(path).or_default().push(body);
        let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\n\
                      content-length: 0\r\n\r\n";
        if reader.get_mut().write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// The messages of the events it sees: the guard's stop line among them.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Lines {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        self.0.lock().unwrap().push(message.0);
    }
}

#[obs_runtime::traced]
#[obs_runtime::counted]
fn settle_invoice(id: u32) -> u32 {
    tracing::info!(invoice = id, "invoice settled");
    id * 2
}

#[test]
fn one_otlp_endpoint_with_a_path_carries_spans_metrics_and_logs_to_one_receiver() {
    let (addr, bodies) = receiver();
    let lines = Lines::default();
    let subscriber = tracing_subscriber::registry()
        .with(obs_runtime::trace_layer())
        .with(obs_runtime::otlp_log_layer())
        .with(lines.clone());
    tracing::subscriber::with_default(subscriber, || {
        let obs = Builder::new()
            .env(|_| None)
            .without_server()
            .without_subscriber()
            .service_name("one-endpoint")
            .traces_exporter(TracesExporter::Otlp)
            .metrics_exporter(MetricsExporter::Otlp)
            // No push but the guard's last one: the one with the call below in it.
            .metric_export_interval(Duration::from_secs(600))
            .logs_exporter(LogsExporter::Otlp)
            .otlp_endpoint(format!("http://{addr}/prefix"))
            .flush_timeout(Duration::from_secs(30))
            .install()
            .expect("installs");
        assert_eq!(settle_invoice(21), 42);
        drop(obs);
    });

    let bodies = bodies.lock().unwrap().clone();
    let paths: Vec<&String> = bodies.keys().collect();
    assert_eq!(
        paths,
        ["/prefix/v1/logs", "/prefix/v1/metrics", "/prefix/v1/traces"],
        "every signal at the endpoint's path with its own added"
    );

    let spans: Vec<_> = bodies["/prefix/v1/traces"]
        .iter()
        .flat_map(|b| {
            ExportTraceServiceRequest::decode(&b[..])
                .unwrap()
                .resource_spans
        })
        .flat_map(|rs| rs.scope_spans)
        .flat_map(|ss| ss.spans)
        .collect();
    let span = spans
        .iter()
        .find(|s| s.name.contains("settle_invoice"))
        .unwrap_or_else(|| panic!("no settle_invoice span in {spans:#?}"));

    let records: Vec<_> = bodies["/prefix/v1/logs"]
        .iter()
        .flat_map(|b| {
            ExportLogsServiceRequest::decode(&b[..])
                .unwrap()
                .resource_logs
        })
        .flat_map(|rl| rl.scope_logs)
        .flat_map(|sl| sl.log_records)
        .collect();
    let record = records
        .iter()
        .find(|r| {
            r.body.as_ref().and_then(|b| b.value.as_ref())
                == Some(&Value::StringValue("invoice settled".into()))
        })
        .unwrap_or_else(|| panic!("no 'invoice settled' record in {records:#?}"));
    assert_eq!(
        record.trace_id, span.trace_id,
        "the record carries the trace id of the span it was written in"
    );

    // The counter of the call, as a data point with the function's name among its attributes.
    let pushed = bodies["/prefix/v1/metrics"]
        .iter()
        .map(|b| ExportMetricsServiceRequest::decode(&b[..]).unwrap())
        .collect::<Vec<_>>();
    let text = format!("{pushed:?}");
    assert!(
        text.contains("settle_invoice"),
        "no point of settle_invoice in the pushed metrics: {text}"
    );

    let lines = lines.0.lock().unwrap().clone();
    let stop = lines
        .iter()
        .find(|l| l.starts_with("obs stopped"))
        .unwrap_or_else(|| panic!("no stop line in {lines:?}"));
    for part in [
        "the trace exporter (",
        "the logs exporter (",
        "records exported",
        "the OTLP metrics pusher, after its last push (",
        "points exported",
    ] {
        assert!(stop.contains(part), "{part:?} not in {stop:?}");
    }
}
