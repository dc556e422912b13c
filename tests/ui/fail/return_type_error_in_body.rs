use obs_runtime::{counted, traced};

#[counted]
fn count(input: &str) -> u32 {
    input.len()
}

#[traced]
async fn fetch(id: u32) -> Result<u32, String> {
    let n: u64 = u64::from(id);
    Ok(n)
}

fn main() {
    let _ = count("1");
    let _ = fetch(1);
}
