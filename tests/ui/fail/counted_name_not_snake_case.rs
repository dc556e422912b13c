use obs_runtime::counted;

#[counted(name = "JobsProcessed-total")]
fn process() {}

fn main() {
    process();
}
