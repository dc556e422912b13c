use obs_runtime::timed;

#[timed(native)]
fn default_schema() {}

#[timed(native(schema = -4), buckets = [0.1])]
fn coarsest() {}

#[timed(native(schema = 8), labels(tier = "free"))]
fn finest() {}

fn main() {
    default_schema();
    coarsest();
    finest();
}
