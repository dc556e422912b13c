//! The guard `init()` returns.

use std::net::SocketAddr;

use crate::serve::Server;
use crate::traces::TraceGuard;

/// Keeps obs's exporters running; dropping it stops the `/metrics` server and the trace
/// exporter, sending the spans still queued (waiting at most the
/// [`flush_timeout`](crate::Builder::flush_timeout)).
///
/// Recording never stops: instrumented calls are counted with or without a guard, and
/// [`render`](crate::render) works at any time.
#[must_use = "dropping the guard stops the /metrics server and the trace exporter at once"]
#[derive(Debug)]
pub struct ObsGuard {
    pub(super) server: Option<Server>,
    /// Held for its `Drop`: stops and flushes the exporter.
    #[allow(dead_code)]
    pub(super) traces: Option<TraceGuard>,
}

impl ObsGuard {
    /// The address `/metrics` is served on, if a server runs.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.as_ref().map(Server::local_addr)
    }

    /// `http://ADDR/metrics`, if a server runs.
    pub fn metrics_url(&self) -> Option<String> {
        self.local_addr()
            .map(|addr| format!("http://{addr}/metrics"))
    }
}
