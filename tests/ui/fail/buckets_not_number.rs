use obs_runtime::timed;

const SMALL: f64 = 0.1;

#[timed(buckets = [SMALL, 1.0])]
fn query() {}

fn main() {
    let _ = SMALL;
    query();
}
