//! A stand-in OTLP/HTTP collector on loopback that reads each request and gives one answer to
//! all: the exporter's other end when what it sent does not matter, only how it was answered
//! (a benchmark's sink, a fault test's failing collector).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// Listens on a loopback port; on each connection reads requests (head, then the
/// `Content-Length` body) and answers each, after `delay`, with the status line's `status`
/// (`"200 OK"`, `"503 Service Unavailable"`) and an empty body. Returns its address; it serves
/// until the process ends.
///
/// # Panics
///
/// If no loopback port is free.
pub fn collector(status: &'static str, delay: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream, status, delay));
        }
    });
    addr
}

/// Reads and answers requests on one connection until it closes.
fn answer(stream: TcpStream, status: &str, delay: Duration) {
    let reply = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        let mut length = 0usize;
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let header = line.trim_end().to_ascii_lowercase();
            if header.is_empty() {
                break;
            }
            if let Some(v) = header.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        std::thread::sleep(delay);
        if reader.get_mut().write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}
