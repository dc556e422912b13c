//! obs's `otlp` feature beside an application's own OpenTelemetry pipeline, each crate at its
//! default features: opentelemetry-otlp's default `reqwest-blocking-client` met obs's old
//! `hyper-client` and failed to build (E0433 `HyperClient`); obs now depends on no
//! OpenTelemetry crate. Building this proves it; running it exports nowhere.

use opentelemetry::trace::{Tracer as _, TracerProvider as _};

#[obs_runtime::traced]
fn handle(order: u32) -> u32 {
    order * 2
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The application's own OpenTelemetry tracer, as the crate's docs set one up.
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()?;
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(exporter)
        .build();
    let tracer = provider.tracer("app");
    tracer.in_span("startup", |_cx| {});

    let obs = obs_runtime::Builder::new()
        .without_server()
        .traces_exporter(obs_runtime::TracesExporter::None)
        .install()?;
    assert_eq!(handle(21), 42);
    drop(obs);
    let _ = provider.shutdown();
    Ok(())
}
