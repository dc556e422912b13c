use obs_runtime::timed;

#[timed(name = "query_duration")]
fn query() {}

fn main() {
    query();
}
