//! Serving the page: a small HTTP/1.1 server on threads of its own, its scrape credentials,
//! the routes, and the health probes.

mod auth;
mod head;
pub mod health;
mod routes;
mod server;

pub(crate) use auth::Auth;
// For the fuzz targets' hooks (`__private::fuzz`).
#[cfg(fuzzing)]
pub(crate) use head::{PageFormat, page_format, parse_head, wants_openmetrics};
pub(crate) use server::MetricsServer;
