use obs_runtime::{counted, timed, traced};

#[traced]
#[counted]
#[timed]
fn parse(input: &str) -> u32 {
    let n: u32 = input.len();
    n
}

fn main() {
    let _ = parse("1");
}
