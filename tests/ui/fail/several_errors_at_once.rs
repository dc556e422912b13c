use obs_runtime::{counted, timed};

#[counted(name = "JobsDone", labels(function = "x"), colour = "red")]
#[timed(buckets = [1.0, 0.5])]
fn process() {}

fn main() {
    process();
}
