//! `#[expect(dead_code)]` on an instrumented fn is fulfilled: the lint sees the fn as the
//! user wrote it.
#![deny(unfulfilled_lint_expectations)]

use obs_runtime::{counted, timed, traced};

#[expect(dead_code)]
#[traced]
fn never_traced() {}

#[expect(dead_code)]
#[counted]
#[timed]
async fn never_measured() {}

fn main() {}
