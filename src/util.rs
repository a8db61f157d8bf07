//! Small helpers that are not concurrency primitives: the per-thread cheap
//! random stream (Go's `cheaprand`, `runtime/rand.go`) with its wyrand step,
//! and [`CachePadded`] (a layout wrapper against false sharing).
//!
//! They live apart from `loom.rs`, which holds only the std/loom switch of
//! the primitives. `cheaprand` has a loom form of its own (a fixed value, so
//! every model run is deterministic); the rest is plain data and code, the
//! same in both worlds.

/// One step of wyrand: advances `state`, returns the next output.
#[inline]
pub(crate) fn wyrand(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0xa076_1d64_78bd_642f);
    let t = (*state as u128).wrapping_mul((*state ^ 0xe703_7ed1_a0b4_28db) as u128);
    ((t >> 64) as u64) ^ (t as u64)
}

/// Go's `cheaprand`: the next value of this thread's wyrand stream,
/// seeded once from `rand` (no shared state).
// The closure stays tiny (seeding is out of line), so the compiler
// inlines `LocalKey::with` and the access is one %fs-relative load;
// outlined, it cost a call and an indirect call per select.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn cheaprand() -> u64 {
    crate::loom::thread_local!(static STATE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) });
    STATE.with(|s| {
        let mut x = s.get();
        if x == 0 {
            x = cheaprand_seed();
        }
        let r = wyrand(&mut x);
        s.set(x);
        r
    })
}

/// A thread's first `cheaprand` state: random, odd (never 0).
#[cfg(not(loom))]
#[cold]
#[inline(never)]
fn cheaprand_seed() -> u64 {
    rand::random::<u64>() | 1
}

/// A fixed value under loom, so every model run is deterministic.
#[cfg(loom)]
pub(crate) fn cheaprand() -> u64 {
    0x2545_f491_4f6c_dd1d
}

/// A value alone on its own pair of cache lines (128 bytes: adjacent-line
/// prefetch pulls lines in pairs), so writes to it do not slow down readers
/// of its neighbours (false sharing). Plain data: the same under loom.
#[derive(Default, Debug)]
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub(crate) T);

impl<T> std::ops::Deref for CachePadded<T> {
    type Target = T;
    #[inline(always)]
    fn deref(&self) -> &T {
        &self.0
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// Each step advances the state by wyrand's increment and gives a new
    /// output.
    #[test]
    fn wyrand_steps() {
        let mut s = 0u64;
        let a = wyrand(&mut s);
        let b = wyrand(&mut s);
        assert_ne!(a, b);
        assert_eq!(s, 0xa076_1d64_78bd_642fu64.wrapping_mul(2));
    }

    #[test]
    fn cheaprand_is_not_constant() {
        let a = cheaprand();
        assert!((0..8).any(|_| cheaprand() != a));
    }

    #[test]
    fn cache_padded_is_alone_on_its_lines() {
        assert_eq!(std::mem::align_of::<CachePadded<u8>>(), 128);
        assert_eq!(std::mem::size_of::<CachePadded<u64>>(), 128);
        assert_eq!(*CachePadded(5u32), 5);
    }
}
