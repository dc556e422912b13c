use obs_runtime::{record, traced};

#[traced(fields(ticket))]
fn book(seat: u32) -> u64 {
    record!(tikcet = 1);
    u64::from(seat)
}

fn main() {
    book(1);
}
