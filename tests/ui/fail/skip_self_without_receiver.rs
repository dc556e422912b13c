use obs_runtime::traced;

#[traced(skip(self))]
fn login(user: &str) -> bool {
    user.is_empty()
}

fn main() {
    let _ = login("ann");
}
