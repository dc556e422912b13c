use obs_runtime::counted;

#[counted]
mod jobs {
    pub fn process() {}
}

fn main() {
    jobs::process();
}
