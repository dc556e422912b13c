use obs_runtime::traced;

#[traced(level = 7)]
fn handle() {}

fn main() {
    handle();
}
