use obs_runtime::counted;

#[counted(name = "requests_count")]
fn handle() {}

fn main() {
    handle();
}
