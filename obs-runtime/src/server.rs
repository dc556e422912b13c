//! A small HTTP/1.1 server for `GET /metrics` and the health probes, on threads of its own.
//!
//! It needs no async runtime in the application. One thread accepts; each connection is
//! served on a short-lived thread of its own, at most [`MAX_CONNECTIONS`] at once, with read and
//! write timeouts, so a slow or hostile client cannot pin the server or grow its memory.
//! Every response closes the connection.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::health::Probe;
use crate::render::{CONTENT_TYPE, render};

/// Connections served at once; more are answered `503` and closed.
pub(crate) const MAX_CONNECTIONS: usize = 64;
/// The most a request line plus headers may take.
pub(crate) const MAX_HEAD: usize = 8 * 1024;
/// How long a client may take to send its request, or to take the response.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// The running server; stopping it joins the accept thread.
pub(crate) struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub(crate) fn start(addr: SocketAddr) -> Result<Server, crate::Error> {
        let listener =
            TcpListener::bind(addr).map_err(|source| crate::Error::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| crate::Error::Bind { addr, source })?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("obs-metrics".into())
            .spawn(move || accept_loop(&listener, &flag))
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

fn accept_loop(listener: &TcpListener, stop: &AtomicBool) {
    let active = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        if stop.load(SeqCst) {
            break;
        }
        let Ok(mut stream) = conn else {
            // Out of file descriptors and the like: back off instead of spinning.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
        let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
        if active.fetch_add(1, SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, SeqCst);
            let _ = respond(
                &mut stream,
                "503 Service Unavailable",
                "text/plain",
                b"too many connections\n",
                true,
            );
            continue;
        }
        let slot = Arc::clone(&active);
        let spawned = std::thread::Builder::new()
            .name("obs-metrics-conn".into())
            .spawn(move || {
                serve(stream);
                slot.fetch_sub(1, SeqCst);
            });
        if spawned.is_err() {
            active.fetch_sub(1, SeqCst);
        }
    }
}

/// What a request asked for, as far as this server cares.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Request<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
}

/// Why a request head could not be served.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BadRequest {
    Malformed,
    TooLarge,
}

/// Parses the request line of `head` (everything up to the blank line).
pub(crate) fn parse_head(head: &[u8]) -> Result<Request<'_>, BadRequest> {
    let text = std::str::from_utf8(head).map_err(|_| BadRequest::Malformed)?;
    let line = text.split("\r\n").next().ok_or(BadRequest::Malformed)?;
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
    Ok(Request { method, path })
}

/// Reads until the end of the head, at most [`MAX_HEAD`] bytes.
fn read_head(stream: &mut TcpStream) -> Result<Vec<u8>, BadRequest> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).map_err(|_| BadRequest::Malformed)?;
        if n == 0 {
            return Err(BadRequest::Malformed);
        }
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

fn serve(mut stream: TcpStream) {
    let outcome = match read_head(&mut stream) {
        Err(BadRequest::TooLarge) => respond(
            &mut stream,
            "431 Request Header Fields Too Large",
            "text/plain",
            b"request head too large\n",
            true,
        ),
        Err(BadRequest::Malformed) => respond(
            &mut stream,
            "400 Bad Request",
            "text/plain",
            b"bad request\n",
            true,
        ),
        Ok(head) => match parse_head(&head) {
            Err(_) => respond(
                &mut stream,
                "400 Bad Request",
                "text/plain",
                b"bad request\n",
                true,
            ),
            Ok(req) => route(&mut stream, &req),
        },
    };
    let _ = outcome;
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
    let deadline = std::time::Instant::now() + Duration::from_millis(250);
    while left > 0 && std::time::Instant::now() < deadline {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

fn route(stream: &mut TcpStream, req: &Request<'_>) -> io::Result<()> {
    let head_only = req.method == "HEAD";
    let probe = Probe::from_path(req.path);
    let generated = match req.path {
        "/obs/rules.yml" => Some("application/yaml"),
        "/obs/dashboard.json" => Some("application/json"),
        _ => None,
    };
    if req.path != "/metrics" && probe.is_none() && generated.is_none() {
        let body = b"not found: try /metrics, /health/live, /health/ready, /health/startup, /obs/rules.yml or /obs/dashboard.json\n";
        return respond(stream, "404 Not Found", "text/plain", body, !head_only);
    }
    if req.method != "GET" && !head_only {
        let body = b"only GET and HEAD\n";
        return respond(stream, "405 Method Not Allowed", "text/plain", body, true);
    }
    if let Some(probe) = probe {
        let report = crate::health::run(probe);
        let status = if report.healthy() {
            "200 OK"
        } else {
            "503 Service Unavailable"
        };
        let body = report.to_json();
        return respond(
            stream,
            status,
            "application/json",
            body.as_bytes(),
            !head_only,
        );
    }
    if let Some(content_type) = generated {
        let body = if req.path == "/obs/rules.yml" {
            crate::rules::rules_yaml()
        } else {
            crate::dashboard::dashboard_json()
        };
        return respond(stream, "200 OK", content_type, body.as_bytes(), !head_only);
    }
    let page = render();
    respond(stream, "200 OK", CONTENT_TYPE, page.as_bytes(), !head_only)
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &[u8],
    with_body: bool,
) -> io::Result<()> {
    let allow = if status.starts_with("405") {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{allow}Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    if with_body {
        stream.write_all(body)?;
    }
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_request_lines() {
        assert_eq!(
            parse_head(b"GET /metrics?x=1 HTTP/1.1\r\nHost: a"),
            Ok(Request {
                method: "GET",
                path: "/metrics"
            })
        );
        assert_eq!(
            parse_head(b"HEAD / HTTP/1.0"),
            Ok(Request {
                method: "HEAD",
                path: "/"
            })
        );
        assert_eq!(parse_head(b"GET /metrics"), Err(BadRequest::Malformed));
        assert_eq!(
            parse_head(b"get /metrics HTTP/1.1"),
            Err(BadRequest::Malformed)
        );
        assert_eq!(
            parse_head(b"GET metrics HTTP/1.1"),
            Err(BadRequest::Malformed)
        );
        assert_eq!(
            parse_head(b"GET /metrics SPDY/3"),
            Err(BadRequest::Malformed)
        );
        assert_eq!(parse_head(b"\xff\xfe"), Err(BadRequest::Malformed));
        assert_eq!(
            parse_head(b"GET  /metrics HTTP/1.1"),
            Err(BadRequest::Malformed)
        );
    }
}
