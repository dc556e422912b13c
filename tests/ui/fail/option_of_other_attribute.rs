use obs_runtime::{counted, traced};

#[counted(buckets = [0.1, 1.0])]
fn process() {}

#[traced(help = "Spans.")]
fn handle() {}

fn main() {
    process();
    handle();
}
