use obs_runtime::counted;

#[counted(crate = "obs_runtime")]
fn process() {}

fn main() {
    process();
}
