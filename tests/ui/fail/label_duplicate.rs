use obs_runtime::counted;

#[counted(labels(queue = "fast", queue = "slow"))]
fn process() {}

fn main() {
    process();
}
