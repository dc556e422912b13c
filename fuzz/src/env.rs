//! The `OTEL_*` and `OBS_*` variables, read through `Builder::env` as `install` reads them.

/// The variables a fuzz input sets, one a line in this order. `OBS_EXPORT_RULES` and
/// `OBS_EXPORT_DASHBOARD` are left out: they name files that `install` writes.
/// `OTEL_EXPORTER_PROMETHEUS_{HOST,PORT}` and `OBS_SCRAPE_*` are read although no server is
/// started.
const VARS: [&str; 24] = [
    "OTEL_TRACES_EXPORTER",
    "OTEL_SDK_DISABLED",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_EXPORT_TIMEOUT",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_EXPORTER_PROMETHEUS_HOST",
    "OTEL_EXPORTER_PROMETHEUS_PORT",
    "OBS_SCRAPE_BEARER_TOKEN",
    "OBS_SCRAPE_BASIC_AUTH",
    "OBS_SERIES_LIMIT",
    "OBS_TRACES_FILTER",
];

/// Arbitrary values for [`VARS`], line `i` of the input for `VARS[i]` (an empty line leaves
/// it unset), through `install` with no server, subscriber, recorder or process metrics:
/// installed or a described error, never a panic.
///
/// `OTEL_TRACES_EXPORTER` left unset means `none`, so most runs start no exporter. One that
/// starts the OTLP exporter sends nothing: no span is made here, and its connection is lazy.
pub fn env(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut values: Vec<(&'static str, String)> = VARS
        .iter()
        .zip(text.split('\n'))
        .filter(|(_, value)| !value.is_empty())
        .map(|(var, value)| (*var, value.to_owned()))
        .collect();
    if !values.iter().any(|(var, _)| *var == "OTEL_TRACES_EXPORTER") {
        values.push(("OTEL_TRACES_EXPORTER", "none".to_owned()));
    }
    let installed = obs_runtime::Builder::new()
        .without_server()
        .without_subscriber()
        .without_recorder()
        .without_process_metrics()
        .env(move |var| {
            values
                .iter()
                .find(|(name, _)| *name == var)
                .map(|(_, value)| value.clone())
        })
        .install();
    match installed {
        Ok(guard) => drop(guard),
        Err(err) => {
            let message = err.to_string();
            assert!(!message.is_empty(), "an error says what is wrong: {err:?}");
        }
    }
    // A valid OBS_SERIES_LIMIT is set for the whole process: put the default back.
    obs_runtime::set_series_limit(1000);
}
