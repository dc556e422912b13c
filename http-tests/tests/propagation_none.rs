//! Propagation through a service that records nothing (`OTEL_TRACES_EXPORTER=none`), over
//! real HTTP: the caller's trace goes on.

mod chain;

use std::net::SocketAddr;

fn middle() -> SocketAddr {
    static MIDDLE: std::sync::OnceLock<SocketAddr> = std::sync::OnceLock::new();
    *MIDDLE.get_or_init(|| {
        let guard = obs_runtime::Builder::new()
            .without_server()
            .traces_exporter(obs_runtime::TracesExporter::None)
            .log_format(obs_runtime::LogFormat::Off)
            .install()
            .expect("obs installs");
        std::mem::forget(guard);
        chain::services()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_exporter_the_callers_context_goes_on() {
    chain::the_chain_is_kept(middle()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_exporter_the_w3c_rules_hold() {
    chain::the_w3c_rules_hold_over_http(middle()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_exporter_and_without_a_caller_nothing_is_sent() {
    let got = chain::call(middle(), &[], 1).await;
    assert_eq!(got.one("traceparent"), None, "{got:?}");
}

#[test]
fn an_unknown_propagator_is_an_error_naming_the_variable() {
    let err = obs_runtime::Builder::new()
        .without_server()
        .without_subscriber()
        .env(|var| (var == "OTEL_PROPAGATORS").then(|| "tracecontext,xray".to_owned()))
        .install()
        .expect_err("xray is not a propagator obs has");
    let text = err.to_string();
    assert!(
        text.contains("OTEL_PROPAGATORS") && text.contains("xray") && text.contains("b3multi"),
        "{text}"
    );
}
