//! Propagation through a service that exports over OTLP (to a port nothing listens on: what
//! is sent does not matter here) with `OTEL_PROPAGATORS=tracecontext,baggage,b3,b3multi` and
//! the default parent-based sampler, over real HTTP: sampled and unsampled callers' contexts
//! go on, B3 in and out.

mod chain;

use std::net::SocketAddr;

use chain::{PARENT, TRACE, fields};

fn middle() -> SocketAddr {
    static MIDDLE: std::sync::OnceLock<SocketAddr> = std::sync::OnceLock::new();
    *MIDDLE.get_or_init(|| {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let guard = obs_runtime::Builder::new()
            .without_server()
            .env(|var| {
                (var == "OTEL_PROPAGATORS").then(|| "tracecontext,baggage,b3,b3multi".into())
            })
            .traces_exporter(obs_runtime::TracesExporter::Otlp)
            .otlp_endpoint(endpoint)
            .log_format(obs_runtime::LogFormat::Off)
            .install()
            .expect("obs installs");
        std::mem::forget(guard);
        chain::services()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_otlp_sampled_and_unsampled_contexts_go_on() {
    chain::the_chain_is_kept(middle()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_otlp_the_w3c_rules_hold() {
    chain::the_w3c_rules_hold_over_http(middle()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b3_in_every_configured_format_out() {
    for (flag, w3c_flag) in [("1", "01"), ("0", "00")] {
        let b3 = format!("{TRACE}-{PARENT}-{flag}");
        let got = chain::call(middle(), &[("b3", &b3)], 1).await;
        let tp = got.one("traceparent").expect("traceparent written");
        let (_, trace, parent, flags) = fields(tp);
        assert_eq!((trace, flags), (TRACE, w3c_flag), "{got:?}");
        assert_ne!(parent, PARENT);
        assert_eq!(
            got.one("b3"),
            Some(format!("{TRACE}-{parent}-{flag}").as_str())
        );
        assert_eq!(got.one("x-b3-traceid"), Some(TRACE));
        assert_eq!(got.one("x-b3-spanid"), Some(parent));
        assert_eq!(got.one("x-b3-sampled"), Some(flag));
    }
    // B3's multiple headers, a 64-bit trace id.
    let got = chain::call(
        middle(),
        &[
            ("X-B3-TraceId", "a57d3eff780f198e"),
            ("X-B3-SpanId", PARENT),
            ("X-B3-Sampled", "1"),
        ],
        1,
    )
    .await;
    let (_, trace, _, flags) = fields(got.one("traceparent").unwrap());
    assert_eq!((trace, flags), ("0000000000000000a57d3eff780f198e", "01"));
    // W3C first: with both, traceparent's context wins.
    let w3c = format!("00-{TRACE}-{PARENT}-01");
    let other = format!("80f198ee56343ba864fe8b2a57d3eff7-{PARENT}-1");
    let got = chain::call(middle(), &[("b3", &other), ("traceparent", &w3c)], 1).await;
    assert_eq!(fields(got.one("traceparent").unwrap()).1, TRACE);
}
