//! Traces on the console, with no backend and no `otlp` feature: each finished span is one
//! line on standard output, with its duration, status, trace id, span id and parent.
//!
//! ```text
//! cargo run -p obs-runtime --example console
//! OBS_LOG_FORMAT=json cargo run -p obs-runtime --example console   # logs carry the ids
//! ```

use obs_runtime::{TracesExporter, traced};

#[traced]
fn parse(input: &str) -> Result<u32, std::num::ParseIntError> {
    input.trim().parse()
}

#[traced]
fn double(input: &str) -> Result<u32, std::num::ParseIntError> {
    let n = parse(input)?;
    tracing::info!(n, "parsed");
    Ok(n * 2)
}

fn main() -> Result<(), obs_runtime::Error> {
    let obs = obs_runtime::Builder::new()
        .service_name("console-demo")
        .without_server()
        .traces_exporter(TracesExporter::Console)
        .install()?;
    for input in ["21", "x"] {
        let _ = double(input);
    }
    drop(obs); // prints what is still queued
    Ok(())
}
