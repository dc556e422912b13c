use obs_runtime::timed;

#[timed(buckets = [])]
fn query() {}

fn main() {
    query();
}
