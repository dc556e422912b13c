//! obs's layer on a real tonic server (OTLP's trace service, a tonic service with an OK and an
//! error answer), called by a tonic client through obs's client layer.

mod common;

use obs_runtime::http::{ClientLayer, ServerLayer};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;

struct Collector;

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        if request.get_ref().resource_spans.is_empty() {
            return Err(tonic::Status::unavailable(
                "nothing to store: the store is down",
            ));
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

const SERVICE: &str = "opentelemetry.proto.collector.trace.v1.TraceService";
const R: &str = "rpc_server_call_duration_seconds_count";
const C: &str = "rpc_client_call_duration_seconds_count";

/// The series of `family` for `Export` answered with `code`.
fn export(family: &str, code: &str) -> String {
    format!(
        r#"{family}{{rpc_system="grpc",rpc_service="{SERVICE}",rpc_method="Export",rpc_grpc_status_code="{code}"}}"#
    )
}

fn errors(spans: &[common::Captured]) -> Vec<&common::Captured> {
    spans
        .iter()
        .filter(|s| s.get("otel.status_code") == Some("ERROR"))
        .collect()
}

/// One test, not three: the server's answers, the client's view of them and the call to a
/// closed port add to the same series, so they run in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tonic_service_and_its_client_are_measured_by_service_method_and_grpc_status() {
    common::setup();
    let incoming =
        tonic::transport::server::TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = incoming.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .layer(ServerLayer::new())
            .add_service(TraceServiceServer::new(Collector))
            .serve_with_incoming(incoming),
    );
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let channel = tower::Layer::layer(&ClientLayer::new(), channel);
    let mut client = TraceServiceClient::new(channel);
    let ok = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans::default()],
    };
    client.export(ok.clone()).await.expect("OK");
    client.export(ok.clone()).await.expect("OK");
    let refused = client
        .export(ExportTraceServiceRequest::default())
        .await
        .expect_err("UNAVAILABLE");
    assert_eq!(refused.code(), tonic::Code::Unavailable);

    common::wait_value(&export(R, "0"), 2.0).await;
    common::wait_value(&export(R, "14"), 1.0).await;
    common::wait_value(&export(C, "0"), 2.0).await;
    let page = common::wait_value(&export(C, "14"), 1.0).await;
    common::promtool_check(&page);
    let rules = obs_runtime::rules::rules_yaml();
    assert!(
        rules.contains(r#"rpc_client_call_duration_seconds_count{rpc_grpc_status_code!~"0|1"}"#),
        "on a client every code but OK (and CANCELLED, the caller giving up) is a failure:\n{rules}"
    );
    assert!(
        !page.contains("http_client_request_duration_seconds_count{"),
        "a gRPC call is not an HTTP request:\n{page}"
    );
    let name = format!("{SERVICE}/Export");
    let spans = common::wait_spans(&name, 6).await;
    let (server, client_spans): (Vec<_>, Vec<_>) = spans
        .into_iter()
        .partition(|s| s.get("otel.kind") == Some("server"));
    assert_eq!(server.len(), 3, "{server:?}");
    assert_eq!(client_spans.len(), 3, "{client_spans:?}");
    for spans in [&server, &client_spans] {
        assert!(spans.iter().all(|s| s.get("rpc.system") == Some("grpc")
            && s.get("rpc.service") == Some(SERVICE)
            && s.get("rpc.method") == Some("Export")));
        let errors = errors(spans);
        assert_eq!(errors.len(), 1, "{spans:?}");
        assert_eq!(errors[0].get("rpc.grpc.status_code"), Some("14"));
        assert_eq!(errors[0].get("error.type"), Some("14"));
    }
    assert!(
        client_spans
            .iter()
            .all(|s| s.get("otel.kind") == Some("client")
                && !s
                    .fields
                    .keys()
                    .any(|k| k.starts_with("http.") || k == "url.full")),
        "{client_spans:?}"
    );

    // Nothing listens on this port: the transport fails, the application reads UNAVAILABLE.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let origin: http::Uri = format!("http://127.0.0.1:{port}").parse().unwrap();
    let channel = tonic::transport::Endpoint::from(origin.clone()).connect_lazy();
    let channel = tower::Layer::layer(&ClientLayer::new(), channel);
    let closed = TraceServiceClient::with_origin(channel, origin)
        .export(ok)
        .await
        .expect_err("nothing listens");
    assert_eq!(closed.code(), tonic::Code::Unavailable, "{closed:?}");
    common::wait_value(&export(C, "14"), 2.0).await;
    let spans = common::wait_spans(&name, 7).await;
    let port = port.to_string();
    let closed: Vec<_> = spans
        .iter()
        .filter(|s| s.get("server.port") == Some(&*port))
        .collect();
    assert_eq!(closed.len(), 1, "{spans:?}");
    assert_eq!(closed[0].get("otel.kind"), Some("client"));
    assert_eq!(closed[0].get("server.address"), Some("127.0.0.1"));
    assert_eq!(closed[0].get("otel.status_code"), Some("ERROR"));
    assert_eq!(closed[0].get("rpc.grpc.status_code"), Some("14"));
}
