use obs_runtime::timed;

#[timed(buckets = [0.1, 0.25, 0.5], objective(latency = "300ms", percentile = 99))]
fn checkout() {}

#[timed(objective(latency = "300ms", percentile = 99))]
fn browse() {}

fn main() {
    checkout();
    browse();
}
