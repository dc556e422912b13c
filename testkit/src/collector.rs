//! A stand-in OTLP/HTTP collector on loopback that reads each request and gives one answer to
//! all: the exporter's other end when only how it was answered matters (a benchmark's sink, a
//! fault test's failing collector), or, recording, when what arrived at which path matters
//! and the receiver must not refuse a path of its own accord (one endpoint for every signal).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Every request body a [`recording_collector`] received, by path (`/v1/traces`), in order.
pub type Bodies = Arc<Mutex<BTreeMap<String, Vec<Vec<u8>>>>>;

/// Listens on a loopback port; on each connection reads requests (head, then the
/// `Content-Length` body) and answers each, after `delay`, with the status line's `status`
/// (`"200 OK"`, `"503 Service Unavailable"`) and an empty body. Returns its address; it serves
/// until the process ends.
///
/// # Panics
///
/// If no loopback port is free.
pub fn collector(status: &'static str, delay: Duration) -> SocketAddr {
    listen(status, delay, None)
}

/// As [`collector`] answering `200 OK` at once, keeping every request's body under its path,
/// whatever the path: a signal sent to the wrong path shows up as such, not as a refusal.
///
/// # Panics
///
/// If no loopback port is free.
pub fn recording_collector() -> (SocketAddr, Bodies) {
    let bodies = Bodies::default();
    let addr = listen("200 OK", Duration::ZERO, Some(Arc::clone(&bodies)));
    (addr, bodies)
}

fn listen(status: &'static str, delay: Duration, store: Option<Bodies>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let store = store.clone();
            std::thread::spawn(move || answer(stream, status, delay, store.as_ref()));
        }
    });
    addr
}

/// Reads and answers requests on one connection until it closes, keeping each body in
/// `store` if there is one.
fn answer(stream: TcpStream, status: &str, delay: Duration, store: Option<&Bodies>) {
    // An empty protobuf message is a full success answer to an OTLP export.
    let reply = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n"
    );
    let mut reader = BufReader::new(stream);
    while let Some(head) = read_head(&mut reader) {
        let length = head
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if let Some(store) = store {
            let mut store = store
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            store.entry(head.path).or_default().push(body);
        }
        std::thread::sleep(delay);
        if reader.get_mut().write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// The head of an HTTP/1.1 request: its path and its headers.
#[derive(Clone, Debug, Default)]
pub struct Head {
    /// The request line's path (`/v1/traces`).
    pub path: String,
    /// `(name, value)`: the name lowercased, the value trimmed.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first value of header `name` (lowercase).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads a request's line and headers off `reader`, up to the blank line (the body is the
/// caller's to read); `None` when the connection closes first.
pub fn read_head(reader: &mut impl BufRead) -> Option<Head> {
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return None;
    }
    let path = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        let header = line.trim_end();
        if header.is_empty() {
            return Some(Head { path, headers });
        }
        let (name, value) = header.split_once(':').unwrap_or((header, ""));
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
}
