use obs_runtime::in_flight;

#[in_flight(name = "active_requests_total")]
fn handle() {}

fn main() {
    handle();
}
