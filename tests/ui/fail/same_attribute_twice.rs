use obs_runtime::counted;

#[counted]
#[counted(name = "jobs_total")]
fn process() {}

fn main() {
    process();
}
