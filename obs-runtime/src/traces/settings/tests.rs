use super::*;

fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

fn resolve(pairs: &[(&str, &str)]) -> Result<TraceConfig, Error> {
    TraceConfig::resolve(&TraceSettings::default(), &env(pairs), None)
}

#[test]
fn ratio_sampling_follows_the_trace_id() {
    let low = [0u8; 16];
    let mut high = [0u8; 16];
    high[8] = 0xff;
    assert!(Sampler::TraceIdRatio(0.5).decide(None, low));
    assert!(!Sampler::TraceIdRatio(0.5).decide(None, high));
    assert!(!Sampler::TraceIdRatio(0.0).decide(None, low));
    assert!(Sampler::TraceIdRatio(1.0).decide(None, high));
    assert!(Sampler::ParentBasedTraceIdRatio(0.0).decide(Some(true), low));
    assert!(!Sampler::ParentBasedAlwaysOn.decide(Some(false), low));
}

#[test]
fn every_bad_value_names_its_variable() {
    for (var, value) in [
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        ("OTEL_TRACES_SAMPLER", "sometimes"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
        ("OTEL_RESOURCE_ATTRIBUTES", "a=%zz"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "0"),
        ("OTEL_BSP_SCHEDULE_DELAY", "5s"),
        ("OBS_TRACES_FILTER", "info,[span]=debug"),
    ] {
        let err = resolve(&[(var, value)]).unwrap_err().to_string();
        assert!(err.contains(var), "{var}: {err}");
    }
    let err = resolve(&[
        ("OTEL_TRACES_SAMPLER", "traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
    ])
    .unwrap_err()
    .to_string();
    assert!(err.contains("OTEL_TRACES_SAMPLER_ARG"), "{err}");
}

#[test]
fn header_values_are_never_shown() {
    let settings = TraceSettings {
        transport: TransportSettings {
            headers: vec![("api-key".into(), "s3cret".into())],
            ..TransportSettings::default()
        },
        ..TraceSettings::default()
    };
    let text = format!("{settings:?}");
    assert!(
        text.contains("api-key") && !text.contains("s3cret"),
        "{text}"
    );
}

#[test]
fn otel_sdk_disabled_turns_export_off() {
    let c = resolve(&[
        ("OTEL_SDK_DISABLED", "true"),
        ("OTEL_TRACES_EXPORTER", "console"),
    ])
    .unwrap();
    assert_eq!(c.exporter, TracesExporter::None);
}

#[test]
fn headers_are_never_repeated_in_errors() {
    let err = resolve(&[(
        "OTEL_EXPORTER_OTLP_HEADERS",
        "authorization=Bearer s3cret,x",
    )])
    .unwrap_err()
    .to_string();
    assert!(!err.contains("s3cret"), "{err}");
}

#[cfg(feature = "otlp")]
#[test]
fn endpoints_follow_the_specification() {
    let c = resolve(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")]).unwrap();
    assert_eq!(c.transport.endpoint, "http://collector:4318/v1/traces");
    let c = resolve(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://other:9999/custom",
        ),
    ])
    .unwrap();
    assert_eq!(c.transport.endpoint, "http://other:9999/custom");
    let c = resolve(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
    ])
    .unwrap();
    assert_eq!(c.transport.endpoint, "http://collector:4317");
    assert_eq!(
        resolve(&[]).unwrap().transport.endpoint,
        "http://localhost:4318/v1/traces"
    );
}

#[cfg(all(feature = "otlp", not(feature = "tls")))]
#[test]
fn https_without_the_tls_feature_is_an_error_naming_the_feature() {
    let err = resolve(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://x:4318")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("OTEL_EXPORTER_OTLP_ENDPOINT") && err.contains("`tls` feature"),
        "{err}"
    );
}

#[test]
fn resource_attributes_are_decoded_and_service_name_taken_out() {
    let c = resolve(&[
        ("OTEL_TRACES_EXPORTER", "none"),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment.name=prod,service.name=from%20attrs",
        ),
    ])
    .unwrap();
    assert_eq!(c.service_name, "from attrs");
    assert_eq!(
        c.resource,
        vec![("deployment.environment.name".into(), "prod".into())]
    );
}

#[test]
fn compression_is_read_per_signal_first_and_a_bad_value_names_its_variable() {
    use crate::otlp::OtlpCompression;
    let c = resolve(&[("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")]).unwrap();
    assert_eq!(c.transport.compression, OtlpCompression::Gzip);
    let c = resolve(&[
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "none"),
    ])
    .unwrap();
    assert_eq!(c.transport.compression, OtlpCompression::None);
    for var in [
        "OTEL_EXPORTER_OTLP_COMPRESSION",
        "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    ] {
        let err = resolve(&[(var, "brotli")]).unwrap_err().to_string();
        assert!(err.contains(var) && err.contains("gzip"), "{err}");
    }
}

#[cfg(feature = "otlp")]
#[test]
fn tls_files_need_an_https_endpoint_and_a_key_its_certificate() {
    let err = resolve(&[("OTEL_EXPORTER_OTLP_CERTIFICATE", "/ca.pem")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("OTEL_EXPORTER_OTLP_CERTIFICATE") && err.contains("https://"),
        "{err}"
    );
    let err = resolve(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"),
        ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "/client.key"),
    ])
    .unwrap_err()
    .to_string();
    // Without `tls`, the https:// endpoint is the error; with it, the lonely key.
    let var = if cfg!(feature = "tls") {
        "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY"
    } else {
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    };
    assert!(err.contains(var), "{err}");
}

#[test]
fn obs_traces_tail_turns_tail_sampling_on_with_its_ratio_as_the_head_sampler() {
    let config = resolve(&[("OBS_TRACES_TAIL", "errors,ratio=0.25")]).unwrap();
    assert_eq!(
        config.tail,
        Some(super::TailSampling::new().errors().ratio(0.25))
    );
    assert_eq!(config.sampler, Sampler::ParentBasedTraceIdRatio(0.25));
    let config = resolve(&[
        ("OBS_TRACES_TAIL", "errors"),
        ("OTEL_TRACES_SAMPLER", "always_off"),
    ])
    .unwrap();
    assert_eq!(config.sampler, Sampler::AlwaysOff, "a sampler set stays");
    assert_eq!(resolve(&[]).unwrap().tail, None);
    let err = resolve(&[("OBS_TRACES_TAIL", "errors,slowest=1s")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("OBS_TRACES_TAIL") && err.contains("`slowest=1s`: unknown item"),
        "{err}"
    );
    let settings = TraceSettings {
        tail: Some(super::TailSampling::new().ratio(2.0)),
        ..TraceSettings::default()
    };
    let err = TraceConfig::resolve(&settings, &env(&[]), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("Builder::tail_sampling"), "{err}");
}

#[test]
fn the_exporter_variable_is_read_as_the_other_signals_lists_are() {
    for (value, want) in [
        (" Console ", TracesExporter::Console),
        ("logging", TracesExporter::Console),
        ("console,console", TracesExporter::Console),
        ("none,", TracesExporter::None),
    ] {
        let config = resolve(&[("OTEL_TRACES_EXPORTER", value)]).unwrap();
        assert_eq!(config.exporter, want, "{value:?}");
    }
    for (value, reason) in [
        (
            "otlp,console",
            "obs exports to one place at a time: otlp, console or none",
        ),
        ("zipkin", "expected otlp, console or none"),
        (",", "expected otlp, console or none"),
    ] {
        let err = resolve(&[("OTEL_TRACES_EXPORTER", value)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("OTEL_TRACES_EXPORTER"), "{err}");
        assert!(err.contains(&format!("{value:?}")), "{err}");
        assert!(err.contains(reason), "{value:?}: {err}");
    }
}

#[test]
fn queue_and_batch_sizes_past_what_can_be_allocated_are_refused() {
    // Found by the `env` fuzz target: a queue of 80 trillion spans aborted the process
    // allocating its channel.
    for var in ["OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"] {
        let err = resolve(&[(var, "80000000000000")]).unwrap_err().to_string();
        assert!(err.contains(var), "{err}");
        assert!(err.contains("from 1 to 1048576"), "{err}");
    }
    let config = resolve(&[("OTEL_BSP_MAX_QUEUE_SIZE", "1048576")]).unwrap();
    assert_eq!(config.batch.max_queue, 1 << 20);
}
