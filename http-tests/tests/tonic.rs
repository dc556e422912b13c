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

const R: &str = "rpc_server_call_duration_seconds_count";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tonic_service_is_measured_by_service_method_and_grpc_status() {
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
    client.export(ok).await.expect("OK");
    let refused = client
        .export(ExportTraceServiceRequest::default())
        .await
        .expect_err("UNAVAILABLE");
    assert_eq!(refused.code(), tonic::Code::Unavailable);

    let service = "opentelemetry.proto.collector.trace.v1.TraceService";
    common::wait_value(
        &format!(r#"{R}{{rpc_system="grpc",rpc_service="{service}",rpc_method="Export",rpc_grpc_status_code="0"}}"#),
        2.0,
    )
    .await;
    let page = common::wait_value(
        &format!(r#"{R}{{rpc_system="grpc",rpc_service="{service}",rpc_method="Export",rpc_grpc_status_code="14"}}"#),
        1.0,
    )
    .await;
    common::promtool_check(&page);
    let spans = common::wait_spans(&format!("{service}/Export"), 3).await;
    assert!(
        spans
            .iter()
            .all(|s| s.get("otel.kind") == Some("server") && s.get("rpc.system") == Some("grpc"))
    );
    assert_eq!(
        spans
            .iter()
            .filter(|s| s.get("otel.status_code") == Some("ERROR"))
            .count(),
        1,
        "{spans:?}"
    );
    assert!(
        spans
            .iter()
            .any(|s| s.get("rpc.grpc.status_code") == Some("14"))
    );
}
