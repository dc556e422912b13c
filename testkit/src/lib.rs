//! The tools obs's tests share across packages: the root package's tests (through
//! `tests/common`) and traces-demo's (`tests/otlp_receiver`) depend on this crate as a
//! dev-dependency, so each tool is written once.

mod example;

pub use example::{example, examples};
