use obs_runtime::timed;

#[timed(buckets = 0.5)]
fn query() {}

fn main() {
    query();
}
