use obs_runtime::timed;

#[timed]
enum State {
    Idle,
}

fn main() {
    let _ = State::Idle;
}
