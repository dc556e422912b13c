use obs_runtime::counted;

#[counted(labels(status = "ok", le = "1"))]
fn process() {}

fn main() {
    process();
}
