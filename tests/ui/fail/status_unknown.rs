use obs_runtime::{counted, timed};

// `status(..)` maps obs's own statuses to the plan's values: the key is obs's name.
#[counted(status(success = "success"))]
fn plan_word_as_key() {}

#[timed(status(timout = "504"))]
fn typo() {}

#[counted(status(throttled = "429"))]
fn not_a_builtin_status() {}

#[counted(status())]
fn renames_nothing() {}

fn main() {
    plan_word_as_key();
    typo();
    not_a_builtin_status();
    renames_nothing();
}
