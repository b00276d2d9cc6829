//! Memory in transparent huge pages, for the memtable's arena (as RocksDB's
//! `memtable_huge_page_size`).
//!
//! A memtable is tens of megabytes read at random: a point read touches an index slot, a key
//! node and a value, each on a different 4 KiB page, so nearly every read misses the TLB -- and
//! under virtualisation a miss walks two page tables. A growing arena also faults its pages in
//! one by one, each fault zeroing a page (fresh guest memory cost about 20 us a page on the
//! development VM). In 2 MiB pages the same memtable is a few dozen TLB entries and one fault per
//! 2 MiB.
//!
//! Linux only, and only where transparent huge pages are enabled (`always` or `madvise` in
//! /sys/kernel/mm/transparent_hugepage/enabled); elsewhere the kernel backs the region with
//! ordinary pages, which works the same, only without the gain.
//!
//! `Backing::Base` (`Options::huge_pages` off) keeps the same 2 MiB chunks but advises the kernel
//! against huge pages for them: where faulting in a huge page can stall on memory compaction
//! (`defrag` set to `always` or `madvise`), or where a container's memory limit is charged a whole
//! huge page at a time, an operator may prefer the TLB misses. The pool still saves the zeroing.

/// The size and alignment of one huge page (x86-64 and aarch64 with 4 KiB base pages).
pub const HUGE_PAGE: usize = 2 << 20;

/// What backs an arena page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backing {
    /// One transparent huge page, where the kernel has them (MADV_HUGEPAGE).
    Huge,
    /// Base pages, even where the kernel would use huge pages on its own (MADV_NOHUGEPAGE).
    Base,
}

/// `HUGE_PAGE` bytes aligned to a huge page and advised to be backed by one, zeroed; `None` if
/// the mapping failed (the caller falls back to the heap). Free with `free_huge_page`.
pub fn alloc_huge_page() -> Option<*mut u8> {
    alloc_page(Backing::Huge)
}

/// `HUGE_PAGE` bytes aligned to a huge page, backed as `backing` advises, zeroed; `None` if the
/// mapping failed. Free with `free_huge_page`.
#[cfg(target_os = "linux")]
pub fn alloc_page(backing: Backing) -> Option<*mut u8> {
    use std::ffi::c_void;
    use std::ptr;
    // Twice the size, so that an aligned huge page fits inside; the rest is unmapped again.
    let len = 2 * HUGE_PAGE;
    // SAFETY: an anonymous private mapping at an address of the kernel's choosing touches no
    // existing memory.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return None;
    }
    let start = p as usize;
    let aligned = (start + HUGE_PAGE - 1) & !(HUGE_PAGE - 1);
    let head = aligned - start;
    let tail = len - head - HUGE_PAGE;
    // SAFETY: both ranges lie inside the mapping made above and outside the aligned page kept.
    // munmap of part of a mapping only fails for bad arguments, which these are not; madvise
    // failing (a kernel without THP) leaves ordinary pages, which is fine.
    unsafe {
        if head > 0 {
            libc::munmap(p, head);
        }
        if tail > 0 {
            libc::munmap((aligned + HUGE_PAGE) as *mut c_void, tail);
        }
        let advice = match backing {
            Backing::Huge => libc::MADV_HUGEPAGE,
            Backing::Base => libc::MADV_NOHUGEPAGE,
        };
        libc::madvise(aligned as *mut c_void, HUGE_PAGE, advice);
    }
    Some(aligned as *mut u8)
}

#[cfg(not(target_os = "linux"))]
pub fn alloc_page(_backing: Backing) -> Option<*mut u8> {
    None
}

/// Returns a page from `alloc_huge_page` to the kernel.
///
/// # Safety
/// `p` must come from `alloc_huge_page`, be freed once, and not be used afterwards.
#[cfg(target_os = "linux")]
pub unsafe fn free_huge_page(p: *mut u8) {
    // SAFETY: per the contract, `p` is a live mapping of HUGE_PAGE bytes that nothing uses.
    unsafe { libc::munmap(p as *mut std::ffi::c_void, HUGE_PAGE) };
}

/// # Safety
/// Never called: `alloc_huge_page` returns no pages on this platform.
#[cfg(not(target_os = "linux"))]
pub unsafe fn free_huge_page(_p: *mut u8) {}

/// Huge pages that dropped memtables gave back, kept (up to a capacity) for the memtables after
/// them, so that a memtable's arena in steady state costs no page faults and no zeroing at all:
/// on the development VM, zeroing fresh memory (the hypervisor backing it as the guest first
/// touches it) cost 1.6 us per write in a writes-only run even with huge pages. The arena needs no
/// zeroed memory: everything in it is written before it is published.
pub struct HugePagePool {
    free: parking_lot::Mutex<Vec<usize>>,
    capacity: usize,
    backing: Backing,
}

impl HugePagePool {
    /// A pool of pages backed as `backing` advises that keeps at most `capacity_bytes` of them
    /// (rounded down to whole pages).
    pub fn new(capacity_bytes: usize, backing: Backing) -> HugePagePool {
        HugePagePool {
            free: parking_lot::Mutex::new(Vec::new()),
            capacity: capacity_bytes / HUGE_PAGE,
            backing,
        }
    }

    /// A page from the pool, else a new one (`alloc_page`); `None` if mapping one failed.
    pub fn take(&self) -> Option<*mut u8> {
        if let Some(p) = self.free.lock().pop() {
            return Some(p as *mut u8);
        }
        alloc_page(self.backing)
    }

    /// Keeps `p` for a later `take`, or frees it when the pool is full.
    ///
    /// # Safety
    /// `p` must come from `take` (or `alloc_huge_page`), be given back once, and not be used
    /// afterwards by the giver.
    pub unsafe fn give(&self, p: *mut u8) {
        let mut free = self.free.lock();
        if free.len() < self.capacity {
            free.push(p as usize);
            return;
        }
        drop(free);
        // SAFETY: per the contract, `p` is a page nothing uses any more.
        unsafe { free_huge_page(p) };
    }

    /// Pages kept now.
    pub fn len(&self) -> usize {
        self.free.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for HugePagePool {
    fn drop(&mut self) {
        for &p in self.free.get_mut().iter() {
            // SAFETY: every kept page came from `give`, whose caller no longer uses it.
            unsafe { free_huge_page(p as *mut u8) };
        }
    }
}

/// The VmFlags line of the mapping that holds `addr`, from /proc/self/smaps.
#[cfg(all(test, target_os = "linux"))]
pub(crate) fn vm_flags_at(addr: usize) -> Option<String> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let mut inside = false;
    for line in smaps.lines() {
        let range = line.split_whitespace().next().unwrap_or("");
        if let Some((lo, hi)) = range.split_once('-') {
            if let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
            {
                inside = (lo..hi).contains(&addr);
                continue;
            }
        }
        if inside {
            if let Some(flags) = line.strip_prefix("VmFlags:") {
                return Some(flags.trim().to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_huge_page_is_aligned_zeroed_writable_and_freed() {
        let Some(p) = alloc_huge_page() else {
            if cfg!(target_os = "linux") {
                panic!("mmap of a huge page failed");
            }
            return;
        };
        assert_eq!(p as usize % HUGE_PAGE, 0);
        // SAFETY: `p` is a fresh HUGE_PAGE-byte mapping, freed once at the end.
        unsafe {
            let page = std::slice::from_raw_parts_mut(p, HUGE_PAGE);
            assert!(page.iter().all(|&b| b == 0));
            page[0] = 1;
            page[HUGE_PAGE - 1] = 2;
            assert_eq!((page[0], page[HUGE_PAGE - 1]), (1, 2));
            free_huge_page(p);
        }
    }

    #[test]
    fn the_pool_hands_back_what_it_kept_up_to_its_capacity() {
        let pool = HugePagePool::new(2 * HUGE_PAGE, Backing::Huge);
        let Some(a) = pool.take() else { return };
        let (b, c) = (pool.take().unwrap(), pool.take().unwrap());
        // SAFETY: pages from this pool, each given back once and not used afterwards.
        unsafe {
            pool.give(a);
            pool.give(b);
            pool.give(c); // over capacity: freed
        }
        assert_eq!(pool.len(), 2);
        let again = [pool.take().unwrap(), pool.take().unwrap()];
        assert!(
            again.contains(&a) && again.contains(&b),
            "kept pages are reused"
        );
        assert!(pool.is_empty());
        // SAFETY: as above.
        unsafe {
            for p in again {
                pool.give(p);
            }
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn pages_carry_the_advice_their_backing_asks_for() {
        for (backing, flag) in [(Backing::Huge, "hg"), (Backing::Base, "nh")] {
            let pool = HugePagePool::new(HUGE_PAGE, backing);
            let p = pool.take().unwrap();
            let flags = vm_flags_at(p as usize).unwrap();
            assert!(
                flags.split_whitespace().any(|f| f == flag),
                "{backing:?}: VmFlags '{flags}' lack '{flag}'"
            );
            // SAFETY: a page of this pool, given back once and not used afterwards.
            unsafe { pool.give(p) };
        }
    }
}
