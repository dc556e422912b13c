//! Protobuf, written straight into one growing buffer: what every signal's OTLP encoder
//! writes with (traces: `traces/otlp/encode.rs`; metrics: `exposition/otlp.rs`).
//!
//! A nested message reserves five bytes for its length, is written in place, and is moved back
//! over the bytes its length did not need (`copy_within`), so each byte is written once per
//! level of nesting, with no intermediate message structs.

/// Protobuf wire types.
const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

/// A protobuf writer over one growing buffer.
#[derive(Default)]
pub(crate) struct Writer {
    pub(crate) buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            // The low seven bits, with the continuation bit.
            #[allow(clippy::cast_possible_truncation)]
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        #[allow(clippy::cast_possible_truncation)]
        self.buf.push(v as u8);
    }

    pub(crate) fn tag(&mut self, field: u32, wire: u32) {
        self.varint(u64::from(field << 3 | wire));
    }

    pub(crate) fn bytes(&mut self, field: u32, value: &[u8]) {
        self.tag(field, LEN);
        self.varint(value.len() as u64);
        self.buf.extend_from_slice(value);
    }

    pub(crate) fn string(&mut self, field: u32, value: &str) {
        self.bytes(field, value.as_bytes());
    }

    pub(crate) fn uint(&mut self, field: u32, value: u64) {
        self.tag(field, VARINT);
        self.varint(value);
    }

    pub(crate) fn fixed64(&mut self, field: u32, value: u64) {
        self.tag(field, FIXED64);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    pub(crate) fn fixed32(&mut self, field: u32, value: u32) {
        self.tag(field, FIXED32);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    /// A nested message `field`, written by `body`.
    pub(crate) fn message(&mut self, field: u32, body: impl FnOnce(&mut Self)) {
        self.tag(field, LEN);
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 5]);
        body(self);
        let len = self.buf.len() - at - 5;
        // The length's varint, at most five bytes for a message under 4 GiB.
        let mut head = [0u8; 5];
        let mut used = 0;
        let mut v = len;
        loop {
            #[allow(clippy::cast_possible_truncation)]
            let low = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                head[used] = low;
                used += 1;
                break;
            }
            head[used] = low | 0x80;
            used += 1;
        }
        self.buf[at..at + used].copy_from_slice(&head[..used]);
        self.buf.copy_within(at + 5.., at + used);
        self.buf.truncate(at + used + len);
    }

    /// Pre-encoded bytes (a resource, a scope), written as they are.
    pub(crate) fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// A `KeyValue` with a string value.
    pub(crate) fn key_str(&mut self, field: u32, key: &str, value: &str) {
        self.message(field, |w| {
            w.string(1, key);
            w.message(2, |w| w.string(1, value));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::Writer;

    #[test]
    fn varints_and_nested_lengths_are_minimal() {
        let mut w = Writer::default();
        w.uint(1, 300);
        assert_eq!(w.buf, [0x08, 0xac, 0x02]);
        let mut w = Writer::default();
        w.message(2, |w| w.string(1, "hi"));
        assert_eq!(w.buf, [0x12, 4, 0x0a, 2, b'h', b'i']);
        // A body longer than 127 bytes takes a two-byte length, moved into place.
        let mut w = Writer::default();
        let long = "x".repeat(200);
        w.message(2, |w| w.string(1, &long));
        assert_eq!(&w.buf[..5], &[0x12, 0xcb, 0x01, 0x0a, 0xc8]);
        assert_eq!(w.buf.len(), 3 + 3 + 200);
    }
}
