//! The live page at `/obs/`: every instrumented function and route of the HTTP layer with its
//! calls, rate, error ratio, latency quantiles, calls in flight and error budgets, a chart of
//! the last 15 minutes, and the recent failed and slowest traces, server-rendered HTML that
//! needs no script; `/obs/functions.json` carries the same numbers.
//!
//! Nothing here runs on an instrumented call. The windows are points obs's own sampler thread
//! takes ([`window`]); the traces are what the exporter's worker already had
//! ([`crate::traces::recent`]). A page is read when it is asked for, on the server's thread.
//!
//! Depends on `metrics` and `traces` (what it reads) and `page` (the service's name); `serve`
//! answers its routes and `setup` starts its sampler.

mod html;
mod json;
mod rows;
mod table;
mod trace;
mod window;

pub(crate) use json::functions_json;
pub(crate) use table::page;
pub(crate) use trace::{check_trace_url, page as trace_page, set_trace_url};
pub(crate) use window::{SamplerGuard, start as start_sampler};

#[doc(hidden)]
pub mod bench {
    //! For `benches/live.rs` only: the page of every function, rendered from points the
    //! sampler would have taken.
    use std::time::Instant;

    /// Takes `ticks` points of every row, as the sampler would.
    pub fn tick() {
        super::window::tick(&super::rows::current(), Instant::now());
    }

    /// Reads every row, as the page and the sampler do first; returns how many.
    #[must_use]
    pub fn read() -> usize {
        super::rows::current().len()
    }

    /// Reads every row and its windows, as the page does before it writes HTML.
    #[must_use]
    pub fn stats() -> usize {
        super::table::read_all(Instant::now()).len()
    }

    /// The page, as `GET /obs/` renders it.
    #[must_use]
    pub fn page() -> String {
        super::table::page(None)
    }
}
