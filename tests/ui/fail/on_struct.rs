use obs_runtime::counted;

#[counted]
struct Job {
    id: u32,
}

fn main() {
    let job = Job { id: 1 };
    let _ = job.id;
}
