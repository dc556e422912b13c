//! End to end: the five seed examples (`examples/seed_*.rs`) as their plans' readers run them.
//! Each runs a short deterministic workload; the test scrapes its page, checks it with
//! promtool, and asserts the plan's metric names, label names and values and the exact
//! counts the workload makes. With the console exporter on, it also checks each trace's span
//! tree from the exported span lines, and that the JSON log lines carry the trace ids.
//!
//! One module per seed plan; `harness` runs the examples and reads what they export.

#[path = "../common/mod.rs"]
mod common;

mod harness;

mod jeeves;
mod retrieval;
mod sixseven;
mod victor;
mod viki;
