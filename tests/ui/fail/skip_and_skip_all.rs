use obs_runtime::traced;

#[traced(skip(password), skip_all)]
fn login(user: &str, password: &str) -> bool {
    user.len() < password.len()
}

fn main() {
    let _ = login("ann", "hunter2");
}
