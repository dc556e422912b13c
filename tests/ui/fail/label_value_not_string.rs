use obs_runtime::counted;

#[counted(labels(shard = 3))]
fn process() {}

fn main() {
    process();
}
