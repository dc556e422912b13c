use obs_runtime::counted;

#[counted(nmae = "jobs_total")]
fn process() {}

fn main() {
    process();
}
