use obs_runtime::traced;

#[traced(skip(pasword))]
fn login(user: &str, password: &str) -> bool {
    user.len() < password.len()
}

fn main() {
    let _ = login("ann", "hunter2");
}
