// `crate = path` finds the runtime through a re-export, and the stacked attributes written
// through that path are merged with the first one.

#![deny(warnings)]

mod reexport {
    pub use obs_runtime as o;
}

#[obs_runtime::counted(crate = reexport::o)]
fn through_reexport() -> u32 {
    1
}

#[reexport::o::timed(crate = reexport::o, buckets = [0.5, 1.0])]
#[reexport::o::counted(name = "jobs_total")]
#[reexport::o::in_flight]
#[reexport::o::traced(level = debug)]
fn stacked_through_reexport(id: u32) -> Result<u32, String> {
    if id == 0 { Err("zero".into()) } else { Ok(id) }
}

struct Cache;

#[obs_runtime::counted(crate = ::obs_runtime)]
impl Cache {
    fn get(&self) -> u8 {
        1
    }

    #[reexport::o::exclude]
    fn len(&self) -> usize {
        0
    }
}

fn main() {
    assert_eq!(through_reexport(), 1);
    assert_eq!(stacked_through_reexport(2), Ok(2));
    assert_eq!(Cache.get(), 1);
    assert_eq!(Cache.len(), 0);
}
