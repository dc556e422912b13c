//! A small HTTP/1.1 server for `GET /metrics`, the health probes and the generated files, on
//! threads of its own.
//!
//! It needs no async runtime in the application. One thread accepts; each connection is served
//! on a short-lived thread of its own with a small stack. The limits, so that a slow or hostile
//! client cannot pin the server or grow its memory:
//!
//! - at most [`MAX_CONNECTIONS`] connections at once; when full, the connection that has been
//!   sending its request head the longest (a slowloris) is closed to make room, and only if
//!   every connection is already being answered is the newcomer refused with `503`;
//! - the request head must arrive within [`HEAD_TIMEOUT`] in all and be at most [`MAX_HEAD`]
//!   bytes (`408`, `431`); writes time out after [`IO_TIMEOUT`];
//! - `GET` and `HEAD` only (`405`), known paths only (`404`), every response closes the
//!   connection.
//!
//! Optional auth ([`Auth`]) guards `/metrics` and `/obs/*`; the health probes stay open, as
//! Kubernetes probes carry no credentials.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::health::Probe;
use crate::render::{CONTENT_TYPE, render};

/// Connections served at once.
pub(crate) const MAX_CONNECTIONS: usize = 256;
/// The most a request line plus headers may take.
pub(crate) const MAX_HEAD: usize = 8 * 1024;
/// How long a client may take to send its whole request head.
pub(crate) const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one write of the response may block.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Stack of a connection thread: parsing a head and writing a page need little.
const CONN_STACK: usize = 256 * 1024;

/// Credentials a scraper must present for `/metrics` and `/obs/*`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Auth {
    /// No credentials needed.
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// `Authorization: Basic <base64(user:password)>`, kept encoded.
    Basic(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret.
        f.write_str(match self {
            Auth::None => "None",
            Auth::Bearer(_) => "Bearer(..)",
            Auth::Basic(_) => "Basic(..)",
        })
    }
}

impl Auth {
    /// `user:password` for basic auth.
    pub(crate) fn basic(user_password: &str) -> Auth {
        Auth::Basic(base64(user_password.as_bytes()))
    }

    fn allows(&self, authorization: Option<&str>) -> bool {
        let (scheme, expected) = match self {
            Auth::None => return true,
            Auth::Bearer(token) => ("Bearer", token),
            Auth::Basic(encoded) => ("Basic", encoded),
        };
        let Some(given) = authorization.map(str::trim) else {
            return false;
        };
        let Some((given_scheme, given_value)) = given.split_once(' ') else {
            return false;
        };
        given_scheme.eq_ignore_ascii_case(scheme)
            && constant_time_eq(given_value.trim().as_bytes(), expected.as_bytes())
    }

    fn challenge(&self) -> &'static str {
        match self {
            Auth::Basic(_) => "Basic realm=\"obs\"",
            _ => "Bearer realm=\"obs\"",
        }
    }
}

/// Compares without an early exit, so the time taken does not tell how much of a guess was
/// right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (i, &x) in a.iter().enumerate() {
        diff |= x ^ b.get(i % b.len().max(1)).copied().unwrap_or(0);
    }
    diff == 0
}

fn base64(input: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(TABLE[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A connection being served, as the accept thread sees it.
struct Conn {
    id: u64,
    /// A handle on the socket, to close it from the accept thread.
    socket: TcpStream,
    /// True while the request head is still being read.
    reading: Arc<AtomicBool>,
}

/// The connections being served, in the order they came: oldest first.
#[derive(Default)]
struct Conns {
    list: Mutex<VecDeque<Conn>>,
    next_id: AtomicU64,
}

impl Conns {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Conn>> {
        self.list.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes room for one more: closes the oldest connection still sending its head. `false`
    /// if every connection is being answered.
    fn make_room(&self) -> bool {
        let mut list = self.lock();
        if list.len() < MAX_CONNECTIONS {
            return true;
        }
        let Some(pos) = list.iter().position(|c| c.reading.load(SeqCst)) else {
            return false;
        };
        if let Some(victim) = list.remove(pos) {
            let _ = victim.socket.shutdown(Shutdown::Both);
        }
        true
    }

    fn remove(&self, id: u64) {
        self.lock().retain(|c| c.id != id);
    }
}

/// The running server; stopping it joins the accept thread.
pub(crate) struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub(crate) fn start(addr: SocketAddr, auth: Auth) -> Result<Server, crate::Error> {
        let listener =
            TcpListener::bind(addr).map_err(|source| crate::Error::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| crate::Error::Bind { addr, source })?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let auth = Arc::new(auth);
        let thread = std::thread::Builder::new()
            .name("obs-metrics".into())
            .spawn(move || accept_loop(&listener, &flag, &auth))
            .map_err(crate::Error::Thread)?;
        Ok(Server {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
        // Wake the blocking `accept` with a connection of our own.
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(if wake.is_ipv4() {
                [127, 0, 0, 1].into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, stop: &AtomicBool, auth: &Arc<Auth>) {
    let conns = Arc::new(Conns::default());
    for conn in listener.incoming() {
        if stop.load(SeqCst) {
            break;
        }
        let Ok(mut stream) = conn else {
            // Out of file descriptors and the like: back off instead of spinning.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
        if !conns.make_room() {
            let _ = respond(
                &mut stream,
                "503 Service Unavailable",
                "text/plain",
                &[],
                b"too many connections\n",
                true,
            );
            continue;
        }
        let Ok(handle) = stream.try_clone() else {
            continue;
        };
        let id = conns.next_id.fetch_add(1, SeqCst);
        let reading = Arc::new(AtomicBool::new(true));
        conns.lock().push_back(Conn {
            id,
            socket: handle,
            reading: Arc::clone(&reading),
        });
        let (registry, auth) = (Arc::clone(&conns), Arc::clone(auth));
        let spawned = std::thread::Builder::new()
            .name("obs-metrics-conn".into())
            .stack_size(CONN_STACK)
            .spawn(move || {
                serve(stream, &reading, &auth);
                registry.remove(id);
            });
        if spawned.is_err() {
            conns.remove(id);
        }
    }
    // Stopping: close what is still open.
    for conn in conns.lock().drain(..) {
        let _ = conn.socket.shutdown(Shutdown::Both);
    }
}

/// What a request asked for, as far as this server cares.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Request<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) authorization: Option<&'a str>,
}

/// Why a request head could not be served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BadRequest {
    Malformed,
    TooLarge,
    TooSlow,
}

/// Parses the request line and the `Authorization` header of `head` (everything up to the
/// blank line). Never panics, whatever the bytes.
pub(crate) fn parse_head(head: &[u8]) -> Result<Request<'_>, BadRequest> {
    let text = std::str::from_utf8(head).map_err(|_| BadRequest::Malformed)?;
    let mut lines = text.split("\r\n");
    let line = lines.next().ok_or(BadRequest::Malformed)?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(BadRequest::Malformed);
    };
    if method.is_empty()
        || !method.bytes().all(|b| b.is_ascii_uppercase())
        || !version.starts_with("HTTP/1.")
    {
        return Err(BadRequest::Malformed);
    }
    let path = target.split(['?', '#']).next().unwrap_or(target);
    if !path.starts_with('/') {
        return Err(BadRequest::Malformed);
    }
    let mut authorization = None;
    for header in lines {
        let (name, value) = header.split_once(':').ok_or(BadRequest::Malformed)?;
        if name.eq_ignore_ascii_case("authorization") {
            authorization = Some(value.trim());
        }
    }
    Ok(Request {
        method,
        path,
        authorization,
    })
}

/// Reads until the end of the head: at most [`MAX_HEAD`] bytes within [`HEAD_TIMEOUT`].
fn read_head(stream: &mut TcpStream) -> Result<Vec<u8>, BadRequest> {
    let deadline = Instant::now() + HEAD_TIMEOUT;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(BadRequest::TooSlow);
        }
        let _ = stream.set_read_timeout(Some(left));
        let n = match stream.read(&mut chunk) {
            Ok(0) => return Err(BadRequest::Malformed),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(BadRequest::TooSlow);
            }
            Err(_) => return Err(BadRequest::Malformed),
        };
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.truncate(end);
            return Ok(buf);
        }
        if buf.len() > MAX_HEAD {
            return Err(BadRequest::TooLarge);
        }
    }
}

fn serve(mut stream: TcpStream, reading: &AtomicBool, auth: &Auth) {
    let head = read_head(&mut stream);
    reading.store(false, SeqCst);
    let _ = match head.as_ref().map_err(|e| *e).and_then(|h| parse_head(h)) {
        Err(BadRequest::TooLarge) => {
            let body = b"request head too large\n";
            respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                &[],
                body,
                true,
            )
        }
        Err(BadRequest::TooSlow) => respond(
            &mut stream,
            "408 Request Timeout",
            "text/plain",
            &[],
            b"request head too slow\n",
            true,
        ),
        Err(BadRequest::Malformed) => respond(
            &mut stream,
            "400 Bad Request",
            "text/plain",
            &[],
            b"bad request\n",
            true,
        ),
        Ok(req) => route(&mut stream, &req, auth),
    };
    linger(&mut stream);
}

/// Closes the connection without resetting it: a response written while unread request bytes
/// sit in the socket (a refused oversized head) would otherwise be lost to a TCP reset. Reads
/// and discards at most 256 KiB for at most a quarter of a second.
fn linger(stream: &mut TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(250)));
    let mut sink = [0u8; 4096];
    let mut left = 256 * 1024usize;
    let deadline = Instant::now() + Duration::from_millis(250);
    while left > 0 && Instant::now() < deadline {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

fn route(stream: &mut TcpStream, req: &Request<'_>, auth: &Auth) -> io::Result<()> {
    let head_only = req.method == "HEAD";
    let probe = Probe::from_path(req.path);
    let generated = match req.path {
        "/obs/rules.yml" => Some("application/yaml"),
        "/obs/dashboard.json" => Some("application/json"),
        _ => None,
    };
    if req.path != "/metrics" && probe.is_none() && generated.is_none() {
        let body = b"not found: try /metrics, /health/live, /health/ready, /health/startup, /obs/rules.yml or /obs/dashboard.json\n";
        return respond(stream, "404 Not Found", "text/plain", &[], body, !head_only);
    }
    if req.method != "GET" && !head_only {
        let allow = [("Allow", "GET, HEAD")];
        return respond(
            stream,
            "405 Method Not Allowed",
            "text/plain",
            &allow,
            b"only GET and HEAD\n",
            true,
        );
    }
    if let Some(probe) = probe {
        let report = crate::health::run(probe);
        let status = if report.healthy() {
            "200 OK"
        } else {
            "503 Service Unavailable"
        };
        return respond(
            stream,
            status,
            "application/json",
            &[],
            report.to_json().as_bytes(),
            !head_only,
        );
    }
    if !auth.allows(req.authorization) {
        let challenge = [("WWW-Authenticate", auth.challenge())];
        return respond(
            stream,
            "401 Unauthorized",
            "text/plain",
            &challenge,
            b"credentials needed\n",
            !head_only,
        );
    }
    if let Some(content_type) = generated {
        let body = if req.path == "/obs/rules.yml" {
            crate::rules::rules_yaml()
        } else {
            crate::dashboard::dashboard_json()
        };
        return respond(
            stream,
            "200 OK",
            content_type,
            &[],
            body.as_bytes(),
            !head_only,
        );
    }
    let page = render();
    respond(
        stream,
        "200 OK",
        CONTENT_TYPE,
        &[],
        page.as_bytes(),
        !head_only,
    )
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    with_body: bool,
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes())?;
    if with_body {
        stream.write_all(body)?;
    }
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(method: &'a str, path: &'a str, authorization: Option<&'a str>) -> Request<'a> {
        Request {
            method,
            path,
            authorization,
        }
    }

    #[test]
    fn parses_request_lines() {
        assert_eq!(
            parse_head(b"GET /metrics?x=1 HTTP/1.1\r\nHost: a"),
            Ok(req("GET", "/metrics", None))
        );
        assert_eq!(parse_head(b"HEAD / HTTP/1.0"), Ok(req("HEAD", "/", None)));
        assert_eq!(
            parse_head(b"GET /metrics HTTP/1.1\r\nauthorization:  Bearer x \r\nHost: a"),
            Ok(req("GET", "/metrics", Some("Bearer x")))
        );
        for bad in [
            &b"GET /metrics"[..],
            b"get /metrics HTTP/1.1",
            b"GET metrics HTTP/1.1",
            b"GET /metrics SPDY/3",
            b"\xff\xfe",
            b"GET  /metrics HTTP/1.1",
            b"GET /metrics HTTP/1.1\r\nno colon here",
            b"",
        ] {
            assert_eq!(
                parse_head(bad),
                Err(BadRequest::Malformed),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn base64_matches_the_rfc_examples() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn auth_checks_scheme_and_secret() {
        let bearer = Auth::Bearer("s3cret".into());
        assert!(bearer.allows(Some("Bearer s3cret")));
        assert!(bearer.allows(Some("bearer s3cret")));
        assert!(!bearer.allows(Some("Bearer s3cre")));
        assert!(!bearer.allows(Some("Bearer s3cret2")));
        assert!(!bearer.allows(Some("Basic s3cret")));
        assert!(!bearer.allows(None));
        let basic = Auth::basic("prom:pa ss");
        assert!(basic.allows(Some("Basic cHJvbTpwYSBzcw==")));
        assert!(!basic.allows(Some("Basic cHJvbTpwYXNz")));
        assert!(Auth::None.allows(None));
        assert_eq!(format!("{bearer:?}"), "Bearer(..)");
    }
}
