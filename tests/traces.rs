//! Traces and logs as a service author sets them up: what the `otlp` feature brings in, the
//! console exporter without it, configuration errors, and an application's own subscriber.
//!
//! No test here installs obs's subscriber: one of them installs another global subscriber
//! first, on purpose.

use std::process::Command;

use obs_runtime::{Builder, Error, LogFormat, Sampler};

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

/// `cargo tree` of obs-runtime's normal dependencies, one crate name a line.
fn tree(features: &[&str]) -> Vec<String> {
    let out = cargo()
        .args([
            "tree",
            "-p",
            "obs-runtime",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "--offline",
        ])
        .args(features)
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

#[test]
fn no_opentelemetry_crate_is_built_and_otlp_adds_only_the_transport() {
    let heavy = |name: &str| {
        name.contains("opentelemetry") || ["tonic", "tokio", "hyper", "prost"].contains(&name)
    };
    let off = tree(&[]);
    assert!(off.iter().any(|n| n == "tracing-subscriber"), "{off:?}");
    let pulled: Vec<_> = off.iter().filter(|n| heavy(n)).collect();
    assert!(pulled.is_empty(), "without `otlp`: {pulled:?}");

    // obs encodes OTLP itself: with `otlp`, the gRPC transport comes in and no
    // OpenTelemetry crate does, so an application's own ones never meet obs's features.
    let on = tree(&["--features", "otlp"]);
    for name in ["tonic", "tokio"] {
        assert!(on.iter().any(|n| n == name), "with `otlp`, {name}: {on:?}");
    }
    let otel: Vec<_> = on.iter().filter(|n| n.contains("opentelemetry")).collect();
    assert!(otel.is_empty(), "with `otlp`: {otel:?}");
    // Chosen on purpose: gzip in pure Rust, no TLS (that is `tls`), no reqwest.
    assert!(on.iter().any(|n| n == "miniz_oxide"), "{on:?}");
    for name in [
        "rustls",
        "openssl",
        "native-tls",
        "reqwest",
        "zstd",
        "libz-sys",
    ] {
        assert!(!on.iter().any(|n| n == name), "with `otlp`, {name}: {on:?}");
    }
    // `tls` is rustls on ring: no aws-lc (cmake and a C toolchain), no OpenSSL.
    let tls = tree(&["--features", "tls"]);
    assert!(
        tls.iter().any(|n| n == "rustls") && tls.iter().any(|n| n == "ring"),
        "{tls:?}"
    );
    for name in [
        "aws-lc-rs",
        "aws-lc-sys",
        "openssl",
        "openssl-sys",
        "native-tls",
    ] {
        assert!(
            !tls.iter().any(|n| n == name),
            "with `tls`, {name}: {tls:?}"
        );
    }
}

/// obs-runtime's `console` example, built alone (so without `otlp`): lines for every span, with
/// parents and statuses, and JSON logs carrying the same ids.
#[test]
fn the_console_exporter_works_without_the_otlp_feature() {
    let out = cargo()
        .args([
            "run",
            "--quiet",
            "-p",
            "obs-runtime",
            "--example",
            "console",
        ])
        .env("OBS_LOG_FORMAT", "json")
        .env_remove("OTEL_TRACES_SAMPLER")
        .env_remove("RUST_LOG")
        .output()
        .expect("cargo run");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stdout}\n{stderr}");

    let field = |line: &str, key: &str| -> String {
        let start = line
            .find(&format!(" {key}="))
            .unwrap_or_else(|| panic!("{key} in {line}"))
            + key.len()
            + 2;
        line[start..].split(' ').next().unwrap().to_owned()
    };
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    let [parse_ok, double_ok, parse_err, double_err] = lines[..] else {
        unreachable!()
    };
    for (line, name) in [
        (parse_ok, "parse"),
        (double_ok, "double"),
        (parse_err, "parse"),
        (double_err, "double"),
    ] {
        assert!(
            line.starts_with(&format!("span name={name} duration=")),
            "{line}"
        );
        assert_eq!(field(line, "trace_id").len(), 32, "{line}");
        assert_eq!(field(line, "span_id").len(), 16, "{line}");
    }
    assert_eq!(field(parse_ok, "parent_id"), field(double_ok, "span_id"));
    assert_eq!(field(parse_ok, "trace_id"), field(double_ok, "trace_id"));
    assert_eq!(field(double_ok, "parent_id"), "none");
    assert_ne!(field(double_ok, "trace_id"), field(double_err, "trace_id"));
    assert_eq!(field(double_ok, "status"), "unset");
    assert!(
        parse_err.contains(r#"status=error description="invalid digit found in string""#),
        "{parse_err}"
    );

    let log: serde_json::Value = serde_json::from_str(
        stderr
            .lines()
            .find(|l| l.contains("\"parsed\""))
            .unwrap_or_else(|| panic!("a log line: {stderr}")),
    )
    .unwrap();
    assert_eq!(log["span"], "double");
    assert_eq!(log["fields"]["n"], 21);
    assert_eq!(
        log["trace_id"].as_str().unwrap(),
        field(double_ok, "trace_id")
    );
    assert_eq!(
        log["span_id"].as_str().unwrap(),
        field(double_ok, "span_id")
    );
}

fn install_with(vars: &[(&'static str, &'static str)]) -> Result<obs_runtime::ObsGuard, Error> {
    let vars = vars.to_vec();
    Builder::new()
        .without_server()
        .env(move |var| {
            vars.iter()
                .find(|(k, _)| *k == var)
                .map(|(_, v)| (*v).to_owned())
        })
        .install()
}

/// Whether obs-runtime was built with `otlp` here (`cargo test --workspace` builds it so).
fn otlp_built() -> bool {
    Builder::new()
        .without_server()
        .without_subscriber()
        .traces_exporter(obs_runtime::TracesExporter::Otlp)
        .env(|_| None)
        .install()
        .is_ok()
}

#[test]
fn every_unusable_variable_is_an_error_that_names_it() {
    let endpoint_cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318")],
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ),
        (
            &[(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "ftp://collector:4318/v1/traces",
            )],
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        ),
    ];
    let endpoints = if otlp_built() { endpoint_cases } else { &[] };
    let without_feature: &[(&[(&str, &str)], &str)] =
        &[(&[("OTEL_TRACES_EXPORTER", "otlp")], "OTEL_TRACES_EXPORTER")];
    let feature = if otlp_built() { &[] } else { without_feature };
    for &(vars, named) in endpoints.iter().chain(feature) {
        let vars: Vec<(&'static str, &'static str)> =
            vars.iter().map(|(k, v)| (leak(k), leak(v))).collect();
        let err = install_with(&vars).expect_err(named);
        assert!(err.to_string().contains(named), "{err}");
    }
    for (vars, named) in [
        (
            &[("OTEL_TRACES_EXPORTER", "jaeger")][..],
            "OTEL_TRACES_EXPORTER",
        ),
        (
            &[("OTEL_TRACES_SAMPLER", "sometimes")],
            "OTEL_TRACES_SAMPLER",
        ),
        (
            &[
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "half"),
            ],
            "OTEL_TRACES_SAMPLER_ARG",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")],
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_HEADERS", "api-key")],
            "OTEL_EXPORTER_OTLP_HEADERS",
        ),
        (
            &[("OTEL_RESOURCE_ATTRIBUTES", "team")],
            "OTEL_RESOURCE_ATTRIBUTES",
        ),
        (
            &[("OTEL_BSP_MAX_QUEUE_SIZE", "lots")],
            "OTEL_BSP_MAX_QUEUE_SIZE",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_TIMEOUT", "10s")],
            "OTEL_EXPORTER_OTLP_TIMEOUT",
        ),
        (&[("OBS_LOG_FORMAT", "yaml")], "OBS_LOG_FORMAT"),
        (&[("RUST_LOG", "info,[request]=debug")], "RUST_LOG"),
        (
            &[("OBS_TRACES_FILTER", "info,my_crate=loud")],
            "OBS_TRACES_FILTER",
        ),
    ] {
        let err = install_with(vars).expect_err(named);
        let text = err.to_string();
        assert!(
            matches!(err, Error::InvalidEnv { var, .. } if var == named),
            "{named}: {text}"
        );
        assert!(text.contains(named), "{text}");
    }
    // Credentials are not repeated.
    let err = install_with(&[(
        "OTEL_EXPORTER_OTLP_HEADERS",
        "authorization=Bearer%20s3cret,oops",
    )])
    .unwrap_err()
    .to_string();
    assert!(!err.contains("s3cret"), "{err}");
}

#[test]
fn every_unusable_setting_is_an_error_that_names_the_method() {
    let err = Builder::new()
        .without_server()
        .sampler(Sampler::TraceIdRatio(1.5))
        .install()
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::InvalidSetting {
                setting: "Builder::sampler",
                ..
            }
        ),
        "{err}"
    );
    let err = Builder::new()
        .without_server()
        .log_filter("info,[span]=debug")
        .install()
        .unwrap_err();
    assert!(err.to_string().starts_with("Builder::log_filter("), "{err}");
    if otlp_built() {
        // (`https://` is an error only without `tls`, which `cargo test --workspace` builds.)
        let err = Builder::new()
            .without_server()
            .otlp_endpoint("ftp://collector:4318")
            .install()
            .unwrap_err();
        assert!(
            err.to_string().starts_with("Builder::otlp_endpoint(")
                && err.to_string().contains("https"),
            "{err}"
        );
    }
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

/// An application that installed its own subscriber gets a clear error, and can opt out and
/// add obs's layers to its own.
#[test]
fn another_global_subscriber_is_reported_and_without_subscriber_works_beside_it() {
    use tracing_subscriber::layer::SubscriberExt as _;

    let own = tracing_subscriber::registry().with(obs_runtime::trace_layer());
    tracing::subscriber::set_global_default(own).expect("the first global subscriber");

    let err = Builder::new().without_server().install().unwrap_err();
    assert!(matches!(err, Error::SubscriberTaken), "{err}");
    assert!(err.to_string().contains("without_subscriber"), "{err}");

    let obs = Builder::new()
        .without_server()
        .without_subscriber()
        .log_format(LogFormat::Json)
        .install()
        .expect("beside the application's subscriber");
    drop(obs);
}
