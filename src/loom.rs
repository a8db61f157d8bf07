//! The single place where goro gets its concurrency primitives.
//!
//! Every atomic, lock, condition variable, cell, thread and thread-local in
//! the crate comes from here, never straight from `std` or `parking_lot`.
//! Under `--cfg loom` the same names resolve to loom's model-checked types,
//! so the loom models in `loom-tests/` check the real scheduler, channel and
//! timer code rather than a copy of it.
//!
//! The wrappers give both worlds one shape: a non-poisoning `Mutex::lock`,
//! a `Condvar` that waits on a guard in place, `UnsafeCell` with loom's
//! closure API (`with` / `with_mut`), which costs nothing outside loom, and
//! `RawMutex`, the channel lock, under which no user code runs (its docs
//! state the rule its callers keep). Helpers that are not primitives live
//! in `util.rs`.

// The two worlds offer one API; a method that the code of one world does
// not call (yet) is part of that shape, not dead code.
#![allow(dead_code)]

#[cfg(not(loom))]
mod imp {
    pub(crate) use std::sync::Arc;
    pub(crate) use std::sync::atomic;
    use std::sync::atomic::Ordering;
    pub(crate) use std::thread;

    /// A non-poisoning mutex (parking_lot's).
    pub(crate) type Mutex<T> = parking_lot::Mutex<T>;
    /// The guard of [`Mutex`].
    pub(crate) type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;

    /// A condition variable that waits on a [`MutexGuard`] in place.
    #[derive(Default, Debug)]
    pub(crate) struct Condvar(parking_lot::Condvar);

    impl Condvar {
        pub(crate) const fn new() -> Self {
            Condvar(parking_lot::Condvar::new())
        }
        pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            self.0.wait(guard);
        }
        /// Waits until notified or `deadline` passes; true if it timed out.
        pub(crate) fn wait_until<T>(
            &self,
            guard: &mut MutexGuard<'_, T>,
            deadline: std::time::Instant,
        ) -> bool {
            self.0.wait_until(guard, deadline).timed_out()
        }
        pub(crate) fn notify_one(&self) -> bool {
            self.0.notify_one()
        }
        pub(crate) fn notify_all(&self) -> usize {
            self.0.notify_all()
        }
    }

    /// `UnsafeCell` with loom's closure API.
    #[derive(Debug, Default)]
    #[repr(transparent)]
    pub(crate) struct UnsafeCell<T: ?Sized>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(v: T) -> Self {
            UnsafeCell(std::cell::UnsafeCell::new(v))
        }
        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner()
        }
    }

    impl<T: ?Sized> UnsafeCell<T> {
        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
        #[inline(always)]
        pub(crate) fn get_mut(&mut self) -> &mut T {
            self.0.get_mut()
        }
    }

    /// Spin-loop hint (a yield point under loom).
    #[inline(always)]
    pub(crate) fn spin_loop() {
        std::hint::spin_loop();
    }

    /// Yields the thread (a yield point under loom).
    #[inline(always)]
    pub(crate) fn yield_now() {
        std::thread::yield_now();
    }

    /// A raw lock with no guard, for code that must hold several locks at
    /// once in an order decided at run time (selectgo locks its channels in
    /// address order). One byte: a test-and-set lock whose unlock is a
    /// plain release store, not a read-modify-write, so an uncontended
    /// lock/unlock pair costs one atomic instruction, not two. The price
    /// is that a waiter is never woken: it spins, then sleeps in rounds
    /// (see `lock_slow`, `lock_contended`), and the lock is not re-entrant.
    ///
    /// # Rule: no user code under the lock
    /// A holder runs only its own short, non-blocking code, then unlocks:
    /// it never blocks, never takes a lock other than another `RawMutex`
    /// in selectgo's address order, never wakes a `Waker`, never drops a
    /// `Waker` (its drop may run a task's destructors, which may use this
    /// very channel: a re-entrant lock here would spin forever), and never
    /// drops a channel value `T`. Wakers that are replaced, taken or
    /// completed under the lock are handed out and woken or dropped after
    /// the unlock; values are dropped after it too. The only foreign code
    /// that may run under the lock is `Waker::clone` of a newly registered
    /// waker (for every waker safe code can build, `Arc<impl Wake>`, an
    /// atomic increment) and the global allocator (`close` collects the
    /// wakers it completes). Every hold is therefore short and bounded,
    /// which is what makes a lock that never wakes its waiters sound.
    pub(crate) struct RawMutex(std::sync::atomic::AtomicBool);

    impl std::fmt::Debug for RawMutex {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("RawMutex")
        }
    }

    impl RawMutex {
        pub(crate) const fn new() -> Self {
            RawMutex(std::sync::atomic::AtomicBool::new(false))
        }

        /// The plain lock (selectgo, `len`): try, then `lock_slow`.
        #[inline]
        pub(crate) fn lock(&self) {
            if !self.try_lock() {
                self.lock_slow();
            }
        }

        /// Contended plain lock, Go's `lock2` shape: three short rounds of
        /// active spinning (2, 4, 8 hints), then up to 64 yields of the
        /// thread, then sleeping in growing rounds (10 us doubling to
        /// 1 ms) until the lock is free. The short spin and long yield
        /// phase are parking_lot's, whose lock this replaced; spinning
        /// longer (8..64 hints a round) measured slower on the select
        /// benchmarks.
        #[cold]
        #[inline(never)]
        fn lock_slow(&self) {
            for i in 1..=3u32 {
                for _ in 0..(1u32 << i) {
                    std::hint::spin_loop();
                }
                if self.try_lock_polite() {
                    return;
                }
            }
            for _ in 0..64 {
                std::thread::yield_now();
                if self.try_lock_polite() {
                    return;
                }
            }
            let mut us = 10;
            loop {
                let d = us + crate::util::cheaprand() % us;
                std::thread::sleep(std::time::Duration::from_micros(d));
                if self.try_lock_polite() {
                    return;
                }
                us = (us * 2).min(1000);
            }
        }

        /// A hint that this thread is about to check, then take, the lock:
        /// on x86-64, `prefetchw` asks for its cache line in the exclusive
        /// state, so a lock-free check of the fields beside it followed by
        /// the lock's CAS costs one transfer of a line another core wrote,
        /// not two (a shared copy for the read, then ownership for the
        /// CAS). select's pass 0 uses it. A plain send or receive does
        /// not: taking the line while its holder still works in it
        /// measured slower.
        #[inline(always)]
        pub(crate) fn prefetch_for_lock(&self) {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `prefetchw` is a hint: it reads and writes no memory,
            // faults on no address, and touches no register or flag but
            // its (unchanged) address operand.
            unsafe {
                std::arch::asm!(
                    "prefetchw [{0}]",
                    in(reg) std::ptr::from_ref(&self.0).cast::<u8>(),
                    options(nostack, preserves_flags, readonly)
                );
            }
        }

        /// `lock` for a single channel operation. Under contention:
        ///
        /// 1. Up to `TRIES` (2) tries, a random 32..128 spin-loop hints
        ///    apart (about 1-3 us here). Like Go's `lock2` active spinning,
        ///    but longer and randomised: with two cores trading one channel
        ///    line, the loser staying away lets the holder run a batch of
        ///    operations with the line in its cache. Two tries rather than
        ///    four since the lock's unlock became a plain store (one try or
        ///    eight measured slower; BENCHMARKS.md has the figures).
        /// 2. Still taken: the contention is lasting (Gs on both cores
        ///    hammering one channel), and a batch on one core beats any
        ///    interleaving, so this thread sleeps `SLEEP_US..2*SLEEP_US`
        ///    (random) before each further round of tries: the other core
        ///    runs whole batches with the lock line and the ring in its
        ///    cache, with no one polling the line (kanal's lock sleeps at
        ///    this point too). It is how Go's `lock2` ends as well (the M
        ///    sleeps holding its P), except that nothing wakes the sleeper,
        ///    so an unlock never makes a system call. The cost is latency
        ///    under such contention (0.25-0.5 ms per sleep, plus the timer
        ///    slack).
        ///
        /// selectgo keeps the plain `lock`: it holds several locks, and
        /// backing off in its pass 0 (one lock at a time) lost more than
        /// it gained on the select benchmarks.
        #[inline]
        pub(crate) fn lock_backoff(&self) {
            if !self.try_lock() {
                self.lock_contended();
            }
        }

        #[cold]
        #[inline(never)]
        fn lock_contended(&self) {
            const TRIES: u32 = 2;
            const MIN_SPINS: u32 = 32;
            const SPAN: u32 = 96;
            const SLEEP_US: u64 = 250;
            if self.try_with_backoff(TRIES, MIN_SPINS, SPAN) {
                return;
            }
            loop {
                let us = SLEEP_US + crate::util::cheaprand() % SLEEP_US;
                std::thread::sleep(std::time::Duration::from_micros(us));
                if self.try_with_backoff(TRIES, MIN_SPINS, SPAN) {
                    return;
                }
            }
        }

        /// Up to `tries` tries, each after `min..min + span` spin hints.
        #[inline]
        fn try_with_backoff(&self, tries: u32, min: u32, span: u32) -> bool {
            for _ in 0..tries {
                for _ in 0..min + (crate::util::cheaprand() as u32) % span {
                    std::hint::spin_loop();
                }
                if self.try_lock() {
                    return true;
                }
            }
            false
        }

        /// One attempt. Acquire pairs with the Release store in `unlock`:
        /// the new holder sees everything the last one wrote.
        #[inline]
        pub(crate) fn try_lock(&self) -> bool {
            self.0
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        }

        /// `try_lock` for a waiter of the plain lock: reads first, so it
        /// does not take the line from the holder while the lock is still
        /// held (the back-off tries CAS at once: their random gaps already
        /// keep them off the line, and the read's extra transfer measured
        /// slower).
        #[inline]
        fn try_lock_polite(&self) -> bool {
            !self.0.load(Ordering::Relaxed) && self.try_lock()
        }

        /// # Safety
        /// The caller holds the lock (locked by this thread's code path).
        #[inline]
        pub(crate) unsafe fn unlock(&self) {
            // Release pairs with the Acquire CAS in `try_lock` of the next
            // holder.
            self.0.store(false, Ordering::Release);
        }
    }

    impl Default for RawMutex {
        fn default() -> Self {
            Self::new()
        }
    }

    pub(crate) use std::thread_local;
}

#[cfg(loom)]
mod imp {
    pub(crate) use loom::sync::Arc;
    pub(crate) use loom::sync::atomic;
    pub(crate) use loom::thread;

    /// loom's mutex behind the non-poisoning shape.
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);
    /// The guard of [`Mutex`].
    pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub(crate) fn new(v: T) -> Self {
            Mutex(loom::sync::Mutex::new(v))
        }
        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap()
        }
        pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            self.0.try_lock().ok()
        }
        pub(crate) fn get_mut(&mut self) -> &mut T {
            self.0.get_mut().unwrap()
        }
        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner().unwrap()
        }
    }

    /// loom's condvar behind the wait-in-place shape.
    #[derive(Debug, Default)]
    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Self {
            Condvar(loom::sync::Condvar::new())
        }
        pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            replace_guard(guard, |g| self.0.wait(g).unwrap());
        }
        /// loom has no time: a timed wait is an untimed one that never times out.
        pub(crate) fn wait_until<T>(
            &self,
            guard: &mut MutexGuard<'_, T>,
            _deadline: std::time::Instant,
        ) -> bool {
            self.wait(guard);
            false
        }
        pub(crate) fn notify_one(&self) -> bool {
            self.0.notify_one();
            true
        }
        pub(crate) fn notify_all(&self) -> usize {
            self.0.notify_all();
            0
        }
    }

    fn replace_guard<'a, T>(
        slot: &mut MutexGuard<'a, T>,
        f: impl FnOnce(MutexGuard<'a, T>) -> MutexGuard<'a, T>,
    ) {
        // SAFETY: the guard is moved out and a guard for the same mutex is
        // written back before anyone can observe the slot; `f` (a condvar
        // wait) does not unwind under loom except by aborting the model.
        unsafe {
            let g = std::ptr::read(slot);
            std::ptr::write(slot, f(g));
        }
    }

    pub(crate) use loom::cell::UnsafeCell;

    /// Spin-loop hint: a yield point for the model.
    pub(crate) fn spin_loop() {
        loom::thread::yield_now();
    }

    /// Yields the thread: a yield point for the model.
    pub(crate) fn yield_now() {
        loom::thread::yield_now();
    }

    /// A raw lock with no guard (see the non-loom version, and its rule: no
    /// user code under the lock); under loom a spin lock whose spin is a
    /// model yield point.
    #[derive(Debug, Default)]
    pub(crate) struct RawMutex(loom::sync::atomic::AtomicBool);

    impl RawMutex {
        pub(crate) fn new() -> Self {
            RawMutex(loom::sync::atomic::AtomicBool::new(false))
        }
        pub(crate) fn lock(&self) {
            while !self.try_lock() {
                loom::thread::yield_now();
            }
        }
        /// No back-off under loom: the plain lock.
        pub(crate) fn lock_backoff(&self) {
            self.lock()
        }
        /// A cache hint only: nothing to do under loom.
        pub(crate) fn prefetch_for_lock(&self) {}
        pub(crate) fn try_lock(&self) -> bool {
            use loom::sync::atomic::Ordering;
            self.0
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        }
        /// # Safety
        /// The caller holds the lock.
        pub(crate) unsafe fn unlock(&self) {
            self.0.store(false, loom::sync::atomic::Ordering::Release);
        }
    }

    pub(crate) use loom::thread_local;
}

pub(crate) use imp::*;

#[cfg(all(test, not(loom)))]
mod tests {
    use super::RawMutex;
    use std::cell::UnsafeCell;

    struct Counter {
        lock: RawMutex,
        n: UnsafeCell<u64>,
    }
    // SAFETY: `n` is only touched with `lock` held.
    unsafe impl Sync for Counter {}

    /// The back-off path keeps mutual exclusion, also against plain `lock`
    /// callers (selectgo) on the same mutex: no increment is lost.
    #[test]
    fn lock_backoff_excludes_plain_and_backoff_lockers() {
        const THREADS: u64 = 4;
        const ROUNDS: u64 = 50_000;
        let c = Counter {
            lock: RawMutex::new(),
            n: UnsafeCell::new(0),
        };
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let c = &c;
                s.spawn(move || {
                    for _ in 0..ROUNDS {
                        if t % 2 == 0 {
                            c.lock.lock_backoff();
                        } else {
                            c.lock.lock();
                        }
                        // SAFETY: lock held.
                        unsafe {
                            let v = *c.n.get();
                            std::hint::spin_loop();
                            *c.n.get() = v + 1;
                            c.lock.unlock();
                        }
                    }
                });
            }
        });
        assert_eq!(c.n.into_inner(), THREADS * ROUNDS);
    }

    /// A lock held far longer than the spin and sleep rounds: the lockers
    /// keep sleeping and retrying, and take the lock only once it is
    /// released.
    #[test]
    fn lock_backoff_outlasts_a_long_holder() {
        lockers_outlast_a_long_holder(RawMutex::lock_backoff);
    }

    /// As above for the plain lock (selectgo's).
    #[test]
    fn lock_outlasts_a_long_holder() {
        lockers_outlast_a_long_holder(RawMutex::lock);
    }

    fn lockers_outlast_a_long_holder(lock: fn(&RawMutex)) {
        let m = RawMutex::new();
        m.lock();
        let released = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            let t = s.spawn(|| {
                lock(&m);
                let after = released.load(std::sync::atomic::Ordering::SeqCst);
                // SAFETY: `lock` just took it.
                unsafe { m.unlock() };
                after
            });
            std::thread::sleep(std::time::Duration::from_millis(100));
            released.store(true, std::sync::atomic::Ordering::SeqCst);
            // SAFETY: locked by this thread above.
            unsafe { m.unlock() };
            assert!(
                t.join().unwrap(),
                "lock_backoff returned while the lock was held"
            );
        });
        assert!(m.try_lock());
    }
}
