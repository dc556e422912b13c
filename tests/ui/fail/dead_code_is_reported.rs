#![deny(dead_code)]

use obs_runtime::{counted, timed, traced};

#[traced]
fn never_traced() {}

#[counted]
fn never_counted() {}

#[timed]
fn never_timed() {}

#[traced]
async fn never_traced_async() {}

#[counted]
async fn never_counted_async() {}

#[timed]
async fn never_timed_async() {}

fn main() {}
