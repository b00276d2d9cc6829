//! The memtable: recent writes, readable from any thread while the single writer inserts. Every
//! version of a key is kept (key ascending, newest first), so a scan's snapshot sequence number
//! sees a stable view while writes continue.
//!
//! A memtable is tied to the WAL segment that holds its writes; once it is flushed to an SSTable
//! that segment can be deleted.
//!
//! # Layout
//!
//! Everything lives in an append-only arena of large chunks owned by the memtable and freed only
//! when it drops (full-size chunks are huge pages: see `huge.rs`), so readers (who hold the
//! memtable through an `Arc`) follow plain pointers and never take a lock. One *key node* per
//! distinct key holds the key bytes inline and a chain of *versions*, newest first, each with its
//! value inline. A new key's node and first version are allocated back to back, so a point read of
//! it touches one or two cache lines before the value.
//!
//! - Point reads go through a hash index (open addressing, linear probing, 16-byte slots holding
//!   the key's 64-bit hash and its node): about one cache miss for the slot, one for the node,
//!   then the value, instead of a skiplist descent of dozens of dependent misses.
//! - Order (scans, flushes) comes from a skiplist over the key nodes, LevelDB style: one writer,
//!   lock-free readers. A new version of an existing key is found through the hash index and
//!   prepended to its chain, so overwrites do not search the skiplist at all.
//!
//! # Concurrency
//!
//! Writers are serialised by the engine's write lock; `writer` (a mutex only the writer takes)
//! makes that exclusion local and owns the arena. Everything a reader can reach is fully written
//! before it is published with a `Release` store (a skiplist link, a chain head, an index slot, the
//! index itself), and readers load with `Acquire`. The engine publishes `visible_seqno` after a
//! whole batch is inserted and readers load it before looking here, so a reader at sequence
//! number `s` finds every version with seqno <= `s` and skips the newer ones it may also see. When
//! the index grows, the new one holds every key before it is published; old indexes stay allocated
//! (readers may still be probing them) until the memtable drops.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::cmp::Ordering;
use std::ops::Bound;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering as AtomicOrdering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::bloom::key_hash;
use crate::error::Result;
#[cfg(test)]
use crate::huge::Backing;
use crate::huge::{alloc_huge_page, free_huge_page, HugePagePool, HUGE_PAGE};
use crate::iter::EntryIter;
use crate::types::{SeqNo, ValueKind};

/// Per-entry bookkeeping beyond key and value bytes (node and version headers, skiplist links,
/// index slots), for size accounting.
const ENTRY_OVERHEAD: usize = 96;

/// Skiplist height bound; with a 1/4 branching factor it serves tens of millions of keys.
const MAX_HEIGHT: usize = 12;
/// Arena chunks start small (tests open many tiny memtables) and double up to this size, one huge
/// page: chunks of this size are huge pages (`huge.rs`).
const MAX_CHUNK: usize = HUGE_PAGE;
const FIRST_CHUNK: usize = 16 << 10;
/// Allocations above a quarter chunk get a chunk of their own, so chunk tails waste little.
const OWN_CHUNK_ABOVE: usize = MAX_CHUNK / 4;
const FIRST_INDEX_SLOTS: usize = 1024;
const ALIGN: usize = 8;

/// One distinct key. Followed in the arena by `height` skiplist links, then the key bytes.
#[repr(C)]
struct KeyNode {
    /// The newest version; each version points to the next older one.
    versions: AtomicPtr<Version>,
    key_len: u32,
    height: u32,
}

/// One version of a key. Followed in the arena by the value bytes.
#[repr(C)]
struct Version {
    seqno: SeqNo,
    expires_at: u64,
    older: AtomicPtr<Version>,
    value_len: usize,
    kind: ValueKind,
}

const NODE_HEADER: usize = std::mem::size_of::<KeyNode>();
const VERSION_HEADER: usize = std::mem::size_of::<Version>();
const LINK: usize = std::mem::size_of::<AtomicPtr<KeyNode>>();

fn round_up(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

impl KeyNode {
    /// The skiplist links of this node.
    #[inline]
    fn links(&self) -> &[AtomicPtr<KeyNode>] {
        // SAFETY: a node is allocated with `height` links right after its header (`alloc_node`),
        // 8-aligned, initialised before the node is published, and lives as long as the arena.
        unsafe {
            std::slice::from_raw_parts(
                (self as *const KeyNode as *const u8).add(NODE_HEADER) as *const AtomicPtr<KeyNode>,
                self.height as usize,
            )
        }
    }

    #[inline]
    fn key(&self) -> &[u8] {
        // SAFETY: `key_len` key bytes follow the links; written before the node is published.
        unsafe {
            std::slice::from_raw_parts(
                (self as *const KeyNode as *const u8)
                    .add(NODE_HEADER + LINK * self.height as usize),
                self.key_len as usize,
            )
        }
    }

    #[inline]
    fn next(&self, level: usize) -> *const KeyNode {
        self.links()
            .get(level)
            .map(|l| l.load(AtomicOrdering::Acquire) as *const KeyNode)
            .unwrap_or(ptr::null())
    }
}

impl Version {
    #[inline]
    fn value(&self) -> &[u8] {
        // SAFETY: `value_len` bytes follow the header; written before the version is published.
        unsafe {
            std::slice::from_raw_parts(
                (self as *const Version as *const u8).add(VERSION_HEADER),
                self.value_len,
            )
        }
    }

    #[inline]
    fn older(&self) -> *const Version {
        self.older.load(AtomicOrdering::Acquire)
    }
}

/// One slot of the hash index: a key's hash (never 0; 0 marks an empty slot) and its node.
#[repr(C, align(16))]
struct Slot {
    tag: AtomicU64,
    node: AtomicPtr<KeyNode>,
}

struct Index {
    mask: usize,
    slots: Box<[Slot]>,
}

/// The stored form of a key hash: never 0, low bits (the slot position) unchanged.
#[inline]
fn tag_of(hash: u64) -> u64 {
    hash | (1 << 63)
}

impl Index {
    fn with_slots(n: usize) -> Index {
        Index {
            mask: n - 1,
            slots: (0..n)
                .map(|_| Slot {
                    tag: AtomicU64::new(0),
                    node: AtomicPtr::new(ptr::null_mut()),
                })
                .collect(),
        }
    }

    /// The node of `key`, or the position of the empty slot where it would go.
    #[inline]
    fn find(&self, key: &[u8], tag: u64) -> std::result::Result<&KeyNode, usize> {
        let mut i = tag as usize & self.mask;
        loop {
            let slot = &self.slots[i];
            let t = slot.tag.load(AtomicOrdering::Acquire);
            if t == 0 {
                return Err(i);
            }
            if t == tag {
                let node = slot.node.load(AtomicOrdering::Acquire);
                // SAFETY: a slot's node is stored before its tag (Release/Acquire), points into
                // the arena and is never null once the tag is set.
                let node = unsafe { &*node };
                if node.key() == key {
                    return Ok(node);
                }
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Fills an empty slot (writer only, before or after publication).
    fn fill(&self, i: usize, tag: u64, node: *mut KeyNode) {
        let slot = &self.slots[i];
        slot.node.store(node, AtomicOrdering::Release);
        slot.tag.store(tag, AtomicOrdering::Release);
    }

    /// Adds a key known to be absent (used when growing: every key is distinct).
    fn add_distinct(&self, tag: u64, node: *mut KeyNode) {
        let mut i = tag as usize & self.mask;
        while self.slots[i].tag.load(AtomicOrdering::Relaxed) != 0 {
            i = (i + 1) & self.mask;
        }
        self.fill(i, tag, node);
    }
}

/// One chunk of the arena, and where it came from (so it goes back there).
enum Chunk {
    Heap(*mut u8, Layout),
    HugePage(*mut u8),
}

/// What only the writer touches: the arena and the bookkeeping of indexes.
struct WriterState {
    /// Every chunk ever allocated, freed on drop.
    chunks: Vec<Chunk>,
    /// Where huge-page chunks come from and go back to (None: straight from and to the kernel).
    pool: Option<Arc<HugePagePool>>,
    /// Free space in the current chunk.
    cursor: *mut u8,
    remaining: usize,
    next_chunk: usize,
    /// Distinct keys in the index.
    keys: usize,
    /// Indexes replaced by a larger one, freed on drop (readers may still be probing them).
    retired: Vec<*mut Index>,
    rng: u64,
}

// SAFETY: the raw pointers are to memory this state owns (chunks, retired indexes); nothing in it
// is tied to a thread.
unsafe impl Send for WriterState {}

impl WriterState {
    /// `size` bytes, 8-aligned, from the arena; never moved or freed before the memtable drops.
    fn alloc(&mut self, size: usize) -> *mut u8 {
        let size = round_up(size.max(1));
        if size > self.remaining {
            if size > OWN_CHUNK_ABOVE {
                return self.new_chunk(size);
            }
            let chunk = self.next_chunk.max(size);
            self.next_chunk = (self.next_chunk * 2).min(MAX_CHUNK);
            self.cursor = self.new_chunk(chunk);
            self.remaining = chunk;
        }
        let p = self.cursor;
        // SAFETY: `size <= remaining`, so the result stays within the current chunk.
        self.cursor = unsafe { p.add(size) };
        self.remaining -= size;
        p
    }

    fn new_chunk(&mut self, size: usize) -> *mut u8 {
        if size == HUGE_PAGE {
            let page = match &self.pool {
                Some(pool) => pool.take(),
                None => alloc_huge_page(),
            };
            if let Some(p) = page {
                self.chunks.push(Chunk::HugePage(p));
                return p;
            }
        }
        let Ok(layout) = Layout::from_size_align(size, ALIGN) else {
            handle_alloc_error(Layout::new::<u64>())
        };
        // SAFETY: `size` is at least ALIGN (rounded up from at least 1), so the layout is non-zero.
        let p = unsafe { alloc(layout) };
        if p.is_null() {
            handle_alloc_error(layout);
        }
        self.chunks.push(Chunk::Heap(p, layout));
        p
    }

    /// A skiplist height: 1 with probability 3/4, each further level a quarter as likely.
    fn random_height(&mut self) -> usize {
        // xorshift64*
        let mut h = 1;
        while h < MAX_HEIGHT {
            self.rng ^= self.rng >> 12;
            self.rng ^= self.rng << 25;
            self.rng ^= self.rng >> 27;
            if self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 62 != 0 {
                break;
            }
            h += 1;
        }
        h
    }

    /// Writes a version (unpublished) at `p`.
    ///
    /// # Safety
    /// `p` must be an arena allocation of at least `VERSION_HEADER + value.len()` bytes.
    unsafe fn write_version(
        p: *mut u8,
        seqno: SeqNo,
        kind: ValueKind,
        expires_at: u64,
        value: &[u8],
        older: *mut Version,
    ) -> *mut Version {
        let v = p as *mut Version;
        // SAFETY: per the contract, the allocation holds the header and the value; it is 8-aligned.
        unsafe {
            v.write(Version {
                seqno,
                expires_at,
                older: AtomicPtr::new(older),
                value_len: value.len(),
                kind,
            });
            ptr::copy_nonoverlapping(value.as_ptr(), p.add(VERSION_HEADER), value.len());
        }
        v
    }
}

pub struct Memtable {
    /// Skiplist head: `MAX_HEIGHT` links.
    head: Box<[AtomicPtr<KeyNode>]>,
    /// Levels in use (readers may start lower than the truth; they only search longer).
    height: AtomicUsize,
    index: AtomicPtr<Index>,
    writer: Mutex<WriterState>,
    entries: AtomicUsize,
    approximate_bytes: AtomicUsize,
    max_seqno: AtomicU64,
    wal_segment: u64,
}

pub struct MemFound<'a> {
    pub seqno: SeqNo,
    pub kind: ValueKind,
    pub expires_at: u64,
    pub value: &'a [u8],
}

impl Drop for Memtable {
    fn drop(&mut self) {
        let w = self.writer.get_mut();
        for chunk in &w.chunks {
            // SAFETY: allocated by `new_chunk` as recorded; nothing can reach it any more
            // (readers hold the memtable, and it is being dropped).
            match *chunk {
                Chunk::Heap(p, layout) => unsafe { dealloc(p, layout) },
                Chunk::HugePage(p) => match &w.pool {
                    Some(pool) => unsafe { pool.give(p) },
                    None => unsafe { free_huge_page(p) },
                },
            }
        }
        for &i in w.retired.iter().chain([&*self.index.get_mut()]) {
            // SAFETY: every index came from `Box::into_raw` and is freed exactly once here.
            drop(unsafe { Box::from_raw(i) });
        }
    }
}

impl Memtable {
    pub fn new(wal_segment: u64) -> Self {
        Self::with_pool(wal_segment, None)
    }

    /// A memtable whose huge-page chunks come from `pool` and go back to it when it drops.
    pub fn with_pool(wal_segment: u64, pool: Option<Arc<HugePagePool>>) -> Self {
        Memtable {
            head: (0..MAX_HEIGHT)
                .map(|_| AtomicPtr::new(ptr::null_mut()))
                .collect(),
            height: AtomicUsize::new(1),
            index: AtomicPtr::new(Box::into_raw(Box::new(Index::with_slots(
                FIRST_INDEX_SLOTS,
            )))),
            writer: Mutex::new(WriterState {
                chunks: Vec::new(),
                pool,
                cursor: ptr::null_mut(),
                remaining: 0,
                next_chunk: FIRST_CHUNK,
                keys: 0,
                retired: Vec::new(),
                rng: 0x9e37_79b9_7f4a_7c15 ^ wal_segment,
            }),
            entries: AtomicUsize::new(0),
            approximate_bytes: AtomicUsize::new(0),
            max_seqno: AtomicU64::new(0),
            wal_segment,
        }
    }

    pub fn wal_segment(&self) -> u64 {
        self.wal_segment
    }

    #[inline]
    fn index(&self) -> &Index {
        // SAFETY: the index pointer is always a live `Box::into_raw` allocation, published with
        // Release after it was filled, and freed only on drop.
        unsafe { &*self.index.load(AtomicOrdering::Acquire) }
    }

    pub fn insert(&self, key: &[u8], seqno: SeqNo, kind: ValueKind, expires_at: u64, value: &[u8]) {
        self.insert_hashed(key, key_hash(key), seqno, kind, expires_at, value)
    }

    /// `insert` with the key's `bloom::key_hash` already computed.
    pub fn insert_hashed(
        &self,
        key: &[u8],
        hash: u64,
        seqno: SeqNo,
        kind: ValueKind,
        expires_at: u64,
        value: &[u8],
    ) {
        self.approximate_bytes.fetch_add(
            key.len() + value.len() + ENTRY_OVERHEAD,
            AtomicOrdering::Relaxed,
        );
        self.max_seqno.fetch_max(seqno, AtomicOrdering::Relaxed);
        let mut w = self.writer.lock();
        let tag = tag_of(hash);
        match self.index().find(key, tag) {
            Ok(node) => {
                let p = w.alloc(VERSION_HEADER + value.len());
                Self::add_version(node, p, seqno, kind, expires_at, value);
            }
            Err(slot) => {
                let node = self.add_key(&mut w, key, seqno, kind, expires_at, value);
                if (w.keys + 1) * 2 > self.index().slots.len() {
                    self.grow_index(&mut w);
                    self.index().add_distinct(tag, node);
                } else {
                    self.index().fill(slot, tag, node);
                }
                w.keys += 1;
            }
        }
        self.entries.fetch_add(1, AtomicOrdering::Relaxed);
    }

    /// Links a new version into `node`'s chain, keeping it newest first. The writer assigns
    /// increasing sequence numbers, so this is normally a prepend; an equal seqno replaces.
    fn add_version(
        node: &KeyNode,
        p: *mut u8,
        seqno: SeqNo,
        kind: ValueKind,
        expires_at: u64,
        value: &[u8],
    ) {
        // Find the link that should point at the new version: the first version not newer.
        let mut link = &node.versions;
        loop {
            let cur = link.load(AtomicOrdering::Acquire);
            // SAFETY: published versions live as long as the arena.
            match unsafe { cur.as_ref() } {
                Some(v) if v.seqno > seqno => link = &v.older,
                Some(v) if v.seqno == seqno => {
                    // SAFETY: `p` has room for the version (allocated by the caller for it).
                    let new = unsafe {
                        WriterState::write_version(
                            p,
                            seqno,
                            kind,
                            expires_at,
                            value,
                            v.older() as *mut _,
                        )
                    };
                    link.store(new, AtomicOrdering::Release);
                    return;
                }
                _ => {
                    // SAFETY: as above.
                    let new = unsafe {
                        WriterState::write_version(p, seqno, kind, expires_at, value, cur)
                    };
                    link.store(new, AtomicOrdering::Release);
                    return;
                }
            }
        }
    }

    /// Allocates a key node with its first version right behind it and links it into the skiplist.
    fn add_key(
        &self,
        w: &mut WriterState,
        key: &[u8],
        seqno: SeqNo,
        kind: ValueKind,
        expires_at: u64,
        value: &[u8],
    ) -> *mut KeyNode {
        let height = w.random_height();
        let node_size = round_up(NODE_HEADER + LINK * height + key.len());
        let p = w.alloc(node_size + VERSION_HEADER + value.len());
        let preds = self.predecessors(key);
        let node = p as *mut KeyNode;
        // SAFETY: `p` holds the node header, `height` links, the key, then (8-aligned, as
        // `node_size` is rounded) the first version and its value.
        unsafe {
            let version = WriterState::write_version(
                p.add(node_size),
                seqno,
                kind,
                expires_at,
                value,
                ptr::null_mut(),
            );
            node.write(KeyNode {
                versions: AtomicPtr::new(version),
                key_len: key.len() as u32,
                height: height as u32,
            });
            let links = p.add(NODE_HEADER) as *mut AtomicPtr<KeyNode>;
            for (level, pred) in preds.iter().enumerate().take(height) {
                links
                    .add(level)
                    .write(AtomicPtr::new(pred.load(AtomicOrdering::Relaxed)));
            }
            ptr::copy_nonoverlapping(key.as_ptr(), p.add(NODE_HEADER + LINK * height), key.len());
        }
        if height > self.height.load(AtomicOrdering::Relaxed) {
            self.height.store(height, AtomicOrdering::Release);
        }
        // Publish bottom up: a reader that sees the node at some level finds it below too.
        for pred in preds.iter().take(height) {
            pred.store(node, AtomicOrdering::Release);
        }
        node
    }

    /// For each level, the link after which `key` belongs (writer only: the links stay put).
    fn predecessors(&self, key: &[u8]) -> [&AtomicPtr<KeyNode>; MAX_HEIGHT] {
        let mut preds: [&AtomicPtr<KeyNode>; MAX_HEIGHT] = std::array::from_fn(|l| &self.head[l]);
        let mut links: &[AtomicPtr<KeyNode>] = &self.head;
        for level in (0..MAX_HEIGHT).rev() {
            loop {
                let next = links[level].load(AtomicOrdering::Acquire);
                // SAFETY: published nodes live as long as the arena.
                match unsafe { next.as_ref() } {
                    Some(n) if n.key() < key => links = n.links(),
                    _ => break,
                }
            }
            preds[level] = &links[level];
        }
        preds
    }

    /// Doubles the index: the new one holds every key before it is published.
    fn grow_index(&self, w: &mut WriterState) {
        let old = self.index.load(AtomicOrdering::Relaxed);
        // SAFETY: the current index is live; only the writer replaces it.
        let old_ref = unsafe { &*old };
        let grown = Index::with_slots(old_ref.slots.len() * 2);
        for s in old_ref.slots.iter() {
            let tag = s.tag.load(AtomicOrdering::Relaxed);
            if tag != 0 {
                grown.add_distinct(tag, s.node.load(AtomicOrdering::Relaxed));
            }
        }
        self.index
            .store(Box::into_raw(Box::new(grown)), AtomicOrdering::Release);
        w.retired.push(old);
    }

    /// Where the arena's page-sized chunks start (tests look up how the kernel was advised).
    #[cfg(test)]
    pub(crate) fn page_chunks(&self) -> Vec<usize> {
        let w = self.writer.lock();
        w.chunks
            .iter()
            .filter_map(|c| match *c {
                Chunk::HugePage(p) => Some(p as usize),
                Chunk::Heap(..) => None,
            })
            .collect()
    }

    pub fn approximate_bytes(&self) -> usize {
        self.approximate_bytes.load(AtomicOrdering::Relaxed)
    }

    pub fn max_seqno(&self) -> SeqNo {
        self.max_seqno.load(AtomicOrdering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Versions stored.
    pub fn len(&self) -> usize {
        self.entries.load(AtomicOrdering::Relaxed)
    }

    /// Calls `f` with the newest version of `key` whose seqno is at most `max_seqno`.
    pub fn get_with<R>(
        &self,
        key: &[u8],
        max_seqno: SeqNo,
        f: impl FnOnce(MemFound<'_>) -> R,
    ) -> Option<R> {
        self.get_hashed(key, key_hash(key), max_seqno, f)
    }

    /// `get_with` with the key's `bloom::key_hash` already computed.
    #[inline]
    pub fn get_hashed<R>(
        &self,
        key: &[u8],
        hash: u64,
        max_seqno: SeqNo,
        f: impl FnOnce(MemFound<'_>) -> R,
    ) -> Option<R> {
        let node = self.index().find(key, tag_of(hash)).ok()?;
        let v = Self::visible(node, max_seqno)?;
        Some(f(MemFound {
            seqno: v.seqno,
            kind: v.kind,
            expires_at: v.expires_at,
            value: v.value(),
        }))
    }

    /// The newest version of `node` with seqno <= `max_seqno`.
    #[inline]
    fn visible(node: &KeyNode, max_seqno: SeqNo) -> Option<&Version> {
        let mut v: *const Version = node.versions.load(AtomicOrdering::Acquire);
        // SAFETY: published versions live as long as the arena, which outlives `node`'s borrow.
        while let Some(ver) = unsafe { v.as_ref() } {
            if ver.seqno <= max_seqno {
                return Some(ver);
            }
            v = ver.older();
        }
        None
    }

    /// The first node whose key is >= `key` (or > `key` when `!inclusive`), or null.
    fn seek(&self, key: &[u8], inclusive: bool) -> *const KeyNode {
        let mut links: &[AtomicPtr<KeyNode>] = &self.head;
        let top = self.height.load(AtomicOrdering::Acquire).min(MAX_HEIGHT);
        let mut candidate = ptr::null();
        for level in (0..top).rev() {
            loop {
                let next = links[level].load(AtomicOrdering::Acquire);
                // SAFETY: published nodes live as long as the arena.
                match unsafe { next.as_ref() } {
                    Some(n) if before(n.key(), key, inclusive) => links = n.links(),
                    _ => {
                        candidate = next as *const KeyNode;
                        break;
                    }
                }
            }
        }
        candidate
    }

    /// An iterator over all versions with seqno <= `max_seqno`, from the first key >= `start`.
    pub fn iter_from(self: &Arc<Self>, start: Bound<&[u8]>, max_seqno: SeqNo) -> MemtableIter {
        let node = match start {
            Bound::Unbounded => self.head[0].load(AtomicOrdering::Acquire) as *const KeyNode,
            Bound::Included(k) => self.seek(k, true),
            Bound::Excluded(k) => self.seek(k, false),
        };
        let mut it = MemtableIter {
            _table: Arc::clone(self),
            max_seqno,
            node,
            version: ptr::null(),
        };
        it.settle();
        it
    }
}

/// Whether a node with key `node_key` lies before the seek target.
#[inline]
fn before(node_key: &[u8], target: &[u8], inclusive: bool) -> bool {
    match node_key.cmp(target) {
        Ordering::Less => true,
        Ordering::Equal => !inclusive,
        Ordering::Greater => false,
    }
}

/// Holds its memtable through an `Arc` (which keeps the arena and so every pointer here alive),
/// so it borrows nothing and can live inside a cursor handed to JavaScript.
pub struct MemtableIter {
    _table: Arc<Memtable>,
    max_seqno: SeqNo,
    /// The current key, or null when exhausted.
    node: *const KeyNode,
    /// The current version of `node` (non-null whenever `node` is).
    version: *const Version,
}

// SAFETY: the pointers are into the arena of `table`, which is Send + Sync and kept alive by the
// Arc; the iterator only reads through them.
unsafe impl Send for MemtableIter {}

impl MemtableIter {
    fn node(&self) -> Option<&KeyNode> {
        // SAFETY: see the type's comment.
        unsafe { self.node.as_ref() }
    }

    fn version(&self) -> Option<&Version> {
        // SAFETY: see the type's comment.
        unsafe { self.version.as_ref() }
    }

    /// From `node` on, finds the first key with a version visible at `max_seqno`.
    fn settle(&mut self) {
        while let Some(n) = self.node() {
            if let Some(v) = Memtable::visible(n, self.max_seqno) {
                self.version = v;
                return;
            }
            self.node = n.next(0);
        }
        self.version = ptr::null();
    }
}

impl EntryIter for MemtableIter {
    fn valid(&self) -> bool {
        !self.node.is_null()
    }
    fn key(&self) -> &[u8] {
        self.node().map(|n| n.key()).unwrap_or(&[])
    }
    fn seqno(&self) -> SeqNo {
        self.version().map(|v| v.seqno).unwrap_or(0)
    }
    fn kind(&self) -> ValueKind {
        self.version().map(|v| v.kind).unwrap_or(ValueKind::Delete)
    }
    fn expires_at(&self) -> u64 {
        self.version().map(|v| v.expires_at).unwrap_or(0)
    }
    fn value(&self) -> &[u8] {
        self.version().map(|v| v.value()).unwrap_or(&[])
    }
    fn next(&mut self) -> Result<()> {
        // Older versions of a key all have seqno <= the current one's, so all are visible.
        let older = self.version().map(|v| v.older()).unwrap_or(ptr::null());
        if !older.is_null() {
            self.version = older;
            return Ok(());
        }
        if let Some(n) = self.node() {
            self.node = n.next(0);
            self.settle();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn newest_visible_version_wins() {
        let m = Memtable::new(1);
        m.insert(b"k", 1, ValueKind::Put, 0, b"v1");
        m.insert(b"k", 3, ValueKind::Put, 0, b"v3");
        m.insert(b"k", 5, ValueKind::Delete, 0, b"");
        m.insert(b"ka", 2, ValueKind::Put, 0, b"x");
        let get = |s| m.get_with(b"k", s, |f| (f.seqno, f.value.to_vec()));
        assert_eq!(get(2), Some((1, b"v1".to_vec())));
        assert_eq!(get(4), Some((3, b"v3".to_vec())));
        assert_eq!(get(9).map(|x| x.0), Some(5));
        assert_eq!(get(0), None);
        assert!(m.get_with(b"j", 9, |_| ()).is_none());
    }

    #[test]
    fn iterates_in_engine_order_under_snapshot() {
        let m = Arc::new(Memtable::new(1));
        m.insert(b"b", 4, ValueKind::Put, 0, b"b4");
        m.insert(b"a", 1, ValueKind::Put, 0, b"a1");
        m.insert(b"b", 2, ValueKind::Put, 0, b"b2");
        m.insert(b"c", 9, ValueKind::Put, 0, b"c9");
        let mut it = m.iter_from(Bound::Unbounded, 5);
        let mut seen = Vec::new();
        while it.valid() {
            seen.push((it.key().to_vec(), it.seqno()));
            it.next().unwrap();
        }
        assert_eq!(
            seen,
            vec![(b"a".to_vec(), 1), (b"b".to_vec(), 4), (b"b".to_vec(), 2)]
        );
        let it = m.iter_from(Bound::Excluded(b"a"), 100);
        assert_eq!(it.key(), b"b");
        let it = m.iter_from(Bound::Included(b"b"), 100);
        assert_eq!((it.key(), it.seqno()), (&b"b"[..], 4));
    }

    /// A memtable past a few megabytes lives in huge-page chunks (on Linux), and every value
    /// written across the chunk boundaries reads back intact.
    #[test]
    fn a_large_memtable_grows_in_huge_page_chunks() {
        let m = Memtable::new(1);
        let value = |i: u32| vec![(i % 251) as u8; 500 + (i % 97) as usize];
        for i in 0..20_000u32 {
            m.insert(
                &i.to_be_bytes(),
                u64::from(i) + 1,
                ValueKind::Put,
                0,
                &value(i),
            );
        }
        for i in 0..20_000u32 {
            let got = m.get_with(&i.to_be_bytes(), SeqNo::MAX, |f| f.value.to_vec());
            assert_eq!(got, Some(value(i)), "key {i}");
        }
        let w = m.writer.lock();
        let huge = w
            .chunks
            .iter()
            .filter(|c| matches!(c, Chunk::HugePage(_)))
            .count();
        if cfg!(target_os = "linux") {
            assert!(huge >= 4, "{huge} huge-page chunks for ~11 MB of entries");
        }
    }

    /// A memtable on pooled pages (a flushed memtable's, full of its old entries) reads and
    /// iterates exactly what was written to it: nothing in the arena may rely on zeroed memory.
    #[test]
    fn a_memtable_on_reused_pool_pages_sees_only_its_own_entries() {
        let pool = Arc::new(HugePagePool::new(64 << 20, Backing::Huge));
        let fill = |m: &Memtable, salt: u8, keys: u32| {
            for i in 0..keys {
                let key = [&i.to_be_bytes()[..], &[salt]].concat();
                m.insert(&key, u64::from(i) + 1, ValueKind::Put, 0, &[salt; 400]);
            }
        };
        {
            let first = Memtable::with_pool(1, Some(Arc::clone(&pool)));
            fill(&first, 0xaa, 20_000);
        }
        let given_back = pool.len();
        let second = Arc::new(Memtable::with_pool(2, Some(Arc::clone(&pool))));
        fill(&second, 0x55, 15_000);
        if cfg!(target_os = "linux") {
            assert!(given_back >= 3, "{given_back} pages given back");
            assert!(
                pool.len() < given_back,
                "the second memtable took pooled pages"
            );
        }
        assert_eq!(second.len(), 15_000);
        let mut it = second.iter_from(Bound::Unbounded, SeqNo::MAX);
        let mut seen = 0u32;
        while it.valid() {
            assert_eq!(it.key().last(), Some(&0x55));
            assert_eq!(it.value(), &[0x55; 400][..]);
            seen += 1;
            it.next().unwrap();
        }
        assert_eq!(seen, 15_000);
        for i in 0..15_000u32 {
            let key = [&i.to_be_bytes()[..], &[0x55]].concat();
            let got = second.get_with(&key, SeqNo::MAX, |f| f.value.len());
            assert_eq!(got, Some(400), "key {i}");
            let old = [&i.to_be_bytes()[..], &[0xaa]].concat();
            assert!(second.get_with(&old, SeqNo::MAX, |_| ()).is_none());
        }
    }

    /// Inserts in any seqno order, equal seqnos replacing, against a BTreeMap model; many keys,
    /// so the index grows several times and the skiplist gets tall.
    #[test]
    fn matches_a_sorted_map() {
        use std::collections::BTreeMap;
        let m = Arc::new(Memtable::new(7));
        let mut model: BTreeMap<(Vec<u8>, std::cmp::Reverse<SeqNo>), Vec<u8>> = BTreeMap::new();
        let mut x = 12345u64;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let key = format!("k{}", rand() % 5000).into_bytes();
            let seqno = rand() % 50_000;
            let value = rand().to_le_bytes()[..(rand() % 9) as usize].to_vec();
            m.insert(&key, seqno, ValueKind::Put, 0, &value);
            model.insert((key, std::cmp::Reverse(seqno)), value);
        }
        // A big value gets a chunk of its own.
        let big = vec![3u8; 3 * MAX_CHUNK];
        m.insert(b"k1", 60_000, ValueKind::Put, 0, &big);
        model.insert((b"k1".to_vec(), std::cmp::Reverse(60_000)), big);
        assert_eq!(m.len(), 20_001);
        for snapshot in [0, 100, 25_000, SeqNo::MAX] {
            let mut it = m.iter_from(Bound::Unbounded, snapshot);
            let mut seen = Vec::new();
            while it.valid() {
                seen.push((it.key().to_vec(), it.seqno(), it.value().to_vec()));
                it.next().unwrap();
            }
            let want: Vec<_> = model
                .iter()
                .filter(|((_, s), _)| s.0 <= snapshot)
                .map(|((k, s), v)| (k.clone(), s.0, v.clone()))
                .collect();
            assert_eq!(seen.len(), want.len());
            assert!(seen == want, "snapshot {snapshot}");
            for i in 0..5001 {
                let key = format!("k{i}").into_bytes();
                let want = model
                    .range((key.clone(), std::cmp::Reverse(snapshot))..)
                    .next()
                    .filter(|((k, _), _)| *k == key)
                    .map(|((_, s), v)| (s.0, v.clone()));
                let got = m.get_with(&key, snapshot, |f| (f.seqno, f.value.to_vec()));
                assert_eq!(got, want, "get {i} at {snapshot}");
                let want_seek = model
                    .range((key.clone(), std::cmp::Reverse(u64::MAX))..)
                    .find(|((_, s), _)| s.0 <= snapshot)
                    .map(|((k, s), _)| (k.clone(), s.0));
                let it = m.iter_from(Bound::Included(&key), snapshot);
                assert_eq!(
                    it.valid().then(|| (it.key().to_vec(), it.seqno())),
                    want_seek
                );
            }
        }
    }

    /// Readers running beside the writer see, at any published seqno, exactly the writes up to it.
    #[test]
    fn readers_see_whole_prefixes_while_the_writer_inserts() {
        let m = Arc::new(Memtable::new(1));
        let published = Arc::new(AtomicU64::new(0));
        const N: u64 = 30_000;
        let readers: Vec<_> = (0..2)
            .map(|r| {
                let m = Arc::clone(&m);
                let published = Arc::clone(&published);
                std::thread::spawn(move || {
                    let mut checks = 0u64;
                    loop {
                        let s = published.load(AtomicOrdering::Acquire);
                        // seqno i writes key i % 1000 with value i.
                        let probe = (s + r * 7) % 1000;
                        let got = m.get_with(format!("{probe}").as_bytes(), s, |f| f.seqno);
                        let want = (0..=s).rev().find(|i| *i >= 1 && i % 1000 == probe);
                        assert_eq!(got, want, "at {s}");
                        if s > 0 {
                            let mut it = m.iter_from(Bound::Unbounded, s);
                            let mut keys = 0;
                            while it.valid() {
                                assert!(it.seqno() <= s);
                                keys += 1;
                                it.next().unwrap();
                            }
                            assert_eq!(keys, s);
                        }
                        checks += 1;
                        if s == N {
                            return checks;
                        }
                    }
                })
            })
            .collect();
        for i in 1..=N {
            m.insert(
                format!("{}", i % 1000).as_bytes(),
                i,
                ValueKind::Put,
                0,
                &i.to_le_bytes(),
            );
            published.store(i, AtomicOrdering::Release);
        }
        for r in readers {
            assert!(r.join().unwrap() > 0);
        }
    }
}
