//! What a collector answers, read without generated types: the `partial_success` of an
//! `Export*ServiceResponse`, and the message and `RetryInfo` of a `google.rpc.Status`.
//!
//! Every signal's response has the same shape (field 1: a partial success whose field 1 is
//! the count rejected and field 2 the message), so one reader serves traces, metrics and logs.

use std::time::Duration;

/// A successful answer: how many items the collector still rejected, and why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Accepted {
    pub(crate) rejected: u64,
    pub(crate) message: Option<String>,
}

/// One field of a protobuf message.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

/// The fields of `buf` as `(number, value)`; stops at the first malformed one (an answer is
/// advice, never a reason to fail the export).
fn fields(mut buf: &[u8]) -> impl Iterator<Item = (u64, Field<'_>)> {
    std::iter::from_fn(move || {
        let key = varint(&mut buf)?;
        let value = match key & 7 {
            0 => Field::Varint(varint(&mut buf)?),
            1 => Field::Bytes(take(&mut buf, 8)?),
            2 => {
                let len = usize::try_from(varint(&mut buf)?).ok()?;
                Field::Bytes(take(&mut buf, len)?)
            }
            5 => Field::Bytes(take(&mut buf, 4)?),
            _ => return None,
        };
        Some((key >> 3, value))
    })
}

fn take<'a>(buf: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if buf.len() < n {
        return None;
    }
    let (head, rest) = buf.split_at(n);
    *buf = rest;
    Some(head)
}

fn varint(buf: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf.split_first()?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The `partial_success` of an `Export{Trace,Metrics,Logs}ServiceResponse`.
pub(crate) fn partial_success(body: &[u8]) -> Accepted {
    let mut accepted = Accepted::default();
    for (number, field) in fields(body) {
        if let (1, Field::Bytes(partial)) = (number, field) {
            for (number, field) in fields(partial) {
                match (number, field) {
                    (1, Field::Varint(n)) => accepted.rejected = n,
                    (2, Field::Bytes(m)) if !m.is_empty() => accepted.message = Some(text(m)),
                    _ => {}
                }
            }
        }
    }
    accepted
}

/// A `google.rpc.Status`'s message and the delay of its `RetryInfo` detail, if any.
pub(crate) fn status(body: &[u8]) -> (Option<String>, Option<Duration>) {
    let (mut message, mut delay) = (None, None);
    for (number, field) in fields(body) {
        match (number, field) {
            (2, Field::Bytes(m)) if !m.is_empty() => message = Some(text(m)),
            // `details`: a `google.protobuf.Any` each.
            (3, Field::Bytes(any)) => {
                let mut is_retry_info = false;
                let mut value = None;
                for (number, field) in fields(any) {
                    match (number, field) {
                        (1, Field::Bytes(url)) => {
                            is_retry_info = url.ends_with(b"/google.rpc.RetryInfo");
                        }
                        (2, Field::Bytes(v)) => value = Some(v),
                        _ => {}
                    }
                }
                if let (true, Some(info)) = (is_retry_info, value) {
                    delay = retry_delay(info).or(delay);
                }
            }
            _ => {}
        }
    }
    (message, delay)
}

/// `RetryInfo.retry_delay`, a `google.protobuf.Duration`.
fn retry_delay(info: &[u8]) -> Option<Duration> {
    let (_, Field::Bytes(duration)) = fields(info).find(|(n, _)| *n == 1)? else {
        return None;
    };
    let (mut seconds, mut nanos) = (0u64, 0u64);
    for (number, field) in fields(duration) {
        match (number, field) {
            (1, Field::Varint(s)) => seconds = s,
            (2, Field::Varint(n)) => nanos = n,
            _ => {}
        }
    }
    // A negative duration (a huge varint) is no advice.
    (seconds < 1 << 40).then(|| Duration::new(seconds, u32::try_from(nanos).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(fields: &[(u8, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (number, bytes) in fields {
            out.push(number << 3 | 2);
            out.push(u8::try_from(bytes.len()).unwrap());
            out.extend_from_slice(bytes);
        }
        out
    }

    #[test]
    fn partial_success_gives_the_count_and_the_message() {
        // rejected_spans = 3 (field 1, varint), error_message = "too old".
        let mut partial = vec![1 << 3, 3];
        partial.extend(message(&[(2, b"too old")]));
        let body = message(&[(1, &partial)]);
        assert_eq!(
            partial_success(&body),
            Accepted {
                rejected: 3,
                message: Some("too old".into())
            }
        );
        assert_eq!(partial_success(&[]), Accepted::default());
        // Garbage is no partial success, not a failure.
        assert_eq!(partial_success(&[0xff, 0xff]), Accepted::default());
    }

    #[test]
    fn a_status_gives_its_message_and_retry_delay() {
        // RetryInfo { retry_delay: Duration { seconds: 2, nanos: 500_000_000 } }.
        let duration = [1 << 3, 2, 2 << 3, 0x80, 0xca, 0xb5, 0xee, 0x01];
        let info = message(&[(1, &duration)]);
        let any = message(&[(1, b"type.googleapis.com/google.rpc.RetryInfo"), (2, &info)]);
        let status = message(&[(2, b"slow down"), (3, &any)]);
        assert_eq!(
            super::status(&status),
            (Some("slow down".into()), Some(Duration::from_millis(2500)))
        );
        let other = message(&[(1, b"type.googleapis.com/google.rpc.DebugInfo"), (2, &info)]);
        assert_eq!(super::status(&message(&[(3, &other)])), (None, None));
    }
}
