use obs_runtime::traced;

#[traced(parent = struct, follows_from)]
fn handle() {}

fn main() {
    handle();
}
