//! An OTLP receiver for the trace tests, on the official `opentelemetry-proto` types: gRPC
//! served by tonic, HTTP/protobuf served by hand over a std listener. Also: building and
//! running the examples with a clean environment.
#![allow(dead_code, unreachable_pub)]

pub mod logs;

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use obs_testkit::examples;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as ProtoValue;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use prost::Message as _;

pub mod metrics;

/// Tests that install obs in this process take turns: the span counters are the process's.
static IN_PROCESS: Mutex<()> = Mutex::new(());

/// Holds [`IN_PROCESS`] for one test; a test that failed holding it does not fail the others.
pub fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    IN_PROCESS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An attribute value, simplified.
#[derive(Clone, Debug, PartialEq)]
pub enum Attr {
    Str(String),
    Int(i64),
    Bool(bool),
    Double(f64),
    Other(String),
}

impl Attr {
    pub fn str(&self) -> Option<&str> {
        match self {
            Attr::Str(s) => Some(s),
            _ => None,
        }
    }
}

fn attr(value: Option<&AnyValue>) -> Attr {
    match value.and_then(|v| v.value.as_ref()) {
        Some(ProtoValue::StringValue(s)) => Attr::Str(s.clone()),
        Some(ProtoValue::IntValue(i)) => Attr::Int(*i),
        Some(ProtoValue::BoolValue(b)) => Attr::Bool(*b),
        Some(ProtoValue::DoubleValue(d)) => Attr::Double(*d),
        other => Attr::Other(format!("{other:?}")),
    }
}

fn attrs(list: &[KeyValue]) -> (BTreeMap<String, Attr>, Vec<String>) {
    let keys = list.iter().map(|kv| kv.key.clone()).collect();
    let map = list
        .iter()
        .map(|kv| (kv.key.clone(), attr(kv.value.as_ref())))
        .collect();
    (map, keys)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// One exported span, with its resource.
#[derive(Clone, Debug)]
#[allow(clippy::struct_field_names)]
pub struct Span {
    pub service: String,
    pub resource: BTreeMap<String, Attr>,
    pub scope: String,
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    /// `None` for a root.
    pub parent_id: Option<String>,
    /// 0 unset, 1 ok, 2 error.
    pub status_code: i32,
    pub status_message: String,
    pub attributes: BTreeMap<String, Attr>,
    /// The attribute keys in order, duplicates kept.
    pub keys: Vec<String>,
    pub duration: Duration,
    /// OTLP's `SpanKind`: 1 internal, 2 server, 3 client, 4 producer, 5 consumer.
    pub kind: i32,
    pub start_unix_nanos: u64,
    /// `(name, attributes)` of each event, in order.
    pub events: Vec<(String, BTreeMap<String, Attr>)>,
    /// `(trace id, span id)` of each link.
    pub links: Vec<(String, String)>,
}

impl Span {
    pub fn attr(&self, key: &str) -> Option<&Attr> {
        self.attributes.get(key)
    }
}

fn flatten(batches: &[ResourceSpans]) -> Vec<Span> {
    let mut out = Vec::new();
    for rs in batches {
        let (resource, _) = attrs(rs.resource.as_ref().map_or(&[][..], |r| &r.attributes));
        let service = resource
            .get("service.name")
            .and_then(Attr::str)
            .unwrap_or_default()
            .to_owned();
        for ss in &rs.scope_spans {
            let scope = ss
                .scope
                .as_ref()
                .map(|s| s.name.clone())
                .unwrap_or_default();
            for span in &ss.spans {
                let (attributes, keys) = attrs(&span.attributes);
                let status = span.status.clone().unwrap_or_default();
                out.push(Span {
                    service: service.clone(),
                    resource: resource.clone(),
                    scope: scope.clone(),
                    name: span.name.clone(),
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_id: (!span.parent_span_id.is_empty()
                        && span.parent_span_id.iter().any(|b| *b != 0))
                    .then(|| hex(&span.parent_span_id)),
                    status_code: status.code,
                    status_message: status.message,
                    attributes,
                    keys,
                    duration: Duration::from_nanos(
                        span.end_time_unix_nano
                            .saturating_sub(span.start_time_unix_nano),
                    ),
                    kind: span.kind,
                    start_unix_nanos: span.start_time_unix_nano,
                    events: span
                        .events
                        .iter()
                        .map(|e| (e.name.clone(), attrs(&e.attributes).0))
                        .collect(),
                    links: span
                        .links
                        .iter()
                        .map(|l| (hex(&l.trace_id), hex(&l.span_id)))
                        .collect(),
                });
            }
        }
    }
    out
}

type Store = Arc<Mutex<Vec<ResourceSpans>>>;

/// One OTLP/HTTP request as it arrived.
#[derive(Clone, Debug)]
pub struct Request {
    /// `Content-Encoding`, empty when none.
    pub encoding: String,
    /// The span ids it carried, decoded whatever the answer.
    pub span_ids: Vec<String>,
    /// The status line it was answered with.
    pub status: String,
}

/// What an HTTP receiver answers and remembers.
#[derive(Default)]
struct Http {
    store: Store,
    /// Answers to give, in order, before answering `200 OK` to everything: a status line
    /// and extra header lines, such as `503 Service Unavailable\r\nRetry-After: 1`.
    script: Mutex<std::collections::VecDeque<String>>,
    requests: Mutex<Vec<Request>>,
    metrics: metrics::Store,
}

/// A running receiver; it lives until the test process ends.
pub struct Receiver {
    pub addr: SocketAddr,
    pub protocol: &'static str,
    pub scheme: &'static str,
    store: Store,
    http: Option<Arc<Http>>,
    /// The metrics requests accepted.
    pub metrics: metrics::Store,
    /// The log batches accepted over gRPC (OTLP/HTTP logs: [`logs::LogsReceiver::http`]).
    pub logs: logs::Store,
}

#[derive(Clone)]
struct Service(Store);

#[tonic::async_trait]
impl TraceService for Service {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0
            .lock()
            .unwrap()
            .extend(request.into_inner().resource_spans);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

impl Receiver {
    /// OTLP/gRPC on a free loopback port.
    pub fn grpc() -> Receiver {
        Receiver::grpc_with(None)
    }

    /// OTLP/gRPC over TLS: `(certificate, key, client CA)` as PEM; with a client CA, the
    /// receiver requires a client certificate it signed.
    pub fn grpcs(cert: &str, key: &str, client_ca: Option<&str>) -> Receiver {
        use tonic::transport::{Certificate, Identity, ServerTlsConfig};
        let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(cert, key));
        if let Some(ca) = client_ca {
            tls = tls.client_ca_root(Certificate::from_pem(ca));
        }
        let mut receiver = Receiver::grpc_with(Some(tls));
        receiver.scheme = "https";
        receiver
    }

    fn grpc_with(tls: Option<tonic::transport::ServerTlsConfig>) -> Receiver {
        let store = Store::default();
        let service = Service(Arc::clone(&store));
        let metrics = metrics::Store::default();
        let metrics_service = metrics::service(&metrics);
        let logs = logs::Store::default();
        let logs_service = logs::service(&logs);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let incoming =
                    tonic::transport::server::TcpIncoming::bind("127.0.0.1:0".parse().unwrap())
                        .unwrap();
                tx.send(incoming.local_addr().unwrap()).unwrap();
                let mut server = tonic::transport::Server::builder();
                if let Some(tls) = tls {
                    server = server.tls_config(tls).unwrap();
                }
                server
                    .add_service(
                        TraceServiceServer::new(service)
                            .accept_compressed(tonic::codec::CompressionEncoding::Gzip),
                    )
                    .add_service(metrics_service)
                    .add_service(logs_service)
                    .serve_with_incoming(incoming)
                    .await
                    .unwrap();
            });
        });
        Receiver {
            addr: rx.recv().unwrap(),
            protocol: "grpc",
            scheme: "http",
            store,
            http: None,
            metrics,
            logs,
        }
    }

    /// OTLP/HTTP with protobuf bodies on a free loopback port.
    pub fn http() -> Receiver {
        Receiver::http_answering(&[])
    }

    /// OTLP/HTTP answering `script` in order (a status line, then any header lines), then
    /// `200 OK`; only requests answered 2xx are stored as received spans.
    pub fn http_answering(script: &[&str]) -> Receiver {
        Receiver::serve_http(script, http_connection)
    }

    /// OTLP/HTTP over TLS with `config` (which may require a client certificate); a
    /// handshake that fails closes the connection.
    pub fn https(config: Arc<rustls::ServerConfig>) -> Receiver {
        let mut receiver = Receiver::serve_http(&[], move |stream, http| {
            let conn = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
            http_connection(rustls::StreamOwned::new(conn, stream), http);
        });
        receiver.scheme = "https";
        receiver
    }

    fn serve_http(
        script: &[&str],
        serve: impl Fn(TcpStream, &Http) + Send + Sync + 'static,
    ) -> Receiver {
        let http = Arc::new(Http {
            script: Mutex::new(script.iter().map(|s| (*s).to_owned()).collect()),
            ..Http::default()
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::clone(&http);
        let serve = Arc::new(serve);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let http = Arc::clone(&shared);
                let serve = Arc::clone(&serve);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                std::thread::spawn(move || serve(stream, &http));
            }
        });
        Receiver {
            addr,
            protocol: "http/protobuf",
            scheme: "http",
            store: Arc::clone(&http.store),
            metrics: Arc::clone(&http.metrics),
            logs: logs::Store::default(),
            http: Some(http),
        }
    }

    /// Every OTLP/HTTP request received, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.http
            .as_ref()
            .map(|h| h.requests.lock().unwrap().clone())
            .unwrap_or_default()
    }

    pub fn endpoint(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// The environment that points an example at this receiver.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("OTEL_TRACES_EXPORTER".into(), "otlp".into()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT".into(), self.endpoint()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL".into(), self.protocol.into()),
            ("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into()),
        ]
    }

    pub fn spans(&self) -> Vec<Span> {
        flatten(&self.store.lock().unwrap())
    }

    /// Waits up to `timeout` for at least `n` spans.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Span> {
        obs_testkit::wait_until(timeout, || {
            let spans = self.spans();
            if spans.len() >= n {
                Ok(spans)
            } else {
                Err(spans)
            }
        })
        .unwrap_or_else(|fewer| fewer)
    }
}

/// Serves OTLP/HTTP requests on one connection until it closes.
fn http_connection(stream: impl std::io::Read + std::io::Write, http: &Http) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    while let Some(head) = obs_testkit::read_head(&mut reader) {
        let header = |name| head.header(name).unwrap_or_default();
        let length: usize = header("content-length").parse().unwrap_or(0);
        let chunked = header("transfer-encoding")
            .to_ascii_lowercase()
            .contains("chunked");
        let content_type = header("content-type").to_owned();
        let encoding = header("content-encoding").to_owned();
        let path = head.path;
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                let size = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
                let mut chunk = vec![0; size + 2];
                reader.read_exact(&mut chunk).unwrap();
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else {
            body.resize(length, 0);
            if reader.read_exact(&mut body).is_err() {
                return;
            }
        }
        if encoding == "gzip" {
            body = gunzip(&body);
        }
        if path == "/v1/metrics" {
            if metrics::answer(&http.metrics, &http.script, &body, reader.get_mut()).is_err() {
                return;
            }
            continue;
        }
        let ok = path == "/v1/traces" && content_type == "application/x-protobuf";
        let decoded = ExportTraceServiceRequest::decode(body.as_slice()).ok();
        let scripted = http.script.lock().unwrap().pop_front();
        let status = match (&decoded, scripted) {
            (_, Some(answer)) => answer,
            (Some(_), None) if ok => "200 OK".to_owned(),
            _ => "400 Bad Request".to_owned(),
        };
        let span_ids = decoded
            .as_ref()
            .map(|r| flatten(&r.resource_spans))
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.span_id)
            .collect();
        http.requests.lock().unwrap().push(Request {
            encoding,
            span_ids,
            status: status.clone(),
        });
        if let (Some(request), true) = (decoded, status.starts_with('2')) {
            http.store.lock().unwrap().extend(request.resource_spans);
        }
        let response = ExportTraceServiceResponse {
            partial_success: None,
        }
        .encode_to_vec();
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\n\r\n",
            response.len()
        );
        let writer = reader.get_mut();
        if writer.write_all(head.as_bytes()).is_err()
            || writer.write_all(&response).is_err()
            || writer.flush().is_err()
        {
            return;
        }
    }
}

fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut plain)
        .unwrap();
    plain
}

/// A port nothing listens on.
pub fn dead_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A collector that accepts connections and never answers.
pub fn black_hole() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream); // kept open, never read
        }
    });
    addr
}

/// Builds the examples with the cargo running this test, once per test binary.
pub fn example(name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<(String, PathBuf)>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap();
    if built.is_empty() {
        // `--workspace`: the features `cargo test --workspace` built with, so nothing rebuilds.
        *built = examples(&["--workspace"], &["server", "client"]);
    }
    built.iter().find(|(n, _)| n == name).map_or_else(
        || panic!("cargo printed no executable for example {name}"),
        |(_, p)| p.clone(),
    )
}

/// A command for an example, with every obs and OpenTelemetry variable of this process
/// removed, so only what the test sets applies.
pub fn command(name: &str, env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(example(name));
    for (key, _) in std::env::vars() {
        if key.starts_with("OTEL_") || key.starts_with("OBS_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    cmd
}

/// The server example, running until dropped or stopped.
pub struct Server {
    child: Child,
    pub addr: String,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Server {
    pub fn start(env: &[(String, String)]) -> Server {
        let mut env = env.to_vec();
        env.push(("TRACES_SERVER_ADDR".into(), "127.0.0.1:0".into()));
        env.push(("OTEL_EXPORTER_PROMETHEUS_PORT".into(), "0".into()));
        let mut child = command("server", &env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server example");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let addr = first
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("the server says where it listens: {first:?}"))
            .to_owned();
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        });
        Server {
            child,
            addr,
            stderr: Some(stderr),
        }
    }

    /// Closes its stdin (it flushes and exits), waits, and returns its stderr.
    pub fn stop(mut self) -> String {
        drop(self.child.stdin.take());
        obs_testkit::eventually(
            "the server to exit after stdin closed",
            Duration::from_secs(20),
            || self.child.try_wait().unwrap().ok_or("running"),
        );
        assert!(self.child.wait().unwrap().success(), "the server failed");
        self.stderr.take().unwrap().join().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a run of the client printed.
#[derive(Debug)]
pub struct ClientRun {
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// `(order, trace id)` from its stdout.
    pub traces: Vec<(u32, String)>,
}

/// Runs the client to completion against `server`.
pub fn run_client(env: &[(String, String)], server: &str, orders: u32) -> ClientRun {
    let mut env = env.to_vec();
    env.push(("TRACES_SERVER".into(), server.into()));
    env.push(("TRACES_ORDERS".into(), orders.to_string()));
    let start = Instant::now();
    let out = command("client", &env)
        .stdin(Stdio::null())
        .output()
        .expect("run the client example");
    let elapsed = start.elapsed();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        out.status.success(),
        "the client failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let traces = stdout
        .lines()
        .filter_map(|l| {
            let order = l.strip_prefix("order ")?.split(':').next()?.parse().ok()?;
            let trace = l.rsplit_once("(trace ")?.1.strip_suffix(')')?.to_owned();
            Some((order, trace))
        })
        .collect();
    ClientRun {
        stdout,
        stderr,
        elapsed,
        traces,
    }
}

/// `(name, value)` pairs as owned strings.
pub fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}
