//! The coordinator's write (`updateEnvelope` of src/versioning/envelope.ts, with the key-epoch choice of
//! src/storage/key-epochs.ts and the write policy of `planUpdate` in src/storage/store.ts), on the bytes.
//!
//! Like the replica merge, deliberately partial: `update` answers `None` for anything it does not fully
//! decide -- stored bytes or a client context that do not parse (or name non-ASCII actors), a write that
//! would need a new key-epoch lease, a result beyond the sibling or size limits -- and the caller then
//! runs the TypeScript path, which also produces the precise error or writes the lease record first.

use crate::{parse_client_context, Envelope, MAX_ACTOR_BYTES, MAX_SAFE_INTEGER, TOMBSTONE, VALUE};

/// One coordinator write.
pub struct Update<'a> {
    /// The client's causal context (format byte and context block), or `None` for a write without one.
    pub context: Option<&'a [u8]>,
    /// "<issuer>/": the prefix of the actors this store issues for keys (key-epochs.ts).
    pub own_actor_prefix: &'a [u8],
    /// The lowest key epoch a write may keep using, or `None` when this key must take a new one (the
    /// key's epochs are retired, or the issuer changed).
    pub reuse_from: Option<u64>,
    /// The key epoch a write that needs a new one takes.
    pub next_epoch: u64,
    /// Whether `next_epoch` may be taken without writing the key epochs' record first.
    pub may_take_next: bool,
    /// `None` writes a tombstone.
    pub value: Option<&'a [u8]>,
    pub timestamp: u64,
    pub expires_at: u64,
    pub max_siblings: usize,
    pub max_object_bytes: usize,
}

/// What an update stores.
#[derive(Debug, PartialEq, Eq)]
pub struct Updated {
    /// The new envelope's canonical encoding.
    pub bytes: Vec<u8>,
    pub siblings: usize,
    /// The key epoch of the write's actor, and whether it is a new one (`next_epoch`).
    pub epoch: u64,
    pub fresh: bool,
}

struct Sibling<'a> {
    actor: &'a [u8],
    counter: u64,
    timestamp: u64,
    expires_at: u64,
    value: Option<&'a [u8]>,
}

/// The key epoch an actor of this store names ("<prefix><base36>"), as `parseEpoch` reads it.
fn epoch_of(actor: &[u8], prefix: &[u8]) -> Option<u64> {
    let digits = actor.strip_prefix(prefix)?;
    if digits.is_empty() || digits.len() > 11 {
        return None;
    }
    let mut epoch = 0u64;
    for &d in digits {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'z' => d - b'a' + 10,
            _ => return None,
        };
        epoch = epoch * 36 + u64::from(v);
    }
    (epoch <= MAX_SAFE_INTEGER).then_some(epoch)
}

fn push_base36(out: &mut Vec<u8>, mut n: u64) {
    let start = out.len();
    loop {
        let d = (n % 36) as u8;
        out.push(if d < 10 { b'0' + d } else { b'a' + d - 10 });
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out[start..].reverse();
}

fn counter_in(context: &[(&[u8], u64)], actor: &[u8]) -> u64 {
    context
        .binary_search_by(|(name, _)| (*name).cmp(actor))
        .map_or(0, |i| context[i].1)
}

/// The pointwise maximum of two sorted contexts.
fn join<'a>(a: &[(&'a [u8], u64)], b: &[(&'a [u8], u64)]) -> Vec<(&'a [u8], u64)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if j == b.len() || (i < a.len() && a[i].0 < b[j].0) {
            out.push(a[i]);
            i += 1;
        } else if i == a.len() || b[j].0 < a[i].0 {
            out.push(b[j]);
            j += 1;
        } else {
            out.push((a[i].0, a[i].1.max(b[j].1)));
            i += 1;
            j += 1;
        }
    }
    out
}

fn varint_size(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 128 {
        v >>= 7;
        n += 1;
    }
    n
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 128 {
        out.push((v & 127) as u8 | 128);
        v >>= 7;
    }
    out.push(v as u8);
}

/// `encodeEnvelope`: the canonical bytes of a sorted context and siblings sorted by dot.
fn encode(context: &[(&[u8], u64)], siblings: &[Sibling<'_>]) -> Option<Vec<u8>> {
    let mut indexes = Vec::with_capacity(siblings.len());
    let mut size = 1 + varint_size(context.len() as u64) + varint_size(siblings.len() as u64);
    for (name, counter) in context {
        size += varint_size(name.len() as u64) + name.len() + varint_size(*counter);
    }
    for s in siblings {
        let index = context
            .binary_search_by(|(name, _)| (*name).cmp(s.actor))
            .ok()?;
        indexes.push(index);
        size += varint_size(index as u64)
            + varint_size(s.counter)
            + varint_size(s.timestamp)
            + varint_size(s.expires_at)
            + 1
            + s.value.map_or(0, |v| varint_size(v.len() as u64) + v.len());
    }
    let mut out = Vec::with_capacity(size);
    out.push(crate::ENVELOPE_FORMAT);
    put_varint(&mut out, context.len() as u64);
    for (name, counter) in context {
        put_varint(&mut out, name.len() as u64);
        out.extend_from_slice(name);
        put_varint(&mut out, *counter);
    }
    put_varint(&mut out, siblings.len() as u64);
    for (s, index) in siblings.iter().zip(indexes) {
        put_varint(&mut out, index as u64);
        put_varint(&mut out, s.counter);
        put_varint(&mut out, s.timestamp);
        put_varint(&mut out, s.expires_at);
        match s.value {
            None => out.push(TOMBSTONE),
            Some(v) => {
                out.push(VALUE);
                put_varint(&mut out, v.len() as u64);
                out.extend_from_slice(v);
            }
        }
    }
    Some(out)
}

/// The coordinator's write on the stored envelope (`None`: the key is absent); see the top of this file.
pub fn update(stored: Option<&[u8]>, u: &Update<'_>) -> Option<Updated> {
    let stored = match stored {
        Some(bytes) => Some(Envelope::parse(bytes)?),
        None => None,
    };
    let client = match u.context {
        Some(bytes) => Some(parse_client_context(bytes)?),
        None => None,
    };
    if u.own_actor_prefix.is_empty() || !u.own_actor_prefix.is_ascii() {
        return None;
    }
    if u.timestamp > MAX_SAFE_INTEGER || u.expires_at > MAX_SAFE_INTEGER {
        return None;
    }
    // The key keeps its highest epoch of this issuer while the store vouches for its dots.
    let kept_epoch = match (&stored, u.reuse_from) {
        (Some(env), Some(from)) => env
            .context
            .iter()
            .filter_map(|(name, _)| epoch_of(name, u.own_actor_prefix))
            .max()
            .filter(|&e| e >= from),
        _ => None,
    };
    let (epoch, fresh) = match kept_epoch {
        Some(e) => (e, false),
        None if u.may_take_next => (u.next_epoch, true),
        None => return None,
    };
    let mut actor = u.own_actor_prefix.to_vec();
    push_base36(&mut actor, epoch);
    if actor.len() > MAX_ACTOR_BYTES {
        return None;
    }
    let stored_context: &[(&[u8], u64)] = stored.as_ref().map_or(&[], |e| &e.context);
    let joined = match &client {
        Some(c) => join(stored_context, c),
        None => stored_context.to_vec(),
    };
    let counter = counter_in(&joined, &actor) + 1;
    if counter > MAX_SAFE_INTEGER {
        return None;
    }
    let context = join(&joined, &[(&actor, counter)]);
    // The siblings the client read are superseded; without a context, none is.
    let mut siblings: Vec<Sibling<'_>> = Vec::new();
    if let Some(env) = &stored {
        for s in &env.siblings {
            let name = env.context[s.actor].0;
            if client
                .as_ref()
                .is_some_and(|c| counter_in(c, name) >= s.counter)
            {
                continue;
            }
            siblings.push(Sibling {
                actor: name,
                counter: s.counter,
                timestamp: s.timestamp,
                expires_at: s.expires_at,
                value: s.value,
            });
        }
    }
    // The new dot is its actor's largest: it goes after every sibling of an actor not above it.
    let at = siblings.partition_point(|s| s.actor <= actor.as_slice());
    siblings.insert(
        at,
        Sibling {
            actor: &actor,
            counter,
            timestamp: u.timestamp,
            expires_at: u.expires_at,
            value: u.value,
        },
    );
    if siblings.len() > u.max_siblings {
        return None;
    }
    let bytes = encode(&context, &siblings)?;
    if bytes.len() > u.max_object_bytes {
        return None;
    }
    Some(Updated {
        bytes,
        siblings: siblings.len(),
        epoch,
        fresh,
    })
}

#[cfg(test)]
mod tests;
