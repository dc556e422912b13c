//! One test per rule of W3C Trace Context level 1 (§3.2 `traceparent`, §3.3 `tracestate`),
//! at the parser; `super::super::tests` checks the header-level rules (casing, duplicates,
//! combined headers) through `extract_headers`, and http-tests over real HTTP.

use super::*;

const TRACE: &str = "12345678901234567890123456789012";
const PARENT: &str = "1234567890123456";

fn tp(version: &str, trace: &str, parent: &str, flags: &str) -> String {
    format!("{version}-{trace}-{parent}-{flags}")
}

fn trace_of(value: &str) -> Option<String> {
    parse_traceparent(value).map(|(t, _, _)| to_hex(&t))
}

fn state(values: &[&str]) -> Option<String> {
    parse_tracestate(values).map(|s| s.to_string())
}

#[test]
fn traceparent_version_00_reads_four_fields() {
    let (trace, parent, sampled) = parse_traceparent(&tp("00", TRACE, PARENT, "01")).unwrap();
    assert_eq!(
        (to_hex(&trace).as_str(), to_hex(&parent).as_str()),
        (TRACE, PARENT)
    );
    assert!(sampled);
    assert!(!parse_traceparent(&tp("00", TRACE, PARENT, "00")).unwrap().2);
    // Other flag bits are not "sampled".
    assert!(!parse_traceparent(&tp("00", TRACE, PARENT, "02")).unwrap().2);
}

#[test]
fn traceparent_version_00_with_extra_data_is_invalid() {
    for extra in [".", "-what-the-future-will-be-like", "-"] {
        let value = tp("00", TRACE, PARENT, "01") + extra;
        assert_eq!(trace_of(&value), None, "{value}");
    }
}

#[test]
fn traceparent_future_version_reads_first_four_fields() {
    assert_eq!(
        trace_of(&tp("cc", TRACE, PARENT, "01")).as_deref(),
        Some(TRACE)
    );
    let more = tp("cc", TRACE, PARENT, "01") + "-what-the-future-will-be-like";
    assert_eq!(trace_of(&more).as_deref(), Some(TRACE));
    // What follows the flags must start a new field.
    let glued = tp("cc", TRACE, PARENT, "01") + ".what-the-future-will-be-like";
    assert_eq!(trace_of(&glued), None);
}

#[test]
fn traceparent_version_ff_is_invalid() {
    assert_eq!(trace_of(&tp("ff", TRACE, PARENT, "01")), None);
}

#[test]
fn traceparent_version_is_two_lowercase_hex_digits() {
    for version in [".0", "0.", "000", "0000", "0", "0A", "g0"] {
        assert_eq!(
            trace_of(&tp(version, TRACE, PARENT, "01")),
            None,
            "{version}"
        );
    }
}

#[test]
fn traceparent_trace_id_all_zero_is_invalid() {
    let zero = "0".repeat(32);
    assert_eq!(trace_of(&tp("00", &zero, PARENT, "01")), None);
}

#[test]
fn traceparent_parent_id_all_zero_is_invalid() {
    assert_eq!(trace_of(&tp("00", TRACE, "0000000000000000", "01")), None);
}

#[test]
fn traceparent_trace_id_is_32_lowercase_hex_digits() {
    for trace in [
        ".2345678901234567890123456789012",
        "1234567890123456789012345678901.",
        "123456789012345678901234567890123",
        "1234567890123456789012345678901",
        "1234567890123456789012345678901A",
    ] {
        assert_eq!(trace_of(&tp("00", trace, PARENT, "01")), None, "{trace}");
    }
}

#[test]
fn traceparent_parent_id_is_16_lowercase_hex_digits() {
    for parent in [
        ".234567890123456",
        "123456789012345.",
        "12345678901234567",
        "123456789012345",
        "123456789012345F",
    ] {
        assert_eq!(trace_of(&tp("00", TRACE, parent, "01")), None, "{parent}");
    }
}

#[test]
fn traceparent_flags_are_two_lowercase_hex_digits() {
    for flags in [".0", "0.", "001", "1", "0F"] {
        assert_eq!(trace_of(&tp("00", TRACE, PARENT, flags)), None, "{flags}");
    }
}

#[test]
fn traceparent_uppercase_hex_is_invalid() {
    let upper = "1234567890ABCDEF1234567890ABCDEF";
    assert_eq!(trace_of(&tp("00", upper, PARENT, "01")), None);
}

#[test]
fn traceparent_white_space_around_the_value_is_ignored() {
    let value = tp("00", TRACE, PARENT, "01");
    for padded in [
        format!(" {value}"),
        format!("\t{value}"),
        format!("{value} "),
        format!("{value}\t"),
        format!("\t {value} \t"),
    ] {
        assert_eq!(trace_of(&padded).as_deref(), Some(TRACE), "{padded:?}");
    }
}

#[test]
fn traceparent_twice_restarts_the_trace() {
    let one = tp("00", TRACE, PARENT, "01");
    let two = tp("00", "12345678901234567890123456789011", PARENT, "01");
    assert!(single_traceparent(&[&one]).is_some());
    assert_eq!(single_traceparent(&[&one, &two]), None);
    assert_eq!(single_traceparent(&[&one, &one]), None);
    assert_eq!(single_traceparent(&[]), None);
}

#[test]
fn tracestate_headers_combine_in_order() {
    assert_eq!(
        state(&["foo=1,bar=2", "rojo=1,congo=2", "baz=3"]).as_deref(),
        Some("foo=1,bar=2,rojo=1,congo=2,baz=3")
    );
}

#[test]
fn tracestate_empty_members_and_headers_are_skipped() {
    assert_eq!(state(&[""]), None);
    assert_eq!(state(&["foo=1", ""]).as_deref(), Some("foo=1"));
    assert_eq!(state(&["", "foo=1"]).as_deref(), Some("foo=1"));
    assert_eq!(state(&["foo=1,,,bar=2,"]).as_deref(), Some("foo=1,bar=2"));
}

#[test]
fn tracestate_white_space_around_members_is_ignored() {
    for value in [
        "foo=1 \t , \t bar=2, \t baz=3",
        "foo=1\t \t,\t \tbar=2,\t \tbaz=3",
    ] {
        assert_eq!(
            state(&[value]).as_deref(),
            Some("foo=1,bar=2,baz=3"),
            "{value:?}"
        );
    }
    for value in [" foo=1", "\tfoo=1", "foo=1 ", "foo=1\t", "\t foo=1 \t"] {
        assert_eq!(state(&[value]).as_deref(), Some("foo=1"), "{value:?}");
    }
}

#[test]
fn tracestate_duplicate_keys_drop_the_whole_state() {
    assert_eq!(state(&["foo=1,foo=1"]), None);
    assert_eq!(state(&["foo=1,foo=2"]), None);
    assert_eq!(state(&["foo=1", "foo=1"]), None);
    assert_eq!(state(&["foo=1", "foo=2"]), None);
}

#[test]
fn tracestate_all_allowed_characters_pass() {
    let key: String = ('a'..='z').chain('0'..='9').chain("_-*/".chars()).collect();
    let value: String = (0x20u8..=0x7e)
        .filter(|b| *b != b',' && *b != b'=')
        .map(char::from)
        .collect();
    let member = format!("{key}={value}");
    assert_eq!(state(&[&member]).as_deref(), Some(member.as_str()));
    let tenant = format!("{key}@a-z0-9_-*/={value}");
    assert_eq!(state(&[&tenant]).as_deref(), Some(tenant.as_str()));
}

#[test]
fn tracestate_key_grammar_is_lowercase_letters_digits_and_four_marks() {
    for bad in ["foo =1", "FOO=1", "foo.bar=1", "1foo=1", "=1", "_foo=1"] {
        assert_eq!(state(&[bad]), None, "{bad}");
    }
}

#[test]
fn tracestate_multi_tenant_key_is_tenant_at_system() {
    for bad in [
        "foo@=1,bar=2",
        "@foo=1,bar=2",
        "foo@@bar=1,bar=2",
        "foo@bar@baz=1,bar=2",
    ] {
        assert_eq!(state(&[bad]), None, "{bad}");
    }
    // A tenant may start with a digit, a system may not.
    assert!(state(&["1tenant@sys=1"]).is_some());
    assert_eq!(state(&["tenant@1sys=1"]), None);
}

#[test]
fn tracestate_key_length_limits() {
    let simple = |n| format!("{}=1", "z".repeat(n));
    assert!(state(&["foo=1", &simple(256)]).is_some());
    assert_eq!(state(&["foo=1", &simple(257)]), None);
    let tenant = |t, s| format!("{}@{}=1", "t".repeat(t), "v".repeat(s));
    assert!(state(&["foo=1", &tenant(241, 14)]).is_some());
    assert_eq!(state(&["foo=1", &tenant(242, 1)]), None);
    assert_eq!(state(&["foo=1", &tenant(1, 15)]), None);
}

#[test]
fn tracestate_value_grammar() {
    assert_eq!(state(&["foo=bar=baz"]), None);
    assert_eq!(state(&["foo=,bar=3"]), None);
    assert_eq!(state(&["foo"]), None);
    assert_eq!(state(&["foo=caf\u{e9}"]), None);
    assert_eq!(state(&["foo=a\u{7f}"]), None);
    assert!(state(&[&format!("foo={}", "v".repeat(256))]).is_some());
    assert_eq!(state(&[&format!("foo={}", "v".repeat(257))]), None);
    // Spaces inside a value are fine; only a trailing one is not (it is white space).
    assert_eq!(state(&["foo=a b"]).as_deref(), Some("foo=a b"));
}

#[test]
fn tracestate_at_most_32_members() {
    let members = |n: usize| {
        (1..=n)
            .map(|i| format!("bar{i:02}={i:02}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let thirty_two = state(&[&members(32)]).unwrap();
    assert_eq!(thirty_two.split(',').count(), 32);
    assert!(thirty_two.starts_with("bar01=01,"));
    assert_eq!(state(&[&members(33)]), None);
    // Counted across headers: 30 and 3 make 33.
    let more = "bar31=31,bar32=32,bar33=33";
    assert_eq!(state(&[&members(30), more]), None);
    assert!(state(&[&members(30), "bar31=31,bar32=32"]).is_some());
}

#[test]
fn tracestate_longer_than_512_bytes_drops_long_members_first() {
    let long = format!("long={}", "x".repeat(200));
    let short: Vec<String> = (0..40).map(|i| format!("k{i:02}=v{i:02}")).collect();
    let mut members = vec![short[0].clone(), long.clone()];
    members.extend(short[1..].iter().cloned());
    let state = members.join(",");
    assert!(state.len() > 512);
    let cut = limit_tracestate(&state);
    assert!(cut.len() <= 512, "{}", cut.len());
    assert!(!cut.contains("long="), "the long member goes first");
    // 40 members of 7 bytes fit in 512: only the long one went.
    assert_eq!(cut, short.join(","));
}

#[test]
fn tracestate_longer_than_512_bytes_then_drops_from_the_end() {
    let members: Vec<String> = (0..60)
        .map(|i| format!("key{i:02}={}", "v".repeat(10)))
        .collect();
    let state = members.join(",");
    let cut = limit_tracestate(&state);
    assert!(cut.len() <= 512);
    assert!(cut.starts_with("key00=") && !cut.contains("key59="));
    let kept = cut.split(',').count();
    assert_eq!(
        cut,
        members[..kept].join(","),
        "the first members are kept in order"
    );
    // A state within the limit is passed on as it is.
    assert!(matches!(
        limit_tracestate("a=1,b=2"),
        Cow::Borrowed("a=1,b=2")
    ));
}
