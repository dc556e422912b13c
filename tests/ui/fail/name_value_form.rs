use obs_runtime::counted;

#[counted = 1]
fn process() {}

fn main() {
    process();
}
