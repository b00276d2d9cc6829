#![allow(clippy::expect_used)]

use super::*;

/// A test envelope: context entries and siblings as (actor, counter, timestamp, value).
struct Spec<'a> {
    context: &'a [(&'a str, u64)],
    siblings: &'a [(&'a str, u64, u64, Option<&'a [u8]>)],
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 128 {
        out.push((v % 128) as u8 | 128);
        v /= 128;
    }
    out.push(v as u8);
}

/// The canonical encoding, as encodeEnvelope writes it.
fn encode(spec: &Spec<'_>) -> Vec<u8> {
    let mut out = vec![ENVELOPE_FORMAT];
    varint(&mut out, spec.context.len() as u64);
    for (actor, counter) in spec.context {
        varint(&mut out, actor.len() as u64);
        out.extend_from_slice(actor.as_bytes());
        varint(&mut out, *counter);
    }
    varint(&mut out, spec.siblings.len() as u64);
    for (actor, counter, timestamp, value) in spec.siblings {
        let index = spec
            .context
            .iter()
            .position(|(a, _)| a == actor)
            .expect("sibling actor in the context");
        varint(&mut out, index as u64);
        varint(&mut out, *counter);
        varint(&mut out, *timestamp);
        varint(&mut out, 0);
        match value {
            None => out.push(TOMBSTONE),
            Some(v) => {
                out.push(VALUE);
                varint(&mut out, v.len() as u64);
                out.extend_from_slice(v);
            }
        }
    }
    out
}

const NONE: &[u8] = b"";
const OWN: &[u8] = b"n1#1/";

#[test]
fn parses_what_the_encoder_writes() {
    let bytes = encode(&Spec {
        context: &[("n1#1/0", 3), ("n2#1/5", 1)],
        siblings: &[("n1#1/0", 3, 100, Some(b"x")), ("n2#1/5", 1, 90, None)],
    });
    let e = Envelope::parse(&bytes).expect("parses");
    assert_eq!(e.context, vec![(&b"n1#1/0"[..], 3), (&b"n2#1/5"[..], 1)]);
    assert_eq!(e.siblings.len(), 2);
    assert_eq!(e.siblings[0].value, Some(&b"x"[..]));
    assert_eq!(e.siblings[1].value, None);
    assert_eq!(e.counter_of(b"n2#1/5"), 1);
    assert_eq!(e.counter_of(b"n3"), 0);
}

#[test]
fn refuses_what_the_decoder_refuses() {
    let good = encode(&Spec {
        context: &[("a", 2)],
        siblings: &[("a", 2, 7, Some(b"v"))],
    });
    assert!(Envelope::parse(&good).is_some());
    let mut trailing = good.clone();
    trailing.push(0);
    let mut wrong_format = good.clone();
    wrong_format[0] = 2;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("wrong format", wrong_format),
        ("trailing bytes", trailing),
        ("truncated", good[..good.len() - 1].to_vec()),
        // context count 1, actor length 1 "a", counter 0
        ("zero counter", vec![1, 1, 1, b'a', 0, 0]),
        // non-minimal varint for the counter: 0x81 0x00
        ("non-minimal varint", vec![1, 1, 1, b'a', 0x81, 0x00, 0]),
        ("actors out of order", vec![1, 2, 1, b'b', 1, 1, b'a', 1, 0]),
        ("duplicate actors", vec![1, 2, 1, b'a', 1, 1, b'a', 1, 0]),
        ("empty actor", vec![1, 1, 0, 1, 0]),
        (
            "non-ASCII actor (left to the general path)",
            vec![1, 1, 2, 0xc3, 0xa9, 1, 0],
        ),
        // sibling counter 2 beyond the context's 1
        ("uncovered dot", vec![1, 1, 1, b'a', 1, 1, 0, 2, 0, 0, 0]),
        // sibling names actor #1 of a 1-actor context
        (
            "unknown actor index",
            vec![1, 1, 1, b'a', 1, 1, 1, 1, 0, 0, 0],
        ),
        ("bad kind", vec![1, 1, 1, b'a', 1, 1, 0, 1, 0, 0, 2]),
        // two siblings with the same dot
        (
            "siblings out of order",
            vec![1, 1, 1, b'a', 2, 2, 0, 2, 0, 0, 0, 0, 1, 0, 0, 0],
        ),
        ("count beyond the bytes", vec![1, 100, 1, b'a', 1]),
        // 2^53 as a varint: beyond Number.MAX_SAFE_INTEGER
        (
            "counter beyond 2^53-1",
            vec![
                1, 1, 1, b'a', 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10, 0,
            ],
        ),
    ];
    for (name, bytes) in cases {
        assert!(Envelope::parse(&bytes).is_none(), "{name} parsed");
        assert_eq!(
            replica_merge(None, &bytes, NONE),
            MergeDecision::Fallback,
            "{name}"
        );
    }
}

#[test]
fn a_newer_version_supersedes_the_stored_one() {
    let stored = encode(&Spec {
        context: &[("n2#1/0", 1)],
        siblings: &[("n2#1/0", 1, 10, Some(b"old"))],
    });
    let incoming = encode(&Spec {
        context: &[("n2#1/0", 2)],
        siblings: &[("n2#1/0", 2, 20, Some(b"new"))],
    });
    assert_eq!(
        replica_merge(Some(&stored), &incoming, OWN),
        MergeDecision::StoreIncoming
    );
    // Into an absent key, too.
    assert_eq!(
        replica_merge(None, &incoming, OWN),
        MergeDecision::StoreIncoming
    );
    // The stale one arriving late is the general merge's to decide (it is a no-op there).
    assert_eq!(
        replica_merge(Some(&incoming), &stored, OWN),
        MergeDecision::Fallback
    );
}

#[test]
fn a_duplicate_changes_nothing() {
    let e = encode(&Spec {
        context: &[("n2#1/0", 1)],
        siblings: &[("n2#1/0", 1, 10, Some(b"v"))],
    });
    assert_eq!(replica_merge(Some(&e), &e, OWN), MergeDecision::Unchanged);
    let empty = encode(&Spec {
        context: &[],
        siblings: &[],
    });
    assert_eq!(replica_merge(None, &empty, OWN), MergeDecision::Unchanged);
}

#[test]
fn siblings_held_on_both_sides_survive() {
    // Two concurrent writes: the stored envelope holds a's, the incoming one holds both.
    let stored = encode(&Spec {
        context: &[("a", 1)],
        siblings: &[("a", 1, 10, Some(b"x"))],
    });
    let incoming = encode(&Spec {
        context: &[("a", 1), ("b", 1)],
        siblings: &[("a", 1, 10, Some(b"x")), ("b", 1, 11, Some(b"y"))],
    });
    assert_eq!(
        replica_merge(Some(&stored), &incoming, NONE),
        MergeDecision::StoreIncoming
    );
    // The same dot with other content: corruption somewhere; the general merge picks by content.
    let differing = encode(&Spec {
        context: &[("a", 1), ("b", 1)],
        siblings: &[("a", 1, 10, Some(b"z")), ("b", 1, 11, Some(b"y"))],
    });
    assert_eq!(
        replica_merge(Some(&stored), &differing, NONE),
        MergeDecision::Fallback
    );
}

#[test]
fn concurrent_versions_are_left_to_the_general_merge() {
    let stored = encode(&Spec {
        context: &[("a", 1)],
        siblings: &[("a", 1, 10, Some(b"x"))],
    });
    let incoming = encode(&Spec {
        context: &[("b", 1)],
        siblings: &[("b", 1, 11, Some(b"y"))],
    });
    // The merge keeps both siblings: neither side.
    assert_eq!(
        replica_merge(Some(&stored), &incoming, NONE),
        MergeDecision::Fallback
    );
}

#[test]
fn a_sibling_the_stored_side_dropped_is_not_brought_back() {
    // The stored side has seen b:1 and superseded it; the incoming side still holds it.
    let stored = encode(&Spec {
        context: &[("a", 1), ("b", 1)],
        siblings: &[("a", 1, 20, Some(b"x"))],
    });
    let incoming = encode(&Spec {
        context: &[("a", 2), ("b", 1)],
        siblings: &[("a", 2, 30, Some(b"z")), ("b", 1, 11, Some(b"y"))],
    });
    assert_eq!(
        replica_merge(Some(&stored), &incoming, NONE),
        MergeDecision::Fallback
    );
}

#[test]
fn dots_of_this_store_beyond_the_stored_ones_go_the_general_way() {
    let stored = encode(&Spec {
        context: &[("n1#1/4", 1)],
        siblings: &[("n1#1/4", 1, 10, Some(b"x"))],
    });
    let incoming = encode(&Spec {
        context: &[("n1#1/4", 2)],
        siblings: &[("n1#1/4", 2, 20, Some(b"y"))],
    });
    assert_eq!(
        replica_merge(Some(&stored), &incoming, OWN),
        MergeDecision::Fallback
    );
    // Another node's actor with the same prefix but no separator after it is not ours.
    let other = encode(&Spec {
        context: &[("n1#10/4", 2)],
        siblings: &[("n1#10/4", 2, 20, Some(b"y"))],
    });
    assert_eq!(
        replica_merge(None, &other, OWN),
        MergeDecision::StoreIncoming
    );
    // Our actor with the counter the store already has: nothing lost.
    let same = encode(&Spec {
        context: &[("n1#1/4", 1), ("n2#1/0", 1)],
        siblings: &[("n2#1/0", 1, 30, Some(b"z"))],
    });
    assert_eq!(
        replica_merge(Some(&stored), &same, OWN),
        MergeDecision::StoreIncoming
    );
}

#[test]
fn a_corrupt_stored_copy_goes_the_general_way() {
    let incoming = encode(&Spec {
        context: &[("a", 1)],
        siblings: &[("a", 1, 10, Some(b"x"))],
    });
    assert_eq!(
        replica_merge(Some(&[1, 9, 9]), &incoming, NONE),
        MergeDecision::Fallback
    );
}

#[test]
fn a_read_sees_values_that_are_neither_deleted_nor_expired_and_the_context_before_them() {
    let mut bytes = encode(&Spec {
        context: &[("n1#1/0", 2), ("n2#1/0", 1)],
        siblings: &[],
    });
    bytes.pop(); // the sibling count, written again below with siblings that carry expiries
    let context_end = bytes.len();
    varint(&mut bytes, 3);
    type SiblingSpec<'a> = (u64, u64, u64, u64, Option<&'a [u8]>);
    let siblings: [SiblingSpec<'_>; 3] = [
        (0, 1, 10, 0, Some(b"kept")),
        (0, 2, 20, 500, Some(b"expires at 500")),
        (1, 1, 30, 0, None),
    ];
    for (actor, counter, timestamp, expires_at, value) in siblings {
        for v in [actor, counter, timestamp, expires_at] {
            varint(&mut bytes, v);
        }
        match value {
            None => bytes.push(TOMBSTONE),
            Some(v) => {
                bytes.push(VALUE);
                varint(&mut bytes, v.len() as u64);
                bytes.extend_from_slice(v);
            }
        }
    }
    let e = Envelope::parse(&bytes).expect("parses");
    assert_eq!(e.context_end, context_end);
    let before = e.live_values(499.0);
    assert_eq!(
        before,
        vec![
            LiveValue {
                timestamp: 10,
                expires_at: 0,
                value: b"kept"
            },
            LiveValue {
                timestamp: 20,
                expires_at: 500,
                value: b"expires at 500"
            },
        ]
    );
    // Expired once the read's time reaches the expiry, as `expiresAt > now` in TypeScript.
    assert_eq!(e.live_values(500.0).len(), 1);
    assert_eq!(e.live_values(499.5).len(), 2);
}
