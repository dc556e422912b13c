use obs_runtime::counted;

struct Store;

// The block's #[counted] is overridden by a method's own; two on one method are a mistake.
#[counted]
impl Store {
    #[counted(name = "gets_total")]
    #[counted(name = "reads_total")]
    fn get(&self) -> u8 {
        1
    }
}

fn main() {
    let _ = Store.get();
}
