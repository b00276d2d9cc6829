//! The stored envelope of ringkv (src/versioning/codec.ts has the format and its rules), read in place.
//!
//! Every replica write merges the incoming envelope into the stored one. In TypeScript that is two
//! decodes into objects (actor strings, a Map, sibling objects), a merge and an equality test -- about
//! a sixth of a write's CPU across the cluster. Nearly always the incoming envelope simply supersedes
//! the stored one: it is the coordinator's newer version of the same key. This crate decides that case
//! on the bytes, without building anything, so the engine can store the incoming bytes as they are.
//!
//! Deliberately partial: `replica_merge` answers `Fallback` for anything it does not fully decide --
//! bytes that do not parse, actors that are not ASCII (JavaScript orders strings by UTF-16 code units,
//! equal to byte order only for ASCII), siblings the merge would drop or choose between, and merges that
//! bring back dots of this node's own actors (the key-epoch bookkeeping of src/storage/key-epochs.ts).
//! The caller then runs the general merge in TypeScript, which also produces the precise error. What
//! this crate accepts is therefore a subset of what `decodeEnvelope` accepts, checked as strictly.

/// Actors are 1..=255 UTF-8 bytes (MAX_ACTOR_BYTES in src/versioning/version-vector.ts).
pub const MAX_ACTOR_BYTES: usize = 255;
const ENVELOPE_FORMAT: u8 = 1;
const CONTEXT_FORMAT: u8 = 1;
const TOMBSTONE: u8 = 0;
const VALUE: u8 = 1;
/// Number.MAX_SAFE_INTEGER: the decoder refuses larger varints.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;
/// The decoder reads at most 8 bytes of a varint.
const MAX_VARINT_BYTES: usize = 8;

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn left(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    /// Minimal unsigned LEB128 of at most 8 bytes and at most 2^53-1, as the TypeScript decoder reads it.
    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for i in 0..MAX_VARINT_BYTES {
            let b = self.byte()?;
            value |= u64::from(b & 127) << (7 * i);
            if b < 128 {
                if b == 0 && i > 0 {
                    return None;
                }
                return (value <= MAX_SAFE_INTEGER).then_some(value);
            }
        }
        None
    }

    /// A count of items of at least `min_bytes` each, refused when the bytes left cannot hold them.
    fn count(&mut self, min_bytes: usize) -> Option<usize> {
        let n = usize::try_from(self.varint()?).ok()?;
        (n.checked_mul(min_bytes)? <= self.left()).then_some(n)
    }

    fn take(&mut self, n: u64) -> Option<&'a [u8]> {
        let n = usize::try_from(n).ok()?;
        if n > self.left() {
            return None;
        }
        let out = &self.bytes[self.at..self.at + n];
        self.at += n;
        Some(out)
    }
}

/// A context block: actors ascending (ASCII only, see the top of this file), counters from 1.
fn read_context<'a>(r: &mut Reader<'a>) -> Option<Vec<(&'a [u8], u64)>> {
    // Each entry is at least 3 bytes: a length, one byte of name, a counter.
    let actors = r.count(3)?;
    let mut context: Vec<(&'a [u8], u64)> = Vec::with_capacity(actors);
    for _ in 0..actors {
        let len = r.varint()?;
        if len == 0 || len > MAX_ACTOR_BYTES as u64 {
            return None;
        }
        let name = r.take(len)?;
        if !name.is_ascii() {
            return None;
        }
        if let Some(&(previous, _)) = context.last() {
            if previous >= name {
                return None;
            }
        }
        let counter = r.varint()?;
        if counter == 0 {
            return None;
        }
        context.push((name, counter));
    }
    Some(context)
}

/// A client's causal context as `decodeContext` reads it once base64 is undone: a format byte (1) and a
/// context block; `None` for anything it would refuse (or non-ASCII actors).
pub fn parse_client_context(bytes: &[u8]) -> Option<Vec<(&[u8], u64)>> {
    let mut r = Reader { bytes, at: 0 };
    if r.byte()? != CONTEXT_FORMAT {
        return None;
    }
    let context = read_context(&mut r)?;
    (r.left() == 0).then_some(context)
}

/// One sibling as it lies in the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sibling<'a> {
    /// Index into the envelope's context.
    pub actor: usize,
    pub counter: u64,
    pub timestamp: u64,
    pub expires_at: u64,
    /// `None` for a tombstone.
    pub value: Option<&'a [u8]>,
}

impl Sibling<'_> {
    fn same_content(&self, other: &Sibling<'_>) -> bool {
        self.timestamp == other.timestamp
            && self.expires_at == other.expires_at
            && self.value == other.value
    }
}

/// An envelope read in place: its context (actors ascending) and its siblings (ascending by dot).
#[derive(Debug)]
pub struct Envelope<'a> {
    pub context: Vec<(&'a [u8], u64)>,
    pub siblings: Vec<Sibling<'a>>,
    /// Where the context block ends: the bytes before it are the client context (format byte and
    /// context block; both formats are 1), as `readAnswer` in src/versioning/codec.ts hands it out.
    pub context_end: usize,
}

/// A value a read shows: a sibling that is neither a tombstone nor expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveValue<'a> {
    pub timestamp: u64,
    pub expires_at: u64,
    pub value: &'a [u8],
}

impl<'a> Envelope<'a> {
    /// Reads envelope bytes with every check of `decodeEnvelope`; `None` for anything it would refuse,
    /// and also for actors that are not ASCII (see the top of this file).
    pub fn parse(bytes: &'a [u8]) -> Option<Self> {
        let mut r = Reader { bytes, at: 0 };
        if r.byte()? != ENVELOPE_FORMAT {
            return None;
        }
        let context = read_context(&mut r)?;
        let context_end = r.at;
        // Each sibling is at least 5 bytes: actor index, counter, timestamp, expiry, kind.
        let count = r.count(5)?;
        let mut siblings = Vec::with_capacity(count);
        let mut last: Option<(usize, u64)> = None;
        for _ in 0..count {
            let actor = usize::try_from(r.varint()?).ok()?;
            let &(_, covered) = context.get(actor)?;
            let counter = r.varint()?;
            if counter == 0 || counter > covered {
                return None;
            }
            if let Some(previous) = last {
                if (actor, counter) <= previous {
                    return None;
                }
            }
            last = Some((actor, counter));
            let timestamp = r.varint()?;
            let expires_at = r.varint()?;
            let value = match r.byte()? {
                TOMBSTONE => None,
                VALUE => {
                    let len = r.varint()?;
                    Some(r.take(len)?)
                }
                _ => return None,
            };
            siblings.push(Sibling {
                actor,
                counter,
                timestamp,
                expires_at,
                value,
            });
        }
        if r.left() != 0 {
            return None;
        }
        Some(Envelope {
            context,
            siblings,
            context_end,
        })
    }

    /// The values a read at `now` (milliseconds since the epoch) shows, in stored order: what
    /// `readAnswer` lists. A value expires once `now` reaches its expiry (0: never); the times are
    /// compared as the JavaScript numbers they are there.
    pub fn live_values(&self, now: f64) -> Vec<LiveValue<'a>> {
        self.siblings
            .iter()
            .filter_map(|s| {
                let value = s.value?;
                // Varints are at most 2^53-1, exact as f64.
                #[allow(clippy::cast_precision_loss)]
                let live = s.expires_at == 0 || s.expires_at as f64 > now;
                live.then_some(LiveValue {
                    timestamp: s.timestamp,
                    expires_at: s.expires_at,
                    value,
                })
            })
            .collect()
    }

    /// The context's counter for `actor`, 0 when absent.
    pub fn counter_of(&self, actor: &[u8]) -> u64 {
        self.context
            .binary_search_by(|(name, _)| (*name).cmp(actor))
            .map_or(0, |i| self.context[i].1)
    }

    fn sibling(&self, actor: &[u8], counter: u64) -> Option<&Sibling<'a>> {
        let index = self
            .context
            .binary_search_by(|(name, _)| (*name).cmp(actor))
            .ok()?;
        self.siblings
            .binary_search_by(|s| (s.actor, s.counter).cmp(&(index, counter)))
            .ok()
            .map(|i| &self.siblings[i])
    }
}

/// What a replica does with an incoming envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeDecision {
    /// The merge is the stored envelope itself: nothing to write.
    Unchanged,
    /// The merge is the incoming envelope: store its bytes as they are.
    StoreIncoming,
    /// Not decided here: run the general merge.
    Fallback,
}

/// The replica merge of `incoming` into `stored` (None: the key is absent), decided on the bytes when
/// the result is one of the two envelopes (see `MergeDecision`). `own_actor_prefix` is "<issuer>/" of
/// this store's key epochs (empty when it has none): a merge that brings dots of such an actor beyond
/// the stored ones is left to the general path, which records it.
///
/// The result is `mergeEnvelopes(stored, incoming)` of src/versioning/envelope.ts: contexts joined, a
/// sibling kept unless the other side has seen its dot and no longer holds it. It equals `incoming`
/// when the incoming context covers the stored one -- every stored sibling is then seen by it, so only
/// those it holds survive -- and every incoming sibling survives: its dot is new to the stored context,
/// or the stored envelope holds the same sibling.
pub fn replica_merge(
    stored: Option<&[u8]>,
    incoming: &[u8],
    own_actor_prefix: &[u8],
) -> MergeDecision {
    if stored == Some(incoming) {
        // Canonical encodings: equal bytes are equal envelopes (a duplicate delivery).
        return if Envelope::parse(incoming).is_some() {
            MergeDecision::Unchanged
        } else {
            MergeDecision::Fallback
        };
    }
    let Some(theirs) = Envelope::parse(incoming) else {
        return MergeDecision::Fallback;
    };
    let ours = match stored {
        Some(bytes) => match Envelope::parse(bytes) {
            Some(e) => e,
            None => return MergeDecision::Fallback,
        },
        None => Envelope {
            context: Vec::new(),
            siblings: Vec::new(),
            context_end: 0,
        },
    };
    if stored.is_none() && theirs.context.is_empty() {
        // The empty envelope merged into nothing is still nothing.
        return MergeDecision::Unchanged;
    }
    for &(actor, counter) in &ours.context {
        if theirs.counter_of(actor) < counter {
            return MergeDecision::Fallback;
        }
    }
    for s in &theirs.siblings {
        let actor = theirs.context[s.actor].0;
        if s.counter <= ours.counter_of(actor) {
            match ours.sibling(actor, s.counter) {
                Some(held) if held.same_content(s) => {}
                _ => return MergeDecision::Fallback,
            }
        }
    }
    if !own_actor_prefix.is_empty() {
        for &(actor, counter) in &theirs.context {
            if actor.len() > own_actor_prefix.len()
                && actor.starts_with(own_actor_prefix)
                && counter > ours.counter_of(actor)
            {
                return MergeDecision::Fallback;
            }
        }
    }
    MergeDecision::StoreIncoming
}

pub mod answer;
pub mod update;

#[cfg(test)]
mod tests;
