// A wrong return type inside an instrumented async fn is reported on the user's tokens
// (the body, the early `return`), as it is without the attribute.
use obs_runtime::traced;
use std::fmt::Display;

#[traced]
async fn describe() -> impl Display {
}

#[traced]
async fn checked(x: u32) -> u32 {
    if x > 1 {
        return "too big";
    }
    x
}

fn main() {
    let _ = describe();
    let _ = checked(1);
}
