//! Two services in one trace: `examples/server.rs` and `examples/client.rs`, and the tests
//! that run them against an OTLP receiver (`tests/otlp.rs`). Nothing to link against.
