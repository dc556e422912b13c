use obs_runtime::timed;

trait Store {
    #[timed]
    fn get(&self) -> u32;
}

struct Mem;
impl Store for Mem {
    fn get(&self) -> u32 {
        1
    }
}

fn main() {
    let _ = Mem.get();
}
