use obs_runtime::{counted, timed};

#[counted]
#[timed]
fn parse(input: &str) -> usize {
    let n = input.len() +;
    n
}

fn main() {
    let _ = parse("1");
}
