use obs_runtime::{counted, timed};

struct Store;

// A mistake in a method's own attribute is reported once, with the block's expansion.
#[counted]
impl Store {
    #[timed(buckets = [])]
    fn get(&self) -> u8 {
        1
    }

    #[counted(name = "reads")]
    fn read(&self) -> u8 {
        2
    }
}

fn main() {
    let _ = Store.get();
    let _ = Store.read();
}
