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
use std::io::Read;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::auth::Auth;
use super::head::parse_head;
use super::head::{BadRequest, read_head};
use super::routes::{respond, route};
use crate::sync::lock;

/// Connections served at once.
pub(crate) const MAX_CONNECTIONS: usize = 256;
/// How long one write of the response may block.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Stack of a connection thread: parsing a head and writing a page need little.
const CONN_STACK: usize = 256 * 1024;

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
        lock(&self.list)
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
pub(crate) struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    pub(crate) fn start(
        addr: SocketAddr,
        auth: Auth,
    ) -> Result<MetricsServer, crate::error::Error> {
        let listener =
            TcpListener::bind(addr).map_err(|source| crate::error::Error::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| crate::error::Error::Bind { addr, source })?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let auth = Arc::new(auth);
        let thread = std::thread::Builder::new()
            .name("obs-metrics".into())
            .spawn(move || accept_loop(&listener, &flag, &auth))
            .map_err(crate::error::Error::Thread)?;
        Ok(MetricsServer {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
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

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsServer")
            .field("addr", &self.local_addr())
            .finish_non_exhaustive()
    }
}
