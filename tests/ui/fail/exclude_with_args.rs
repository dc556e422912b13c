use obs_runtime::{counted, exclude};

struct Cache;

#[counted]
impl Cache {
    fn get(&self) -> u8 {
        1
    }

    #[exclude(always)]
    fn len(&self) -> usize {
        0
    }
}

fn main() {
    let _ = Cache.get();
    let _ = Cache.len();
}
