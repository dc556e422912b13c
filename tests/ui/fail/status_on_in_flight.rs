use obs_runtime::{in_flight, traced};

#[in_flight(status(ok = "success"))]
fn gauge() {}

#[traced(status(ok = "success"))]
fn span() {}

fn main() {
    gauge();
    span();
}
