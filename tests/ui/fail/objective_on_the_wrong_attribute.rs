use obs_runtime::{counted, in_flight};

#[in_flight(objective(success = 99.9))]
fn gauge() {}

#[counted(objective(latency = "250ms", percentile = 99))]
fn counter() {}

fn main() {
    gauge();
    counter();
}
