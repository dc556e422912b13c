use obs_runtime::{counted, timed};

#[counted(status(label = "function"))]
fn label_set_by_obs() {}

#[timed(status(label = "le", ok = "200"))]
fn label_reserved() {}

#[counted(labels(code = "x"), status(label = "code"))]
fn label_already_taken() {}

#[counted(status(ok = 200))]
fn value_not_a_string() {}

fn main() {
    label_set_by_obs();
    label_reserved();
    label_already_taken();
    value_not_a_string();
}
