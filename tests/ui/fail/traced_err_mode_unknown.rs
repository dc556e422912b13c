use obs_runtime::traced;

#[traced(err(Verbose), ret(display))]
fn handle() -> Result<(), String> {
    Ok(())
}

fn main() {
    let _ = handle();
}
