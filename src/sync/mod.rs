//! `goro::sync`: Go's `sync` package for Gs, plus `golang.org/x/sync`'s
//! errgroup, semaphore and singleflight.
//!
//! Every wait parks the G (never its thread) on the sema wait queue
//! (`crate::task::sema`, Go's `sema.go`): FIFO, cancel safe (a dropped
//! future passes on whatever it had been handed), with Go's wait reasons
//! in goroutine dumps. Each type also has `*_blocking` forms for ordinary
//! threads.
//!
//! Taking a free lock or permit never yields: unlike channel operations,
//! these futures do not charge the runtime's cooperative budget (Go's
//! `Lock` never yields by itself; a G looping over free locks is ordinary
//! CPU-bound code, whose P sysmon hands on after 10 ms). Charging it made
//! the G running through a contended lock yield mid-stream, so the lock's
//! users spread over the Ps and collided (slower in W18/W19).
//!
//! - [`WaitGroup`] (waitgroup.rs): Go's `sync.WaitGroup` (Go 1.25, with
//!   `Go`): one atomic state word, waiters on the sema queue.
//! - [`ErrGroup`] (errgroup.rs): x/sync/errgroup over a `WaitGroup`, a
//!   [`Semaphore`] for `set_limit` and a first-error slot.
//! - [`Mutex`] (mutex.rs): Go's `sync.Mutex` with normal and starvation
//!   modes, and a guard usable across `.await`.
//! - [`RwMutex`] (rwmutex.rs): Go's `sync.RWMutex`, writer preference.
//! - [`Cond`] (cond.rs): Go's `sync.Cond` with `notifyList` ticket order.
//! - [`Once`], [`OnceCell`] (once.rs): Go's `sync.Once` and `OnceValue`.
//! - [`Semaphore`] (semaphore.rs): x/sync/semaphore's `Weighted`.
//! - [`singleflight::Group`] (singleflight.rs): x/sync/singleflight.
//!
//! Go's `sync.Map`, `sync.Pool` and `atomic.Value` have no goro form:
//! nothing in them parks a goroutine. Use `dashmap` (or a
//! `RwMutex<HashMap>`), an object pool crate such as `object-pool` (or
//! simply allocating), and `arc-swap` or `std::sync::atomic`.
//!
//! # Examples
//!
//! ```
//! use goro::sync::{ErrGroup, WaitGroup};
//! let res = goro::run(async {
//!     let wg = WaitGroup::new();
//!     let (tx, rx) = goro::chan::<u32>(3);
//!     for i in 0..3 {
//!         let tx = tx.clone();
//!         wg.go(async move { tx.send(i).await.unwrap() });
//!     }
//!     wg.wait().await; // every G has sent
//!     assert_eq!(rx.len(), 3);
//!     let g = ErrGroup::<String>::new();
//!     g.go(async { Err("boom".to_string()) });
//!     g.wait().await
//! });
//! assert_eq!(res, Err("boom".to_string()));
//! ```

mod cond;
mod errgroup;
mod mutex;
mod once;
mod rwmutex;
mod semaphore;
pub mod singleflight;
mod waitgroup;

pub use cond::Cond;
pub use errgroup::{ErrGroup, GroupError};
pub use mutex::{Lock, Mutex, MutexGuard};
pub use once::{Once, OnceCell};
pub use rwmutex::{ReadLock, RwMutex, RwMutexReadGuard, RwMutexWriteGuard, WriteLock};
pub use semaphore::{Permit, Semaphore};
pub use waitgroup::{Wait, WaitGroup};

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Spawns `fut` as a detached G (Go's `go`) with `goro::go`; the caller's
/// site (through `#[track_caller]`) is kept for goroutine dumps.
///
/// # Panics
///
/// Outside a goro runtime, like `goro::go`.
#[track_caller]
pub(crate) fn spawn_g<F>(fut: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    drop(crate::runtime::go(fut));
}

/// Polls a future, catching a panic of its poll as `Err(payload)` (the
/// future is not polled again after that). Once and singleflight use it to
/// tell a panic from a cancellation.
pub(crate) struct CatchUnwind<F>(pub(crate) F);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: structural pinning of the only field (never moved out).
        let fut = unsafe { self.map_unchecked_mut(|s| &mut s.0) };
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(p) => Poll::Ready(Err(p)),
        }
    }
}
