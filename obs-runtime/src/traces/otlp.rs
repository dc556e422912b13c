//! OTLP export through OpenTelemetry's SDK (feature `otlp`).
//!
//! One process-wide tracer provider whose sampler and span processor defer to the active
//! pipeline ([`pipeline`](super::pipeline)): an install swaps the pipeline, never the provider, so the
//! `tracing-opentelemetry` layer in the global subscriber keeps working across installs.
//!
//! The OTLP clients (tonic for gRPC, hyper for HTTP) need a Tokio runtime. obs does not ask the
//! application for one: each pipeline's worker thread owns a current-thread runtime and drives
//! the export on it, so the application may use Tokio, another runtime, or none.

use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::trace::{
    Link, SpanKind, TraceContextExt as _, TraceId, TraceState, TracerProvider as _,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue, Value};
use opentelemetry_otlp::{
    Protocol, WithExportConfig as _, WithHttpConfig as _, WithTonicConfig as _,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::resource::TelemetryResourceDetector;
use opentelemetry_sdk::trace::{
    SamplingDecision, SamplingResult, SdkTracer, SdkTracerProvider, ShouldSample, SpanData,
    SpanExporter as _, SpanProcessor,
};

use super::console::ConsoleSink;
use super::ids::SpanIds;
use super::pipeline::{self, Sink};
use super::settings::{OtlpProtocol, TraceConfig, TracesExporter};
use crate::error::Error;

/// Asks the active pipeline's sampler; drops everything when none is active.
#[derive(Clone, Debug)]
struct SwitchSampler;

impl ShouldSample for SwitchSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let parent = parent_context
            .filter(|cx| cx.has_active_span())
            .map(|cx| cx.span().span_context().clone());
        let sampled = pipeline::with_active(|pipeline| {
            pipeline.sampler.decide(
                parent
                    .as_ref()
                    .map(opentelemetry::trace::SpanContext::is_sampled),
                trace_id.to_bytes(),
            )
        })
        .unwrap_or(false);
        SamplingResult {
            decision: if sampled {
                SamplingDecision::RecordAndSample
            } else {
                SamplingDecision::Drop
            },
            attributes: Vec::new(),
            trace_state: parent.map_or_else(TraceState::default, |p| p.trace_state().clone()),
        }
    }
}

/// Hands every sampled span that ends to the active pipeline.
#[derive(Debug)]
struct SwitchProcessor;

impl SpanProcessor for SwitchProcessor {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() {
            pipeline::submit(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

fn provider() -> &'static SdkTracerProvider {
    static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        SdkTracerProvider::builder()
            .with_sampler(SwitchSampler)
            .with_span_processor(SwitchProcessor)
            // The resource travels with each pipeline: see `build_sink`.
            .with_resource(Resource::builder_empty().build())
            .build()
    })
}

/// The tracer the `tracing-opentelemetry` layer creates spans with.
fn tracer() -> SdkTracer {
    provider().tracer_with_scope(
        InstrumentationScope::builder("obs-runtime")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build(),
    )
}

/// The `tracing-opentelemetry` layer: code location and thread on every span; no busy/idle
/// timings (two clock reads per enter and exit, and attributes no backend shows).
pub(crate) fn layer<S>() -> tracing_opentelemetry::OpenTelemetryLayer<S, SdkTracer>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_opentelemetry::OpenTelemetryLayer::new(tracer())
        .with_tracked_inactivity(false)
        .with_target(false)
}

/// The ids OpenTelemetry gave the span `id`, if its layer knows the span.
pub(crate) fn span_ids(id: &tracing::span::Id, dispatch: &tracing::Dispatch) -> Option<SpanIds> {
    let cx = tracing_opentelemetry::get_otel_context(id, dispatch)?;
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid().then(|| SpanIds {
        trace_id: sc.trace_id().to_bytes(),
        span_id: sc.span_id().to_bytes(),
        sampled: sc.is_sampled(),
    })
}

/// Builds the sink of a pipeline: runs on the pipeline's worker thread.
pub(crate) fn build_sink(config: &TraceConfig) -> Result<Box<dyn Sink>, Error> {
    if config.exporter != TracesExporter::Otlp {
        return Ok(Box::new(ConsoleSink));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .on_thread_start(pipeline::mark_exporter_thread)
        .build()
        .map_err(|e| Error::Exporter {
            reason: format!("cannot start the OTLP exporter's runtime: {e}"),
        })?;
    // The clients spawn their connection tasks on the runtime they are built in.
    let entered = runtime.enter();
    let built = match config.protocol {
        OtlpProtocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(&config.endpoint)
            .with_protocol(Protocol::Grpc)
            .with_timeout(config.otlp_timeout)
            .with_interceptor(Metadata::new(&config.headers)?)
            .build(),
        OtlpProtocol::HttpProtobuf => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(&config.endpoint)
            .with_protocol(Protocol::HttpBinary)
            .with_timeout(config.otlp_timeout)
            .with_http_client(Headers::new(&config.headers, config.otlp_timeout)?)
            .build(),
    };
    let mut exporter = built.map_err(|e| Error::Exporter {
        reason: format!(
            "cannot build the OTLP exporter for {}: {e}",
            config.endpoint
        ),
    })?;
    drop(entered);
    exporter.set_resource(&resource(config));
    Ok(Box::new(OtlpSink {
        runtime,
        exporter,
        target: config.endpoint.clone(),
    }))
}

/// `service.name`, the resource attributes, and the SDK's `telemetry.sdk.*`.
fn resource(config: &TraceConfig) -> Resource {
    Resource::builder_empty()
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_attributes(
            config
                .resource
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        )
        .with_service_name(config.service_name.clone())
        .build()
}

struct OtlpSink {
    runtime: tokio::runtime::Runtime,
    exporter: opentelemetry_otlp::SpanExporter,
    target: String,
}

impl Sink for OtlpSink {
    fn export(&mut self, mut batch: Vec<SpanData>, timeout: Duration) -> Result<(), String> {
        for span in &mut batch {
            dedupe(&mut span.attributes);
        }
        let exporter = &self.exporter;
        // The timer is made inside the runtime: it needs its clock.
        self.runtime
            .block_on(async { tokio::time::timeout(timeout, exporter.export(batch)).await })
            .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))?
            .map_err(|e| e.to_string())
    }

    fn target(&self) -> String {
        self.target.clone()
    }
}

/// One attribute per key, the last recorded: `#[traced]` writes `code.file.path` and
/// `code.line.number` as fields after the layer took them from the span's metadata. The line
/// stays an integer, as the semantic conventions have it.
fn dedupe(attributes: &mut Vec<KeyValue>) {
    let mut kept: Vec<KeyValue> = Vec::with_capacity(attributes.len());
    for kv in attributes.drain(..).rev() {
        if !kept.iter().any(|k| k.key == kv.key) {
            kept.push(kv);
        }
    }
    kept.reverse();
    for kv in &mut kept {
        if kv.key.as_str() == "code.line.number"
            && let Value::String(s) = &kv.value
            && let Ok(line) = s.as_str().parse::<i64>()
        {
            kv.value = Value::I64(line);
        }
    }
    *attributes = kept;
}

/// gRPC metadata from `OTEL_EXPORTER_OTLP_HEADERS` and the builder. It replaces the values the
/// exporter read from the process environment itself, so code wins and nothing is sent twice.
#[derive(Clone)]
struct Metadata(tonic::metadata::MetadataMap);

impl Metadata {
    fn new(headers: &[(String, String)]) -> Result<Self, Error> {
        let mut map = tonic::metadata::MetadataMap::new();
        for (key, value) in headers {
            let bad = |what: &str| Error::Exporter {
                reason: format!("OTLP header {key:?}: {what}"),
            };
            let key = tonic::metadata::MetadataKey::from_bytes(key.to_ascii_lowercase().as_bytes())
                .map_err(|_| bad("not a valid gRPC metadata key"))?;
            let value = value
                .parse()
                .map_err(|_| bad("not a valid gRPC metadata value"))?;
            map.insert(key, value);
        }
        Ok(Metadata(map))
    }
}

impl tonic::service::Interceptor for Metadata {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        for kv in self.0.iter() {
            if let tonic::metadata::KeyAndValueRef::Ascii(key, value) = kv {
                request.metadata_mut().insert(key.clone(), value.clone());
            }
        }
        Ok(request)
    }
}

/// The hyper client, setting the configured headers on every request (replacing, as for gRPC).
#[derive(Debug)]
struct Headers {
    client: opentelemetry_http::hyper::HyperClient,
    headers: http::HeaderMap,
}

impl Headers {
    fn new(headers: &[(String, String)], timeout: Duration) -> Result<Self, Error> {
        let mut map = http::HeaderMap::new();
        for (key, value) in headers {
            let bad = |what: &str| Error::Exporter {
                reason: format!("OTLP header {key:?}: {what}"),
            };
            let name = http::HeaderName::from_bytes(key.as_bytes())
                .map_err(|_| bad("not a valid header name"))?;
            let value =
                http::HeaderValue::from_str(value).map_err(|_| bad("not a valid header value"))?;
            map.insert(name, value);
        }
        Ok(Headers {
            client: opentelemetry_http::hyper::HyperClient::with_default_connector(timeout, None),
            headers: map,
        })
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for Headers {
    async fn send_bytes(
        &self,
        mut request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        for (name, value) in &self.headers {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        self.client.send_bytes(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupe_keeps_the_last_value_and_an_integer_line() {
        let mut attrs = vec![
            KeyValue::new("code.file.path", "a.rs"),
            KeyValue::new("code.line.number", 3_i64),
            KeyValue::new("thread.id", 1_i64),
            KeyValue::new("code.file.path", "b.rs"),
            KeyValue::new("code.line.number", "7"),
        ];
        dedupe(&mut attrs);
        assert_eq!(
            attrs,
            vec![
                KeyValue::new("thread.id", 1_i64),
                KeyValue::new("code.file.path", "b.rs"),
                KeyValue::new("code.line.number", 7_i64),
            ]
        );
    }
}
