use obs_runtime::counted;

pub struct Tenant {
    pub id: u32,
}

#[counted(labels(tenant = tenant))]
fn bill(tenant: &Tenant) -> u32 {
    tenant.id
}

fn main() {
    bill(&Tenant { id: 1 });
}
