//! 10. Trait default methods; methods of generic impls and trait impls.

use std::fmt::Display;

use obs_runtime::{counted, in_flight, timed, traced};

use crate::harness::{assert_calls, setup};

trait Greeter {
    fn name(&self) -> String;

    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    fn greet(&self) -> String {
        format!("hello {}", self.name())
    }

    #[counted]
    #[timed]
    #[in_flight]
    #[traced]
    fn greet_checked(&self) -> Result<String, String> {
        let name = self.name();
        if name.is_empty() {
            Err("no name".to_owned())
        } else {
            Ok(self.greet())
        }
    }
}

struct English;
struct Nobody;

#[traced]
#[counted]
#[timed]
#[in_flight]
impl Greeter for English {
    fn name(&self) -> String {
        "world".to_owned()
    }
}

impl Greeter for Nobody {
    fn name(&self) -> String {
        String::new()
    }
}

struct Wrapper<T>(T);

impl<T: Display + Clone> Wrapper<T> {
    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    fn show(&self) -> String {
        self.0.to_string()
    }

    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    fn map<U, F: FnOnce(T) -> U>(self, f: F) -> Wrapper<U> {
        Wrapper(f(self.0))
    }
}

trait Describe {
    fn describe(&self) -> String;
}

impl<T: Display> Describe for Wrapper<T> {
    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    fn describe(&self) -> String {
        format!("<{}>", self.0)
    }
}

#[test]
fn trait_default_methods_and_generic_impls() {
    setup();
    assert_eq!(English.greet(), "hello world");
    assert_eq!(English.greet_checked(), Ok("hello world".to_owned()));
    assert!(Nobody.greet_checked().is_err());
    assert_eq!(Wrapper(1).show(), "1");
    assert_eq!(Wrapper("a").show(), "a");
    assert_eq!(Wrapper(2).map(|n| n * 2).show(), "4");
    assert_eq!(Wrapper(3.5).describe(), "<3.5>");
    // Default methods are `Trait::method`, whatever the implementing type.
    assert_calls("Greeter::greet", &[("ok", 2)]);
    assert_calls("Greeter::greet_checked", &[("ok", 1), ("error", 1)]);
    // The impl-block attribute instruments the one method the impl has.
    assert_calls("English::name", &[("ok", 3)]);
    // Generic impls: no generic arguments in the label.
    assert_calls("Wrapper::show", &[("ok", 3)]);
    assert_calls("Wrapper::map", &[("ok", 1)]);
    assert_calls("Wrapper::describe", &[("ok", 1)]);
}
