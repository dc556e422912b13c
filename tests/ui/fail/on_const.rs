use obs_runtime::counted;

#[counted]
const LIMIT: u32 = 10;

fn main() {
    let _ = LIMIT;
}
