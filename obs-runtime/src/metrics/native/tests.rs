//! The bucket index at every schema's boundaries, the window's layout, and the readings.

use super::*;

/// The bucket of `value` at `schema`.
fn bucket_index(value: f64, schema: i8) -> i32 {
    index(value, schema, (schema > 0).then(|| Table::of(schema)))
}

/// Prometheus's definition, for a value well inside a bucket: ceil(log2(v) × 2^s).
#[allow(clippy::cast_possible_truncation)]
fn by_log(value: f64, schema: i8) -> i32 {
    (value.log2() * f64::from(schema).exp2()).ceil() as i32
}

/// Every bound of every schema -4..8 between 2^-29 and 2^12 is the top of its own bucket
/// `i`, the next float above it is in `i + 1`, and the float below it still in `i`; a
/// value in the middle of a bucket agrees with the logarithm.
#[test]
fn boundary_values_land_as_prometheus_defines() {
    for schema in MIN_SCHEMA..=MAX_SCHEMA {
        let per_octave = f64::from(schema).exp2();
        #[allow(clippy::cast_possible_truncation)]
        let (first, last) = ((-29.0 * per_octave) as i32, (12.0 * per_octave) as i32);
        for i in first..=last {
            let bound = (f64::from(i) / per_octave).exp2();
            assert_eq!(bucket_index(bound, schema), i, "2^({i}/2^{schema})");
            assert_eq!(
                bucket_index(bound.next_up(), schema),
                i + 1,
                "above {bound}"
            );
            assert_eq!(bucket_index(bound.next_down(), schema), i, "below {bound}");
            let middle = (f64::from(i) / per_octave - 0.5 / per_octave).exp2();
            assert_eq!(bucket_index(middle, schema), by_log(middle, schema));
            assert_eq!(by_log(middle, schema), i);
        }
    }
}

/// A duration in whole nanoseconds lands where its seconds do ([`NanosTable`] against the
/// float index): at every schema, every nanosecond up to 20 µs, the nanoseconds around
/// every bound of the window (the last below, the bound's own, the first above), the
/// window's top, and the largest durations.
#[test]
fn nanos_land_where_their_seconds_do() {
    for schema in MIN_SCHEMA..=MAX_SCHEMA {
        let (low, len) = window(schema, DURATION_TOP);
        let table = NanosTable::of(schema);
        let check = |nanos: u64| {
            assert_eq!(
                table.slot(nanos, nanos_bits(schema)),
                slot(seconds(nanos), schema, low, len),
                "{nanos} ns at schema {schema}"
            );
        };
        (0..=20_000).for_each(check);
        let per_octave = f64::from(schema).exp2();
        for i in low..low + i32::try_from(len).unwrap() {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let bound = ((f64::from(i) / per_octave).exp2() * 1e9) as u64;
            (bound.saturating_sub(3)..=bound + 3).for_each(check);
        }
        let top = 4_096_000_000_000;
        [top - 1, top, top + 1, u64::MAX / 2, u64::MAX]
            .into_iter()
            .for_each(check);
    }
}

/// A series recorded from nanoseconds (by a site of the program's schema or of its own)
/// reads as one recorded from their seconds.
#[test]
fn nanos_and_seconds_record_alike() {
    let (by_nanos, by_seconds) = (NativeSlot::new(), NativeSlot::new());
    let fixed = NativeSlot::new(); // as a site with its own schema records
    for nanos in [
        0,
        1,
        999,
        1_000,
        18_000,
        1_000_000_000,
        100_000_000_000,
        u64::MAX,
    ] {
        by_nanos.record_nanos(DEFAULT_SCHEMA, nanos, true, false);
        fixed.record_nanos(DEFAULT_SCHEMA, nanos, true, true);
        by_seconds.record(DEFAULT_SCHEMA, DURATION_TOP, seconds(nanos), true);
    }
    let read = |slot: &NativeSlot| {
        let native = NativeSlot::read(core::iter::once(slot), None).unwrap();
        (native.schema, native.zero_count, native.positive)
    };
    assert_eq!(read(&by_nanos), read(&by_seconds));
    assert_eq!(read(&fixed), read(&by_seconds));
    assert_eq!(read(&by_nanos).1, 1);
    assert_eq!(read(&by_nanos).2.len(), 6); // 999 and 1,000 ns share one
}

/// A few pinned by hand, from the definition.
#[test]
fn pinned_indexes() {
    let cases: &[(f64, i8, i32)] = &[
        (1.0, 0, 0),
        (1.5, 0, 1),
        (2.0, 0, 1),
        (2.000_000_1, 0, 2),
        (0.5, 0, -1),
        (1.0, -1, 0),
        (2.0, -1, 1),
        (4.0, -1, 1),
        (4.01, -1, 2),
        (0.25, -1, -1),
        (0.24, -1, -1),
        (0.0625, -1, -2),
        (65_536.0, -4, 1),
        (65_537.0, -4, 2),
        (1.0, 3, 0),
        (1.5, 3, 5), // log2(1.5) × 8 = 4.68
        (2.0, 3, 8),
        (0.001, 3, -79), // log2(0.001) × 8 = -79.7
        (1.0, 8, 0),
        (2f64.powf(1.0 / 256.0), 8, 1),
        (100.0, 8, 1701), // log2(100) × 256 = 1700.8
    ];
    for &(value, schema, index) in cases {
        assert_eq!(bucket_index(value, schema), index, "{value} at {schema}");
    }
}

/// The zero bucket, the window's edges and the memory the issue bounds: a series called
/// from 1 µs to 100 s at the default schema holds under 4 KiB.
#[test]
fn zero_bucket_window_and_memory() {
    let slot = NativeSlot::new();
    for value in [0.0, ZERO_THRESHOLD, -1.0, 1e-6, 100.0, 1e9] {
        slot.record(DEFAULT_SCHEMA, DURATION_TOP, value, true);
    }
    let native = NativeSlot::read(core::iter::once(&slot), None).unwrap();
    let empty = NativeSlot::read(core::iter::once(&NativeSlot::new()), Some(5)).unwrap();
    assert_eq!(
        (empty.schema, empty.zero_count, empty.positive.len()),
        (5, 0, 0)
    );
    assert!(NativeSlot::read(core::iter::once(&NativeSlot::new()), None).is_none());
    assert_eq!((native.schema, native.zero_count), (3, 3));
    let top = bucket_index(4096.0, 3);
    assert_eq!(
        native.positive,
        [
            (bucket_index(1e-6, 3), 1),
            (bucket_index(100.0, 3), 1),
            (top, 1)
        ]
    );
    let counts = slot.0.get().unwrap();
    assert_eq!(window(DEFAULT_SCHEMA, DURATION_TOP), (-239, 336));
    assert_eq!(layout(counts), (DEFAULT_SCHEMA, DURATION_TOP));
    let bytes = core::mem::size_of::<NativeSlot>() + core::mem::size_of_val(&**counts);
    assert!(bytes <= 4096, "{bytes} bytes");
    assert_eq!(counts.len(), FIRST + 336);
}

/// The window computed without floats agrees with the index of its edges at every schema
/// and both tops, and its length tells every layout apart ([`NativeSlot::record`] relies on
/// it to find cells made at another schema).
#[test]
fn windows_agree_with_the_index_and_differ_in_length() {
    let mut lengths = Vec::new();
    for top in [DURATION_TOP, WIDE_TOP] {
        for schema in MIN_SCHEMA..=MAX_SCHEMA {
            let low = bucket_index(ZERO_THRESHOLD.next_up(), schema);
            let high = bucket_index(f64::from(top).exp2(), schema);
            let (first, len) = window(schema, top);
            assert_eq!(
                (first, len),
                (low, usize::try_from(high - low + 1).unwrap())
            );
            lengths.push(len);
        }
    }
    let count = lengths.len();
    lengths.sort_unstable();
    lengths.dedup();
    assert_eq!(lengths.len(), count, "two layouts of one length");
}

/// Cells made at one schema keep counting at it after the program's schema changes, and a
/// reading of the series leaves out a shard made at another.
#[test]
fn cells_keep_the_schema_they_were_made_at() {
    let (first, second) = (NativeSlot::new(), NativeSlot::new());
    first.record(2, DURATION_TOP, 1.5, true);
    first.record(3, DURATION_TOP, 1.5, true); // the switch changed: still schema 2
    second.record(3, DURATION_TOP, 1.5, true);
    let read = NativeSlot::read([&first, &second].into_iter(), Some(3)).unwrap();
    assert_eq!(read.schema, 2);
    assert_eq!(read.positive, [(bucket_index(1.5, 2), 2)]);
}

/// A thread's own cells count a call one call late ([`count`]); a reading taken while the
/// thread records shows every bucket at or above the previous reading, never a call twice,
/// and, once it stops, every call: the latest, still pending, included.
#[test]
fn the_pending_call_is_read_once() {
    let slot: &'static NativeSlot = Box::leak(Box::new(NativeSlot::new()));
    let calls = 200_000u64;
    // Durations that change bucket on most calls, and the zero bucket now and then.
    let nanos = |i: u64| {
        if i.is_multiple_of(7) {
            0
        } else {
            1 + (i * 7919) % 50_000
        }
    };
    let writer = std::thread::spawn(move || {
        for i in 0..calls {
            slot.record_nanos(DEFAULT_SCHEMA, nanos(i), true, true);
        }
    });
    let read = || {
        NativeSlot::read(core::iter::once(slot), Some(DEFAULT_SCHEMA))
            .map(|n| (n.zero_count, n.positive))
            .unwrap()
    };
    let mut last = read();
    while !writer.is_finished() {
        let now = read();
        assert!(now.0 >= last.0, "zero bucket went down");
        for &(i, n) in &last.1 {
            let was = now.1.iter().find(|&&(j, _)| j == i).map_or(0, |&(_, m)| m);
            assert!(was >= n, "bucket {i} went from {n} to {was}");
        }
        let total = now.0 + now.1.iter().map(|&(_, n)| n).sum::<u64>();
        assert!(total <= calls, "{total} calls read, {calls} made");
        last = now;
    }
    writer.join().unwrap();
    let (zero, positive) = read();
    assert_eq!(zero + positive.iter().map(|&(_, n)| n).sum::<u64>(), calls);
    assert_eq!(zero, calls.div_ceil(7));
    // The latest call is pending, and read: the same buckets as counted directly.
    let direct = NativeSlot::new();
    for i in 0..calls {
        direct.record_nanos(DEFAULT_SCHEMA, nanos(i), false, true);
    }
    let direct = NativeSlot::read(core::iter::once(&direct), None).unwrap();
    assert_eq!((zero, positive), (direct.zero_count, direct.positive));
}
