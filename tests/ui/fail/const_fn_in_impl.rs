use obs_runtime::{counted, timed};

struct Limits;

// The block's attribute leaves `const fn`s alone; one written on the `const fn` is refused.
#[counted]
impl Limits {
    const fn max() -> u32 {
        10
    }

    #[timed]
    const fn min() -> u32 {
        1
    }
}

fn main() {
    let _ = Limits::max();
    let _ = Limits::min();
}
