use obs_runtime::timed;

#[timed(buckets = [-0.5, 1.0])]
fn query() {}

fn main() {
    query();
}
