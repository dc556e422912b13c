//! The receiver's logs service, on the official `opentelemetry-proto` types: gRPC mounted on
//! the receiver's tonic server beside traces and metrics, OTLP/HTTP (`POST /v1/logs`,
//! protobuf) by hand over a std listener.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::logs::v1::ResourceLogs;
use prost::Message as _;

use super::{Attr, attr, attrs, hex};

/// One received log record, with its resource and scope.
#[derive(Clone, Debug)]
pub struct LogRecord {
    pub service: String,
    /// The instrumentation scope's name: the event's target.
    pub scope: String,
    pub time_unix_nano: u64,
    pub observed_time_unix_nano: u64,
    pub severity_number: i32,
    pub severity_text: String,
    pub body: Option<Attr>,
    pub attributes: BTreeMap<String, Attr>,
    /// Hex; empty when the record has no trace context.
    pub trace_id: String,
    pub span_id: String,
    pub flags: u32,
    pub event_name: String,
}

impl LogRecord {
    pub fn attr(&self, key: &str) -> Option<&Attr> {
        self.attributes.get(key)
    }

    pub fn body(&self) -> &str {
        self.body.as_ref().and_then(Attr::str).unwrap_or_default()
    }
}

fn flatten(batches: &[ResourceLogs]) -> Vec<LogRecord> {
    let mut out = Vec::new();
    for rl in batches {
        let (resource, _) = attrs(rl.resource.as_ref().map_or(&[][..], |r| &r.attributes));
        let service = resource
            .get("service.name")
            .and_then(Attr::str)
            .unwrap_or_default()
            .to_owned();
        for sl in &rl.scope_logs {
            let scope = sl
                .scope
                .as_ref()
                .map(|s| s.name.clone())
                .unwrap_or_default();
            for r in &sl.log_records {
                out.push(LogRecord {
                    service: service.clone(),
                    scope: scope.clone(),
                    time_unix_nano: r.time_unix_nano,
                    observed_time_unix_nano: r.observed_time_unix_nano,
                    severity_number: r.severity_number,
                    severity_text: r.severity_text.clone(),
                    body: r.body.as_ref().map(|b| attr(Some(b))),
                    attributes: attrs(&r.attributes).0,
                    trace_id: hex(&r.trace_id),
                    span_id: hex(&r.span_id),
                    flags: r.flags,
                    event_name: r.event_name.clone(),
                });
            }
        }
    }
    out
}

/// The batches received.
pub type Store = Arc<Mutex<Vec<ResourceLogs>>>;

/// A running logs receiver; it lives until the test process ends.
pub struct LogsReceiver {
    pub addr: SocketAddr,
    pub protocol: &'static str,
    store: Store,
}

#[derive(Clone)]
struct Service(Store);

#[tonic::async_trait]
impl LogsService for Service {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        self.0
            .lock()
            .unwrap()
            .extend(request.into_inner().resource_logs);
        Ok(tonic::Response::new(ExportLogsServiceResponse {
            partial_success: None,
        }))
    }
}

/// The gRPC service, storing into `store`.
pub fn service(store: &Store) -> LogsServiceServer<impl LogsService> {
    LogsServiceServer::new(Service(Arc::clone(store)))
}

impl LogsReceiver {
    /// OTLP/gRPC on a free loopback port: the logs service of a [`super::Receiver`].
    pub fn grpc() -> LogsReceiver {
        let receiver = super::Receiver::grpc();
        LogsReceiver {
            addr: receiver.addr,
            protocol: "grpc",
            store: receiver.logs,
        }
    }

    /// OTLP/HTTP with protobuf bodies on a free loopback port: `POST /v1/logs` only.
    pub fn http() -> LogsReceiver {
        let store = Store::default();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::clone(&store);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let store = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, &store));
            }
        });
        LogsReceiver {
            addr,
            protocol: "http/protobuf",
            store,
        }
    }

    /// The variables that send logs (and only logs) here.
    pub fn env(&self) -> Vec<(String, String)> {
        let endpoint = match self.protocol {
            "grpc" => format!("http://{}", self.addr),
            _ => format!("http://{}/v1/logs", self.addr),
        };
        super::env(&[
            ("OTEL_LOGS_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", self.protocol),
            ("OTEL_BLRP_SCHEDULE_DELAY", "50"),
        ])
    }

    pub fn records(&self) -> Vec<LogRecord> {
        flatten(&self.store.lock().unwrap())
    }

    /// Waits up to `timeout` for a record `found` accepts, and returns every record.
    pub fn wait_for(
        &self,
        timeout: Duration,
        found: impl Fn(&LogRecord) -> bool,
    ) -> Vec<LogRecord> {
        obs_testkit::wait_until(timeout, || {
            let records = self.records();
            if records.iter().any(&found) {
                Ok(records)
            } else {
                Err(records)
            }
        })
        .unwrap_or_else(|without| without)
    }
}

/// Serves `POST /v1/logs` on one connection until it closes; anything else is a 400.
fn serve(stream: TcpStream, store: &Store) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path_ok = line.split_whitespace().nth(1) == Some("/v1/logs");
        let (mut length, mut protobuf) = (0usize, false);
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let Some((name, value)) = line.trim_end().split_once(':') else {
                break;
            };
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "content-type" => protobuf = value.trim() == "application/x-protobuf",
                _ => {}
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let decoded = ExportLogsServiceRequest::decode(body.as_slice()).ok();
        let status = match decoded {
            Some(request) if path_ok && protobuf => {
                store.lock().unwrap().extend(request.resource_logs);
                "200 OK"
            }
            _ => "400 Bad Request",
        };
        let response = ExportLogsServiceResponse {
            partial_success: None,
        }
        .encode_to_vec();
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\n\r\n",
            response.len()
        );
        let writer = reader.get_mut();
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(&response).is_err() {
            return;
        }
    }
}
