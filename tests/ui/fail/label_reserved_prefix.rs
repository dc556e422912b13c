use obs_runtime::counted;

#[counted(labels(__name = "x"))]
fn process() {}

fn main() {
    process();
}
