use obs_runtime::traced;

#[traced(level = "verbose")]
fn handle() {}

fn main() {
    handle();
}
