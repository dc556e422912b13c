//! The OTLP/HTTP receiver every exporter of `benches/spans.rs` sends to: a tiny HTTP/1.1
//! server on 127.0.0.1 that accepts `POST /v1/traces` with keep-alive, answers `200` with an
//! empty protobuf body (an `ExportTraceServiceResponse` with nothing set) and counts the spans.
//!
//! Counting walks the protobuf wire format down to the spans (request field 1
//! `resource_spans`, then field 2 `scope_spans`, then field 2 `spans`) without decoding them, so
//! the receiver stays cheap beside the exporters it measures; the first request of each
//! connection is also decoded with `prost` and the two counts must agree. Loopback only; its
//! threads stop with the process (or when it is dropped).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;

/// A running receiver.
pub(crate) struct Receiver {
    addr: SocketAddr,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    spans: AtomicU64,
    requests: AtomicU64,
    stop: AtomicBool,
}

impl Receiver {
    /// Binds a free port on 127.0.0.1 and serves it on a thread of its own.
    pub(crate) fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let counts = Arc::new(Counts::default());
        let shared = Arc::clone(&counts);
        thread::Builder::new()
            .name("otlp-receiver".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if shared.stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let shared = Arc::clone(&shared);
                    thread::spawn(move || serve(conn, &shared));
                }
            })
            .expect("receiver thread");
        Receiver { addr, counts }
    }

    /// The URL exporters `POST` to.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}/v1/traces", self.addr)
    }

    /// Spans received so far.
    pub(crate) fn spans(&self) -> u64 {
        self.counts.spans.load(Ordering::Relaxed)
    }

    /// Requests answered so far.
    pub(crate) fn requests(&self) -> u64 {
        self.counts.requests.load(Ordering::Relaxed)
    }

    /// Waits until at least `spans` were received, or none arrived for half a second;
    /// returns the count.
    pub(crate) fn settle(&self, spans: u64) -> u64 {
        let mut last = (self.spans(), Instant::now());
        loop {
            let now = self.spans();
            if now >= spans {
                return now;
            }
            if now != last.0 {
                last = (now, Instant::now());
            } else if last.1.elapsed() >= Duration::from_millis(500) {
                return now;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.counts.stop.store(true, Ordering::Relaxed);
        // Wakes the accept loop, which then sees `stop`.
        if let Ok(conn) = TcpStream::connect(self.addr) {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }
}

/// Serves one connection until the client closes it.
fn serve(conn: TcpStream, counts: &Counts) {
    let _ = conn.set_nodelay(true);
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    let mut body = Vec::new();
    let mut first = true;
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let post = line.starts_with("POST /v1/traces ");
        let mut length = 0usize;
        let mut chunked = false;
        let mut close = false;
        let mut gzip = false;
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse().unwrap_or(0);
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    chunked = value.eq_ignore_ascii_case("chunked");
                } else if name.eq_ignore_ascii_case("connection") {
                    close = value.eq_ignore_ascii_case("close");
                } else if name.eq_ignore_ascii_case("content-encoding") {
                    gzip = value.eq_ignore_ascii_case("gzip");
                }
            }
        }
        body.clear();
        let read = if chunked {
            read_chunked(&mut reader, &mut body)
        } else {
            body.resize(length, 0);
            reader.read_exact(&mut body).is_ok()
        };
        if !read {
            return;
        }
        if gzip {
            // `OTEL_EXPORTER_OTLP_COMPRESSION=gzip`: the spans are counted in the plain body.
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(body.as_slice())
                .read_to_end(&mut plain)
                .expect("a gzip body");
            body = plain;
        }
        let answer: &[u8] = if post {
            let spans = count_spans(&body).expect("an ExportTraceServiceRequest");
            if first {
                let decoded = ExportTraceServiceRequest::decode(body.as_slice())
                    .expect("an ExportTraceServiceRequest prost decodes");
                let by_prost: usize = decoded
                    .resource_spans
                    .iter()
                    .flat_map(|r| &r.scope_spans)
                    .map(|s| s.spans.len())
                    .sum();
                assert_eq!(by_prost as u64, spans, "the wire scan miscounted");
                first = false;
            }
            counts.spans.fetch_add(spans, Ordering::Relaxed);
            counts.requests.fetch_add(1, Ordering::Relaxed);
            b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n"
        } else {
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        };
        let conn = reader.get_mut();
        if conn.write_all(answer).and_then(|()| conn.flush()).is_err() || close {
            return;
        }
    }
}

fn read_chunked(reader: &mut BufReader<TcpStream>, body: &mut Vec<u8>) -> bool {
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return false;
        }
        let Ok(size) = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
        else {
            return false;
        };
        let start = body.len();
        body.resize(start + size, 0);
        let mut crlf = [0u8; 2];
        if reader.read_exact(&mut body[start..]).is_err() || reader.read_exact(&mut crlf).is_err() {
            return false;
        }
        if size == 0 {
            return true;
        }
    }
}

/// The number of spans in an encoded `ExportTraceServiceRequest`, or `None` if it is not one.
fn count_spans(request: &[u8]) -> Option<u64> {
    let mut spans = 0;
    for resource in fields(request, 1) {
        for scope in fields(resource?, 2) {
            for span in fields(scope?, 2) {
                span?;
                spans += 1;
            }
        }
    }
    Some(spans)
}

/// The length-delimited fields numbered `number` of one message, skipping the others.
fn fields(mut message: &[u8], number: u64) -> impl Iterator<Item = Option<&[u8]>> {
    std::iter::from_fn(move || {
        while !message.is_empty() {
            let Some(key) = varint(&mut message) else {
                message = &[];
                return Some(None);
            };
            let value = match key & 7 {
                0 => varint(&mut message).map(|_| None),
                1 => take(&mut message, 8).map(|_| None),
                2 => varint(&mut message)
                    .and_then(|n| usize::try_from(n).ok())
                    .and_then(|n| take(&mut message, n))
                    .map(Some),
                5 => take(&mut message, 4).map(|_| None),
                _ => None,
            };
            match value {
                None => {
                    message = &[];
                    return Some(None);
                }
                Some(Some(bytes)) if key >> 3 == number => return Some(Some(bytes)),
                Some(_) => {}
            }
        }
        None
    })
}

fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if bytes.len() < n {
        return None;
    }
    let (head, rest) = bytes.split_at(n);
    *bytes = rest;
    Some(head)
}
