use obs_runtime::{counted, timed};

#[timed]
#[counted = "jobs_total"]
fn process() {}

fn main() {
    process();
}
