use obs_runtime::{counted, timed};

#[counted(objective(success = 100))]
fn all_or_nothing() {}

#[timed(objective(latency = "250ms", percentile = 0))]
fn none_at_all() {}

#[timed(objective(latency = "fast", percentile = 99))]
fn no_unit() {}

#[timed(objective(latency = "250ms"))]
fn half() {}

fn main() {
    all_or_nothing();
    none_at_all();
    no_unit();
    half();
}
