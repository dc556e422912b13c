use obs_runtime::traced;

#[traced]
trait Store {
    fn get(&self) -> u32 {
        1
    }
}

struct Mem;
impl Store for Mem {}

fn main() {
    let _ = Mem.get();
}
