use obs_runtime::timed;

#[timed(name = "query_duration_ms")]
fn query() {}

fn main() {
    query();
}
