//! `Cond`: Go's `sync.Cond` (src/sync/cond.go, and the runtime's
//! `notifyList` in sema.go: `notifyListAdd`, `notifyListWait`,
//! `notifyListNotifyOne`, `notifyListNotifyAll`).
//!
//! Go gives each `Wait` a ticket before it unlocks `L`, and `Signal` wakes
//! the oldest ticket not yet notified, so a waiter that arrives after a
//! `Signal` never steals it. Here the ticket is the waiter's place in a
//! FIFO [`WaitList`]: `wait` links its waiter *before* unlocking the
//! guard's mutex, `signal` grants the head `SIGNAL`, `broadcast` grants
//! every linked waiter `BROADCAST`. Then the waiter locks the mutex again.
//!
//! # Cancel safety
//! A dropped `wait` future that was not notified leaves the list. One that
//! was signalled (not broadcast) but dropped before it returned — while
//! re-locking the mutex — signals again, so the signal reaches the next
//! waiter instead of being lost.
//!
//! Lock order: the list's lock is a leaf; the mutex is locked and unlocked
//! with the list's lock released.

use super::mutex::{Mutex, MutexGuard};
use crate::loom::{Mutex as LockMutex, MutexGuard as LockGuard};
use crate::task::sema::{Parked, Queue, WaitList, Wakers};
use std::fmt;
use std::pin::pin;

/// Grant: woken by `signal`.
const SIGNAL: u32 = 1;
/// Grant: woken by `broadcast`.
const BROADCAST: u32 = 2;

/// The notify list.
struct CondCore {
    /// Waiting `wait`s, oldest first. Written under its own lock.
    list: LockMutex<WaitList>,
}

impl CondCore {
    fn notify(&self, all: bool) {
        let mut wakers = Wakers::new();
        let mut list = self.list.lock();
        if all {
            list.grant_all(BROADCAST, &mut wakers);
        } else {
            list.grant_front(SIGNAL, &mut wakers);
        }
        drop(list);
        wakers.wake_all();
    }
}

impl Queue for CondCore {
    type Locked = WaitList;

    fn lock(&self) -> LockGuard<'_, WaitList> {
        self.list.lock()
    }

    fn list(locked: &mut WaitList, _data: usize) -> &mut WaitList {
        locked
    }

    fn pass_on(&self, grant: u32, _data: usize) {
        if grant == SIGNAL {
            self.notify(false);
        }
    }
}

fn park_cond() {
    crate::runtime::set_wait_reason(crate::runtime::WaitReason::SyncCondWait);
}

/// A condition variable for Gs: Go's `sync.Cond`, used with a [`Mutex`]
/// guard.
///
/// [`wait`](Cond::wait) takes the guard, unlocks its mutex while the G is
/// parked (wait reason `sync.Cond.Wait`), and locks it again before
/// returning the guard. As in Go, call it in a loop that re-checks the
/// condition. [`signal`](Cond::signal) wakes the longest-waiting G,
/// [`broadcast`](Cond::broadcast) every waiting G; neither needs the
/// mutex held. Wake-ups are FIFO and a waiter that starts waiting after a
/// `signal` never takes that signal from an earlier one (Go's ticket
/// order). Cancel safe: a dropped `wait` that had been signalled passes
/// the signal on.
///
/// Go ties a `Cond` to one `Locker` (`NewCond(&mu)`); here the mutex comes
/// with each guard: use one mutex per `Cond`, as in Go.
///
/// ```
/// use goro::sync::{Cond, Mutex};
/// use std::sync::Arc;
/// let got = goro::run(async {
///     let state = Arc::new((Mutex::new(Vec::<u32>::new()), Cond::new()));
///     let consumer = {
///         let state = state.clone();
///         goro::go(async move {
///             let (mu, cond) = &*state;
///             let mut queue = mu.lock().await;
///             while queue.is_empty() {
///                 queue = cond.wait(queue).await; // c.Wait()
///             }
///             queue.remove(0)
///         })
///     };
///     let (mu, cond) = &*state;
///     mu.lock().await.push(42);
///     cond.signal(); // c.Signal()
///     consumer.await.unwrap()
/// });
/// assert_eq!(got, 42);
/// ```
pub struct Cond {
    core: CondCore,
}

impl fmt::Debug for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.core.list.lock().len();
        f.debug_struct("Cond").field("waiters", &n).finish()
    }
}

impl Default for Cond {
    fn default() -> Self {
        Cond::new()
    }
}

impl Cond {
    /// A condition variable with no waiters (Go: `sync.NewCond(&mu)`).
    ///
    /// # Examples
    ///
    /// ```
    /// let c = goro::sync::Cond::new();
    /// c.signal(); // nobody waits: nothing happens
    /// ```
    pub fn new() -> Self {
        Cond {
            core: CondCore {
                list: LockMutex::new(WaitList::new()),
            },
        }
    }

    /// Unlocks `guard`'s mutex, parks until signalled, then locks the
    /// mutex again and returns the new guard: Go's `c.Wait()`.
    ///
    /// The waiter is registered before the mutex is unlocked, so a
    /// `signal` made after that (under the mutex or not) reaches it.
    /// Cancel safe (see [`Cond`]); dropped before its first poll it only
    /// drops the guard (unlocking the mutex).
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::sync::{Cond, Mutex};
    /// let ready = goro::run(async {
    ///     let pair: &'static (Mutex<bool>, Cond) = Box::leak(Box::new((Mutex::new(false), Cond::new())));
    ///     goro::go(async move {
    ///         *pair.0.lock().await = true;
    ///         pair.1.broadcast();
    ///     });
    ///     let mut ready = pair.0.lock().await;
    ///     while !*ready {
    ///         ready = pair.1.wait(ready).await;
    ///     }
    ///     *ready
    /// });
    /// assert!(ready);
    /// ```
    pub async fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        let mutex: &'a Mutex<T> = guard.mutex;
        let mut parked = pin!(Parked::new(&self.core, park_cond));
        {
            let mut list = self.core.list.lock();
            // SAFETY: `list` is this Cond's list, held.
            unsafe { parked.as_mut().enqueue(&mut list, 0, false, None) };
        }
        drop(guard);
        let grant = parked.await;
        let resignal = Resignal {
            core: &self.core,
            armed: grant == SIGNAL,
        };
        let guard = mutex.lock().await;
        std::mem::forget(resignal);
        guard
    }

    /// [`wait`](Cond::wait) for an ordinary thread: blocks it (inside a G
    /// the P is handed off meanwhile).
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::sync::{Cond, Mutex};
    /// use std::sync::Arc;
    /// let s = Arc::new((Mutex::new(false), Cond::new()));
    /// let t = {
    ///     let s = s.clone();
    ///     std::thread::spawn(move || {
    ///         let mut ready = s.0.lock_blocking();
    ///         while !*ready {
    ///             ready = s.1.wait_blocking(ready);
    ///         }
    ///     })
    /// };
    /// *s.0.lock_blocking() = true;
    /// s.1.broadcast();
    /// t.join().unwrap();
    /// ```
    pub fn wait_blocking<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        crate::runtime::block_on(self.wait(guard))
    }

    /// Wakes the G that has waited longest, if any: Go's `c.Signal()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::sync::{Cond, Mutex};
    /// goro::run(async {
    ///     let s: &'static (Mutex<u32>, Cond) = Box::leak(Box::new((Mutex::new(0), Cond::new())));
    ///     let h = goro::go(async move {
    ///         let mut n = s.0.lock().await;
    ///         while *n == 0 {
    ///             n = s.1.wait(n).await;
    ///         }
    ///     });
    ///     *s.0.lock().await = 1;
    ///     s.1.signal();
    ///     h.await.unwrap();
    /// });
    /// ```
    pub fn signal(&self) {
        self.core.notify(false);
    }

    /// Wakes every waiting G: Go's `c.Broadcast()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::sync::{Cond, Mutex};
    /// goro::run(async {
    ///     let s: &'static (Mutex<bool>, Cond) = Box::leak(Box::new((Mutex::new(false), Cond::new())));
    ///     let wg = goro::sync::WaitGroup::new();
    ///     for _ in 0..3 {
    ///         wg.go(async move {
    ///             let mut go = s.0.lock().await;
    ///             while !*go {
    ///                 go = s.1.wait(go).await;
    ///             }
    ///         });
    ///     }
    ///     *s.0.lock().await = true;
    ///     s.1.broadcast();
    ///     wg.wait().await;
    /// });
    /// ```
    pub fn broadcast(&self) {
        self.core.notify(true);
    }
}

/// Signals again if a signalled `wait` is dropped before it returns.
struct Resignal<'a> {
    core: &'a CondCore,
    armed: bool,
}

impl Drop for Resignal<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.core.notify(false);
        }
    }
}
