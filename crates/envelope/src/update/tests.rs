#![allow(clippy::expect_used)]

use super::*;

const PREFIX: &[u8] = b"n1#0/";

fn write<'a>(context: Option<&'a [u8]>, value: Option<&'a [u8]>) -> Update<'a> {
    Update {
        context,
        own_actor_prefix: PREFIX,
        reuse_from: Some(0),
        next_epoch: 7,
        may_take_next: true,
        value,
        timestamp: 1_000,
        expires_at: 0,
        max_siblings: 4,
        max_object_bytes: 1 << 20,
    }
}

fn parsed(bytes: &[u8]) -> Vec<(String, u64, Option<Vec<u8>>)> {
    let e = Envelope::parse(bytes).expect("an update writes a valid envelope");
    e.siblings
        .iter()
        .map(|s| {
            (
                String::from_utf8_lossy(e.context[s.actor].0).into_owned(),
                s.counter,
                s.value.map(<[u8]>::to_vec),
            )
        })
        .collect()
}

/// The client context of an envelope: its format byte and context block (the envelope's prefix).
fn context_of(bytes: &[u8]) -> Vec<u8> {
    let e = Envelope::parse(bytes).expect("valid");
    let mut out = vec![crate::CONTEXT_FORMAT];
    put_varint(&mut out, e.context.len() as u64);
    for (name, counter) in &e.context {
        put_varint(&mut out, name.len() as u64);
        out.extend_from_slice(name);
        put_varint(&mut out, *counter);
    }
    out
}

#[test]
fn a_first_write_takes_the_next_key_epoch() {
    let u = update(None, &write(None, Some(b"v1"))).expect("decided");
    assert_eq!((u.epoch, u.fresh, u.siblings), (7, true, 1));
    assert_eq!(
        parsed(&u.bytes),
        vec![("n1#0/7".into(), 1, Some(b"v1".to_vec()))]
    );
}

#[test]
fn later_writes_keep_the_key_epoch_and_supersede_what_the_client_read() {
    let first = update(None, &write(None, Some(b"v1"))).expect("decided");
    let ctx = context_of(&first.bytes);
    let second = update(Some(&first.bytes), &write(Some(&ctx), Some(b"v2"))).expect("decided");
    assert_eq!((second.epoch, second.fresh), (7, false));
    assert_eq!(
        parsed(&second.bytes),
        vec![("n1#0/7".into(), 2, Some(b"v2".to_vec()))]
    );
    // Without a context the write is one more sibling.
    let third = update(Some(&second.bytes), &write(None, None)).expect("decided");
    assert_eq!(
        parsed(&third.bytes),
        vec![
            ("n1#0/7".into(), 2, Some(b"v2".to_vec())),
            ("n1#0/7".into(), 3, None)
        ]
    );
}

#[test]
fn a_retired_key_or_an_epoch_below_reuse_from_takes_a_new_epoch() {
    let first = update(None, &write(None, Some(b"v1"))).expect("decided");
    let mut retired = write(None, Some(b"v2"));
    retired.reuse_from = None;
    retired.next_epoch = 9;
    let u = update(Some(&first.bytes), &retired).expect("decided");
    assert_eq!((u.epoch, u.fresh), (9, true));
    let mut old = write(None, Some(b"v2"));
    old.reuse_from = Some(8);
    old.next_epoch = 10;
    assert_eq!(update(Some(&first.bytes), &old).map(|u| u.epoch), Some(10));
    // A new epoch beyond the lease is the general path's (it writes the record first).
    old.may_take_next = false;
    assert_eq!(update(Some(&first.bytes), &old), None);
}

#[test]
fn another_nodes_siblings_are_kept_or_superseded_by_the_context() {
    // n2's write, then ours without having read it: siblings; then ours with the context of both.
    let mut theirs = write(None, Some(b"x"));
    theirs.own_actor_prefix = b"n2#0/";
    theirs.next_epoch = 0;
    let a = update(None, &theirs).expect("decided");
    let b = update(Some(&a.bytes), &write(None, Some(b"y"))).expect("decided");
    assert_eq!(b.siblings, 2);
    assert_eq!(parsed(&b.bytes)[0].0, "n1#0/7", "sorted by actor");
    let ctx = context_of(&b.bytes);
    let c = update(Some(&b.bytes), &write(Some(&ctx), Some(b"z"))).expect("decided");
    assert_eq!(
        parsed(&c.bytes),
        vec![("n1#0/7".into(), 2, Some(b"z".to_vec()))]
    );
}

#[test]
fn limits_and_what_does_not_parse_are_left_to_the_general_path() {
    let mut u = write(None, Some(b"v"));
    let one = update(None, &u).expect("decided");
    u.max_siblings = 1;
    assert_eq!(update(Some(&one.bytes), &u), None, "too many siblings");
    let mut big = write(None, Some(&[0; 100]));
    big.max_object_bytes = 50;
    assert_eq!(update(None, &big), None, "too large");
    assert_eq!(
        update(Some(&[1, 9]), &write(None, None)),
        None,
        "stored bytes"
    );
    assert_eq!(
        update(None, &write(Some(&[2]), None)),
        None,
        "context format"
    );
    assert_eq!(
        update(None, &write(Some(&[1, 1, 1, b'a', 0]), None)),
        None,
        "context counter 0"
    );
    assert_eq!(
        update(None, &write(Some(&[1, 1, 2, 0xc3, 0xa9, 1]), None)),
        None,
        "non-ASCII context actor"
    );
}

#[test]
fn epochs_read_and_write_as_base36() {
    for n in [0u64, 9, 10, 35, 36, 1_295, 1_296, (1 << 53) - 1] {
        let mut actor = PREFIX.to_vec();
        push_base36(&mut actor, n);
        assert_eq!(epoch_of(&actor, PREFIX), Some(n));
    }
    assert_eq!(epoch_of(b"n1#0/", PREFIX), None);
    assert_eq!(epoch_of(b"n1#0/A", PREFIX), None);
    assert_eq!(epoch_of(b"n1#0/zzzzzzzzzzzz", PREFIX), None);
    assert_eq!(epoch_of(b"n1#1/4", PREFIX), None);
}
