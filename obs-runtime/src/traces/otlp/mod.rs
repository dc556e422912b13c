//! OTLP export (feature `otlp`): the worker encodes each batch as OTLP protobuf itself
//! ([`encode`]) and sends it over HTTP/1.1 ([`http`]) or gRPC ([`grpc`]).
//!
//! No OpenTelemetry SDK is involved: the spans are obs's own records, so an application's own
//! OpenTelemetry crates, whatever their features, build beside obs's.

mod encode;
mod grpc;
mod http;

use std::time::Duration;

use super::console::ConsoleSink;
use super::pipeline::{self, Item, Sink};
use super::settings::{OtlpProtocol, TraceConfig, TracesExporter};
use crate::error::Error;

/// Builds the sink of a pipeline: runs on the pipeline's worker thread.
pub(crate) fn build_sink(config: &TraceConfig) -> Result<Box<dyn Sink>, Error> {
    if config.exporter != TracesExporter::Otlp {
        return Ok(Box::new(ConsoleSink));
    }
    let failed = |reason: String| Error::Exporter {
        reason: format!(
            "cannot build the OTLP exporter for {}: {reason}",
            config.endpoint
        ),
    };
    let transport = match config.protocol {
        OtlpProtocol::Grpc => Transport::Grpc(
            grpc::GrpcClient::new(
                &config.endpoint,
                &config.headers,
                config.otlp_timeout,
                pipeline::mark_exporter_thread,
            )
            .map_err(failed)?,
        ),
        OtlpProtocol::HttpProtobuf => Transport::Http(
            http::HttpClient::new(&config.endpoint, &config.headers).map_err(failed)?,
        ),
    };
    Ok(Box::new(OtlpSink {
        transport,
        resource: encode::resource(&resource(config)),
        scope: encode::scope(),
        buf: Vec::new(),
        otlp_timeout: config.otlp_timeout,
        target: config.endpoint.clone(),
    }))
}

/// `service.name`, the resource attributes, and `telemetry.sdk.*` naming obs.
fn resource(config: &TraceConfig) -> Vec<(String, String)> {
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

enum Transport {
    Http(http::HttpClient),
    Grpc(grpc::GrpcClient),
}

struct OtlpSink {
    transport: Transport,
    /// `ResourceSpans.resource` and `ScopeSpans.scope`, encoded once.
    resource: Vec<u8>,
    scope: Vec<u8>,
    /// The request being sent, reused from batch to batch.
    buf: Vec<u8>,
    /// `OTEL_EXPORTER_OTLP_TIMEOUT`: the most one request may take.
    otlp_timeout: Duration,
    target: String,
}

impl Sink for OtlpSink {
    fn export(&mut self, batch: &[Item], timeout: Duration) -> Result<(), String> {
        encode::request(&mut self.buf, &self.resource, &self.scope, batch);
        let timeout = timeout.min(self.otlp_timeout);
        match &mut self.transport {
            Transport::Http(client) => client.post(&self.buf, timeout),
            // tonic takes the request by value: the buffer is handed over and grown anew.
            Transport::Grpc(client) => {
                let capacity = self.buf.len();
                let body = std::mem::replace(&mut self.buf, Vec::with_capacity(capacity));
                client.export(body, timeout)
            }
        }
    }

    fn target(&self) -> String {
        self.target.clone()
    }
}
