//! The specification's precedence, signal by signal: the signal's own setting in code, its
//! variable, the general setting in code (`Builder::otlp_*`), the general variable.

use super::{OtlpCompression, OtlpProtocol, TransportConfig, TransportSettings};
use crate::otlp::Signal;

const SIGNALS: [(Signal, &str); 3] = [
    (Signal::Traces, "traces"),
    (Signal::Metrics, "metrics"),
    (Signal::Logs, "logs"),
];

fn resolve(
    signal: Signal,
    general: &TransportSettings,
    own: &TransportSettings,
    vars: &[(&str, &str)],
) -> TransportConfig {
    let var = |name: &str| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    };
    TransportConfig::resolve(signal, general, own, &var, true).unwrap()
}

fn endpoint(url: &str) -> TransportSettings {
    TransportSettings {
        endpoint: Some(url.to_owned()),
        ..TransportSettings::default()
    }
}

#[test]
fn a_general_endpoint_with_a_path_is_a_base_for_every_signal() {
    let none = TransportSettings::default();
    for (signal, name) in SIGNALS {
        let want = format!("http://host:4318/prefix/v1/{name}");
        let code = resolve(signal, &endpoint("http://host:4318/prefix/"), &none, &[]);
        assert_eq!(code.endpoint, want, "Builder::otlp_endpoint");
        let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://host:4318/prefix")];
        assert_eq!(resolve(signal, &none, &none, &env).endpoint, want);
        // gRPC has no path per signal: the URL is the channel's.
        let grpc = TransportSettings {
            protocol: Some(OtlpProtocol::Grpc),
            ..endpoint("http://host:4317")
        };
        assert_eq!(
            resolve(signal, &grpc, &none, &[]).endpoint,
            "http://host:4317"
        );
    }
}

#[test]
fn a_signal_endpoint_wins_over_the_general_one_and_code_over_its_variable() {
    let general = endpoint("http://general:4318");
    for (signal, name) in SIGNALS {
        let own_var = format!("OTEL_EXPORTER_OTLP_{}_ENDPOINT", name.to_ascii_uppercase());
        let env = [
            (own_var.as_str(), "http://own-env:1/custom"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://general-env:2"),
        ];
        let none = TransportSettings::default();
        // The signal's variable, as it is, over the general setting in code.
        assert_eq!(
            resolve(signal, &general, &none, &env).endpoint,
            "http://own-env:1/custom"
        );
        // The signal's own in code over its variable.
        let own = endpoint("http://own-code:3/exact");
        assert_eq!(
            resolve(signal, &general, &own, &env).endpoint,
            "http://own-code:3/exact"
        );
        // The general setting in code over the general variable.
        let general_env = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://general-env:2")];
        assert_eq!(
            resolve(signal, &general, &none, &general_env).endpoint,
            format!("http://general:4318/v1/{name}")
        );
    }
}

#[test]
fn general_headers_compression_and_protocol_reach_every_signal_below_its_own() {
    let general = TransportSettings {
        headers: vec![("b".into(), "code".into())],
        compression: Some(OtlpCompression::Gzip),
        protocol: Some(OtlpProtocol::Grpc),
        ..TransportSettings::default()
    };
    let none = TransportSettings::default();
    for (signal, name) in SIGNALS {
        let upper = name.to_ascii_uppercase();
        let general_env = [("OTEL_EXPORTER_OTLP_HEADERS", "a=env,b=env")];
        let got = resolve(signal, &general, &none, &general_env);
        assert_eq!(got.compression, OtlpCompression::Gzip);
        assert_eq!(got.protocol, OtlpProtocol::Grpc);
        assert_eq!(
            got.headers,
            [("a".into(), "env".into()), ("b".into(), "code".into())]
        );
        // The signal's variables win over the general code, and its headers variable
        // replaces the general variable whole.
        let headers = format!("OTEL_EXPORTER_OTLP_{upper}_HEADERS");
        let compression = format!("OTEL_EXPORTER_OTLP_{upper}_COMPRESSION");
        let protocol = format!("OTEL_EXPORTER_OTLP_{upper}_PROTOCOL");
        let env = [
            ("OTEL_EXPORTER_OTLP_HEADERS", "a=env,b=env"),
            (headers.as_str(), "b=own,c=own"),
            (compression.as_str(), "none"),
            (protocol.as_str(), "http/protobuf"),
        ];
        let got = resolve(signal, &general, &none, &env);
        assert_eq!(got.compression, OtlpCompression::None);
        assert_eq!(got.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(
            got.headers,
            [("b".into(), "own".into()), ("c".into(), "own".into())]
        );
        // The signal's own in code over everything.
        let own = TransportSettings {
            headers: vec![("c".into(), "own-code".into())],
            compression: Some(OtlpCompression::Gzip),
            ..TransportSettings::default()
        };
        let got = resolve(signal, &general, &own, &env);
        assert_eq!(got.compression, OtlpCompression::Gzip);
        assert_eq!(
            got.headers,
            [("b".into(), "own".into()), ("c".into(), "own-code".into())]
        );
    }
}

#[test]
fn a_bad_general_endpoint_in_code_is_named_by_its_method_for_every_signal() {
    let none = TransportSettings::default();
    for (signal, _) in SIGNALS {
        let var = |_: &str| None;
        let err = TransportConfig::resolve(signal, &endpoint("ftp://collector"), &none, &var, true)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("Builder::otlp_endpoint("), "{err}");
    }
}

#[test]
fn a_general_endpoint_ending_in_a_signal_path_is_refused_with_the_fix() {
    let none = TransportSettings::default();
    let var = |_: &str| None;
    for (signal, _) in SIGNALS {
        let err = TransportConfig::resolve(
            signal,
            &endpoint("http://collector:4318/v1/traces"),
            &none,
            &var,
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("Builder::otlp_endpoint("), "{err}");
        assert!(err.contains("otlp_traces_endpoint"), "{err}");
        let env = |name: &str| {
            (name == "OTEL_EXPORTER_OTLP_ENDPOINT").then(|| "http://collector:4318/v1/logs/".into())
        };
        let err = TransportConfig::resolve(signal, &none, &none, &env, true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("OTEL_EXPORTER_OTLP_ENDPOINT"), "{err}");
        assert!(err.contains("already ends in /v1/logs"), "{err}");
    }
    // A signal's own endpoint is a full URL: its path is kept.
    let own = endpoint("http://collector:4318/v1/traces");
    let got = TransportConfig::resolve(Signal::Traces, &none, &own, &var, true).unwrap();
    assert_eq!(got.endpoint, "http://collector:4318/v1/traces");
}
