//! The tools obs's tests share across packages: the root package's tests (through
//! `tests/common`), traces-demo's and http-tests' depend on this crate as a dev-dependency,
//! so each tool is written once.

mod child;
mod collector;
mod eventually;
mod example;
mod page;
mod tools;

pub use child::child_test;
pub use collector::{Bodies, Head, collector, read_head, recording_collector};
pub use eventually::{Text, eventually, eventually_async, wait_until, wait_until_async};
pub use example::{example, examples};
pub use page::{Family, Page, ParseError, Sample, parse_labels};
pub use tools::{missing, native_promtool, promtool, promtool_check_metrics, trixie};
