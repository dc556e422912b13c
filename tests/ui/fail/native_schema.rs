use obs_runtime::{counted, timed};

#[timed(native(schema = 9))]
fn too_fine() {}

#[timed(native(schema = 1.5))]
fn not_whole() {}

#[timed(native(scheme = 3))]
fn typo() {}

#[counted(native)]
fn not_timed() {}

fn main() {
    too_fine();
    not_whole();
    typo();
    not_timed();
}
