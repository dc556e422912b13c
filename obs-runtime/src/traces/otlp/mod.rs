//! OTLP export of spans (feature `otlp`): the worker encodes each batch as OTLP protobuf
//! itself ([`encode`]) and sends it through the transport every signal shares
//! ([`crate::otlp`]: HTTP/1.1 or gRPC, gzip, TLS).
//!
//! No OpenTelemetry SDK is involved: the spans are obs's own records, so an application's own
//! OpenTelemetry crates, whatever their features, build beside obs's.

pub(crate) mod encode;

use std::time::Duration;

use super::console::ConsoleSink;
use super::pipeline::{self, Item, Sink};
use super::settings::{TraceConfig, TracesExporter};
use crate::error::Error;
use crate::otlp::Client;
use crate::otlp::response::Accepted;
use crate::otlp::retry::Failure;

/// Builds the sink of a pipeline: runs on the pipeline's worker thread.
pub(crate) fn build_sink(config: &TraceConfig) -> Result<Box<dyn Sink>, Error> {
    if config.exporter != TracesExporter::Otlp {
        return Ok(Box::new(ConsoleSink));
    }
    Ok(Box::new(OtlpSink {
        client: Client::new(&config.transport, pipeline::mark_exporter_thread)?,
        resource: encode::resource(&resource(config)),
        scope: encode::scope(),
        buf: Vec::new(),
        target: config.transport.endpoint.clone(),
    }))
}

/// The `resource` and `scope` fields every signal's request carries, pre-encoded: the
/// metrics pusher sends the spans' own.
pub(crate) fn resource_and_scope(config: &TraceConfig) -> (Vec<u8>, Vec<u8>) {
    (encode::resource(&resource(config)), encode::scope())
}

/// `service.name`, the resource attributes, and `telemetry.sdk.*` naming obs.
pub(crate) fn resource(config: &TraceConfig) -> Vec<(String, String)> {
    let mut attributes = vec![
        ("service.name".to_owned(), config.service_name.clone()),
        ("telemetry.sdk.name".to_owned(), "obs".to_owned()),
        ("telemetry.sdk.language".to_owned(), "rust".to_owned()),
        (
            "telemetry.sdk.version".to_owned(),
            env!("CARGO_PKG_VERSION").to_owned(),
        ),
    ];
    for (key, value) in &config.resource {
        match attributes.iter_mut().find(|(k, _)| k == key) {
            Some((_, old)) => old.clone_from(value),
            None => attributes.push((key.clone(), value.clone())),
        }
    }
    attributes
}

struct OtlpSink {
    client: Client,
    /// `ResourceSpans.resource` and `ScopeSpans.scope`, encoded once.
    resource: Vec<u8>,
    scope: Vec<u8>,
    /// The request being sent, reused from batch to batch.
    buf: Vec<u8>,
    target: String,
}

impl Sink for OtlpSink {
    fn export(&mut self, batch: &[Item], timeout: Duration) -> Result<Accepted, Failure> {
        encode::request(&mut self.buf, &self.resource, &self.scope, batch);
        self.client.send(&mut self.buf, timeout)
    }

    fn target(&self) -> String {
        self.target.clone()
    }
}
