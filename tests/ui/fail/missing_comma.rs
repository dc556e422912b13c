use obs_runtime::counted;

#[counted(name = "jobs_total" help = "Jobs.")]
fn process() {}

fn main() {
    process();
}
