//! One `Builder::otlp_endpoint` for the three signals, as `OTEL_EXPORTER_OTLP_ENDPOINT` is:
//! spans, pushed metrics and shipped log records all arrive at one receiver on loopback, each
//! at the endpoint's path with its own `/v1/{signal}` added. Bodies are read back with the
//! official protobuf types. The receiver, obs-testkit's `recording_collector`, records every
//! request whatever its path (the shared one in `otlp_receiver` answers only the standard
//! paths), so a signal sent to the wrong path shows up as such instead of as a refusal.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use obs_runtime::{Builder, LogsExporter, MetricsExporter, TracesExporter};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message as _;
use tracing_subscriber::layer::SubscriberExt as _;

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
    let (addr, bodies) = obs_testkit::recording_collector();
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
