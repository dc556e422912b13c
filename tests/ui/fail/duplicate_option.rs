use obs_runtime::counted;

#[counted(help = "Jobs.", help = "Jobs processed.")]
fn process() {}

fn main() {
    process();
}
