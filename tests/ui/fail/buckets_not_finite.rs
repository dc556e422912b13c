use obs_runtime::timed;

#[timed(buckets = [0.5, 1e400])]
fn query() {}

fn main() {
    query();
}
