use obs_runtime::counted;

#[counted(name = "jobs_processed")]
fn process() {}

fn main() {
    process();
}
