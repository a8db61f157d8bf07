//! Recycled G allocations: Go's `gfput`/`gfget` (proc.go) for goro's tasks.
//!
//! Go never returns a dead G to the allocator: `gfput` keeps it on its P's
//! free list (moving batches of 32 to the global `sched.gFree` when the
//! local list passes 64) and `newproc`'s `gfget` takes one from there
//! (refilling the local list from the global one in batches of 32). A goro
//! G is one heap block holding the header and the future, so its size
//! depends on the future; blocks are kept per size class (16 bytes apart,
//! up to 504 bytes, see `class_size`), and a G whose layout fits no class
//! goes straight to the allocator.
//!
//! The local lists are per thread, not per P: a G's last reference can drop
//! on any thread, at any point of a poll, and a thread-local list needs no
//! hand-over when sysmon retakes a P. Why recycle at all: a spawner on one
//! thread and Gs ending on another make the system allocator move every
//! block between threads; glibc does that under its arena lock, which the
//! spawner's `malloc` and the other threads' `free` then fight over (W7
//! went from ~260 to ~800 ns per G in one run in three).
//!
//! Memory kept: at most `LOCAL_MAX` blocks per class per thread (given back
//! when the thread exits) and `GLOBAL_MAX` per class globally; anything
//! beyond goes back to the allocator. Go keeps every dead G for good.
//!
//! # Locks
//! One global lock per class, held only to move a batch; never nested.
//! Under loom the cache is off (plain allocation), so models see no extra
//! state.

use std::alloc::Layout;

/// Size-class granularity in bytes.
const CLASS: usize = 16;
/// Number of classes: blocks up to `class_size(NCLASS - 1)` (504) bytes are
/// recycled.
const NCLASS: usize = 31;
/// Alignment of every class's blocks (the system allocator's plain-malloc
/// alignment; a G needing more goes to the allocator).
const ALIGN: usize = 16;
/// A thread's list moves a batch to the global list past this length.
const LOCAL_MAX: usize = 64;
/// Blocks moved between a thread's list and the global list at once.
const BATCH: usize = 32;
/// The global list of a class frees blocks beyond this length.
const GLOBAL_MAX: usize = 4096;

/// The size of class `c`'s blocks: 16 bytes apart, each 8 short of a
/// multiple of 16, so that with malloc's 8-byte header a block fills its
/// chunk exactly (glibc's chunks are multiples of 16): rounding a G up to
/// its class costs no memory over a plain `malloc` of the G.
#[inline]
const fn class_size(c: usize) -> usize {
    (c + 2) * CLASS - 8
}

/// The class of `layout`, if it has one.
#[inline]
fn class_of(layout: Layout) -> Option<usize> {
    let size = layout.size();
    if layout.align() > ALIGN || size > class_size(NCLASS - 1) || size == 0 {
        return None;
    }
    Some((size + 8).div_ceil(CLASS).max(2) - 2)
}

/// The layout every block of class `c` is allocated with.
#[inline]
fn class_layout(c: usize) -> Layout {
    // Cannot fail: a small size with a power-of-two alignment.
    Layout::from_size_align(class_size(c), ALIGN).expect("class layout")
}

#[cfg(not(loom))]
mod imp {
    use super::*;
    use crate::loom::Mutex;
    use std::cell::RefCell;

    /// A block owned by a free list (raw memory, no value in it).
    struct Block(*mut u8);
    // SAFETY: a free block is plain memory owned by whichever list holds it.
    unsafe impl Send for Block {}

    /// Go's `sched.gFree`, one list per class. Any thread, under its lock.
    static GLOBAL: [Mutex<Vec<Block>>; NCLASS] = [const { Mutex::new(Vec::new()) }; NCLASS];

    /// Go's `p.gFree`, per thread. Only its thread touches it.
    struct Local([Vec<Block>; NCLASS]);

    impl Drop for Local {
        fn drop(&mut self) {
            for (c, list) in self.0.iter_mut().enumerate() {
                give_back(c, list.drain(..));
            }
        }
    }

    std::thread_local!(static LOCAL: RefCell<Local> = const {
        RefCell::new(Local([const { Vec::new() }; NCLASS]))
    });

    /// Puts `blocks` on the global list of class `c`, freeing what does not
    /// fit under `GLOBAL_MAX`.
    fn give_back(c: usize, mut blocks: impl Iterator<Item = Block>) {
        {
            let mut g = GLOBAL[c].lock();
            let room = GLOBAL_MAX.saturating_sub(g.len());
            g.extend(blocks.by_ref().take(room));
        }
        // The rest is freed outside the lock (a burst of exits, W10, would
        // otherwise free every block with the other threads waiting).
        for b in blocks {
            // SAFETY: b came from `alloc` with class c's layout.
            unsafe { std::alloc::dealloc(b.0, class_layout(c)) };
        }
    }

    /// Go's `gfget`: a block of class `c`, recycled if any is cached.
    fn get(c: usize) -> *mut u8 {
        let got = LOCAL.try_with(|l| {
            let mut l = l.borrow_mut();
            let list = &mut l.0[c];
            if list.is_empty() {
                let mut g = GLOBAL[c].lock();
                let n = g.len().min(BATCH);
                let at = g.len() - n;
                list.extend(g.drain(at..));
            }
            list.pop()
        });
        match got {
            Ok(Some(b)) => b.0,
            // SAFETY: class layouts have a non-zero size.
            _ => unsafe { std::alloc::alloc(class_layout(c)) },
        }
    }

    /// Go's `gfput`: keeps the block of class `c` for the next G.
    fn put(c: usize, p: *mut u8) {
        let kept = LOCAL.try_with(|l| {
            let mut l = l.borrow_mut();
            let list = &mut l.0[c];
            list.push(Block(p));
            if list.len() > LOCAL_MAX {
                let at = list.len() - BATCH;
                give_back(c, list.drain(at..));
            }
        });
        if kept.is_err() {
            // the thread is exiting and its list is gone
            give_back(c, std::iter::once(Block(p)));
        }
    }

    /// Memory for a value of `layout` (null if the allocator fails).
    pub(crate) fn alloc(layout: Layout) -> *mut u8 {
        match class_of(layout) {
            Some(c) => get(c),
            // SAFETY: a G's layout has a non-zero size (it holds a header).
            None => unsafe { std::alloc::alloc(layout) },
        }
    }

    /// Returns memory from `alloc(layout)`.
    ///
    /// # Safety
    /// `p` came from `alloc` with this same `layout` and holds no value.
    pub(crate) unsafe fn dealloc(p: *mut u8, layout: Layout) {
        match class_of(layout) {
            Some(c) => put(c, p),
            // SAFETY: the caller's contract: allocated with this layout.
            None => unsafe { std::alloc::dealloc(p, layout) },
        }
    }

    /// Blocks of class `c` cached on this thread and globally (tests).
    #[cfg(test)]
    pub(crate) fn cached(c: usize) -> (usize, usize) {
        let local = LOCAL.with(|l| l.borrow().0[c].len());
        (local, GLOBAL[c].lock().len())
    }
}

#[cfg(loom)]
mod imp {
    use super::*;

    /// Plain allocation under loom (the class is still applied, so the
    /// layouts match those of the real build).
    pub(crate) fn alloc(layout: Layout) -> *mut u8 {
        let l = class_of(layout).map_or(layout, class_layout);
        // SAFETY: a G's layout has a non-zero size.
        unsafe { std::alloc::alloc(l) }
    }

    /// # Safety
    /// `p` came from `alloc` with this same `layout` and holds no value.
    pub(crate) unsafe fn dealloc(p: *mut u8, layout: Layout) {
        let l = class_of(layout).map_or(layout, class_layout);
        // SAFETY: allocated by `alloc` above with the same class layout.
        unsafe { std::alloc::dealloc(p, l) }
    }
}

#[cfg(all(test, not(loom)))]
use imp::cached;
pub(crate) use imp::{alloc, dealloc};

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn classes_round_up_and_reject_big_or_overaligned() {
        let class = |size, align| class_of(Layout::from_size_align(size, align).unwrap());
        assert_eq!(class(1, 8), Some(0));
        assert_eq!(class(24, 8), Some(0));
        assert_eq!(class(25, 8), Some(1));
        assert_eq!(class(40, 8), Some(1));
        assert_eq!(class(200, 8), Some(11)); // 200 = 13 * 16 - 8: exact
        assert_eq!(class(504, 16), Some(NCLASS - 1));
        assert_eq!(class(505, 8), None);
        assert_eq!(class(64, 32), None);
        for c in 0..NCLASS {
            let l = class_layout(c);
            assert_eq!(class_of(l), Some(c));
            assert_eq!((l.size() + 8) % 16, 0);
            // every size in the class fits, and none of the class below does
            assert_eq!(class(l.size() - 15, 8), Some(c));
        }
    }

    #[test]
    fn freed_block_is_reused_on_the_same_thread() {
        let l = Layout::from_size_align(200, 8).unwrap();
        let a = alloc(l);
        assert!(!a.is_null());
        // SAFETY: from alloc(l), no value in it.
        unsafe { dealloc(a, l) };
        let b = alloc(l);
        assert_eq!(a, b, "gfget did not take the block gfput kept");
        // SAFETY: as above.
        unsafe { dealloc(b, l) };
    }

    /// Blocks freed on one thread reach another through the global list
    /// (in batches while it runs, the rest when it exits), and a thread's
    /// list never passes its bound.
    #[test]
    fn blocks_move_between_threads_in_batches() {
        let l = Layout::from_size_align(500, 16).unwrap(); // the last class: rare for a G
        let c = class_of(l).unwrap();
        let blocks: Vec<usize> = (0..LOCAL_MAX * 2).map(|_| alloc(l) as usize).collect();
        let freed: std::collections::HashSet<usize> = blocks.iter().copied().collect();
        std::thread::spawn(move || {
            for b in blocks {
                // SAFETY: from alloc(l) on the parent thread, no value in it.
                unsafe { dealloc(b as *mut u8, l) };
                assert!(cached(c).0 <= LOCAL_MAX, "local list over its bound");
            }
        })
        .join()
        .unwrap();
        let got: Vec<*mut u8> = (0..BATCH).map(|_| alloc(l)).collect();
        assert!(
            got.iter().any(|p| freed.contains(&(*p as usize))),
            "no block freed on the other thread came back"
        );
        for p in got {
            // SAFETY: from alloc(l).
            unsafe { dealloc(p, l) };
        }
    }
}
