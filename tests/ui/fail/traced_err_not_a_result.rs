use obs_runtime::traced;

struct NotDisplay;

#[traced(err)]
fn count() -> u32 {
    1
}

#[traced(err)]
fn fails() -> Result<(), NotDisplay> {
    Err(NotDisplay)
}

#[traced(parent = 5)]
fn parented() {}


struct Opaque;

#[traced(ret)]
fn opaque() -> Opaque {
    Opaque
}

fn main() {
    let _ = count();
    let _ = fails();
    parented();
    let _ = opaque();
}
