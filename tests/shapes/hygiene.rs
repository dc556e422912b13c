//! 13. User items named like the paths the expansion uses.

use futures_executor::block_on;

use crate::harness::{assert_calls, module_of, render, setup};

mod shadowing {
    #![allow(dead_code, non_camel_case_types, clippy::all)]

    use ::obs_runtime::{counted, in_flight, timed, traced};

    mod core {}
    mod std {}
    mod metrics {}
    mod tracing {}
    mod obs_runtime {}
    mod linkme {}
    mod __private {}
    struct Option;
    struct Result;
    struct Box;
    struct String;
    struct Vec;
    struct Span;
    struct Instant;
    struct Status;

    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    pub(super) fn shadowed(n: u8) -> ::core::result::Result<u8, ()> {
        // Locals named like the expansion's: hygiene keeps them apart.
        let obs_out = n;
        let obs_status = 1;
        let obs_counted = 2;
        if obs_out == 0 {
            Err(())
        } else {
            Ok(obs_out + obs_status + obs_counted)
        }
    }

    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    pub(super) async fn shadowed_async(n: u8) -> u8 {
        n
    }

    pub(super) struct Shadowed;

    impl Shadowed {
        #[traced]
        #[counted]
        #[timed]
        #[in_flight]
        pub(super) fn boxed(
            &self,
        ) -> ::core::pin::Pin<::std::boxed::Box<dyn ::core::future::Future<Output = u8> + Send + '_>>
        {
            ::std::boxed::Box::pin(async { 1 })
        }
    }
}

#[test]
fn user_items_named_like_the_expansions_paths() {
    setup();
    assert_eq!(shadowing::shadowed(1), Ok(4));
    assert_eq!(shadowing::shadowed(0), Err(()));
    assert_eq!(block_on(shadowing::shadowed_async(5)), 5);
    assert_eq!(block_on(shadowing::Shadowed.boxed()), 1);
    assert_calls("shadowed", &[("ok", 1), ("error", 1)]);
    assert_calls("shadowed_async", &[("ok", 1)]);
    assert_calls("Shadowed::boxed", &[("ok", 1)]);
    let page = render();
    assert_eq!(module_of(&page, "shadowed"), "shapes::hygiene::shadowing");
    assert_eq!(
        module_of(&page, "Shadowed::boxed"),
        "shapes::hygiene::shadowing"
    );
}
