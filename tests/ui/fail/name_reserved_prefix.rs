use obs_runtime::counted;

#[counted(name = "__jobs_total")]
fn process() {}

fn main() {
    process();
}
