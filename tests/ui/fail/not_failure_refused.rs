use obs_runtime::{counted, in_flight, timed, traced};

#[counted(not_failure = ["not_found", "ok"])]
fn lists_ok() {}

#[timed(not_failure = "panic")]
fn lists_panic() {}

#[traced(not_failure = [not_found])]
fn not_a_string() {}

#[counted(not_failure = [])]
fn empty() {}

#[in_flight(not_failure = ["cancelled"])]
fn on_in_flight() {}

fn main() {
    lists_ok();
    lists_panic();
    not_a_string();
    empty();
    on_in_flight();
}
