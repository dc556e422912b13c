//! Names and modules.

use obs_runtime::{counted, in_flight, timed, traced};

use crate::harness::{assert_calls, module_of, render, setup};

mod nested {
    use obs_runtime::{counted, in_flight, timed, traced};

    pub(super) struct Vault<T>(pub(super) T);

    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    pub(super) fn in_a_module() -> u8 {
        1
    }
}

// A type from another module: `type_name` writes its methods `shapes::names::<impl
// shapes::names::nested::Vault<_>>::open`. Types that are not paths keep their shape, less
// module paths.
#[counted]
#[timed]
#[in_flight]
impl<T: Copy> nested::Vault<T> {
    fn open(&self) -> T {
        self.0
    }
}

trait Peek {
    fn peek(&self) -> u8;
}

#[counted]
#[timed]
#[in_flight]
impl Peek for (u8, nested::Vault<u8>) {
    fn peek(&self) -> u8 {
        self.0 + self.1.0
    }
}

#[counted]
#[timed]
#[in_flight]
impl Peek for fn(u8) -> u8 {
    fn peek(&self) -> u8 {
        self(1)
    }
}

#[counted]
#[timed]
#[in_flight]
impl<T> Peek for [T] {
    fn peek(&self) -> u8 {
        u8::try_from(self.len()).unwrap_or(u8::MAX)
    }
}

#[test]
fn methods_of_types_that_are_not_local_paths() {
    fn twice(x: u8) -> u8 {
        x * 2
    }
    setup();
    assert_eq!(nested::Vault(7u32).open(), 7);
    assert_eq!((1u8, nested::Vault(2u8)).peek(), 3);
    assert_eq!((twice as fn(u8) -> u8).peek(), 2);
    assert_eq!([1u16, 2, 3][..].peek(), 3);
    assert_calls("Vault::open", &[("ok", 1)]);
    assert_calls("(u8, Vault)::peek", &[("ok", 1)]);
    assert_calls("fn(u8) -> u8::peek", &[("ok", 1)]);
    assert_calls("[_]::peek", &[("ok", 1)]);
}

#[test]
fn modules_and_fns_nested_in_fns() {
    setup();
    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    fn nested_in_a_test() -> u8 {
        2
    }

    assert_eq!(nested::in_a_module(), 1);
    assert_eq!(nested_in_a_test(), 2);
    assert_calls("in_a_module", &[("ok", 1)]);
    assert_calls("nested_in_a_test", &[("ok", 1)]);
    let page = render();
    assert_eq!(module_of(&page, "in_a_module"), "shapes::names::nested");
    assert_eq!(module_of(&page, "nested_in_a_test"), "shapes::names");
    assert_eq!(module_of(&page, "Account::open"), "shapes::receivers");
}
