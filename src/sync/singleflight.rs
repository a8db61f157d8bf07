//! `singleflight::Group<K, V>`: golang.org/x/sync/singleflight (`Do`,
//! `doCall`, `Forget`) for futures.
//!
//! The group maps each key in flight to a `Call`: the first caller (the
//! leader) inserts it and runs its future; later callers with the same key
//! count themselves in `dups` and park FIFO on the call's wait list. When
//! the leader's future finishes, the call stores the outcome (the value,
//! or the message of the panic that ended it), leaves the map, and grants
//! every waiter `DONE`; each waiter clones the value, or panics with the
//! leader's message (x/sync re-panics in every `Do` caller).
//!
//! If the leader's `run` future is dropped (cancelled) before its future
//! finished, the call leaves the map and grants its waiters `RETRY`: each
//! starts over, so one of them becomes the new leader and runs *its own*
//! future (x/sync has no cancellation; this keeps waiters from hanging).
//!
//! # Cancel safety
//! A dropped waiter leaves the call's list; nothing is handed to a waiter
//! that it could lose (every grant goes to every waiter).
//!
//! Locks: the group's map lock and each call's lock are leaves, never held
//! together, nor while a user future runs or a waker wakes.

use super::CatchUnwind;
use crate::loom::{Arc, Mutex as LockMutex, MutexGuard as LockGuard};
use crate::task::sema::{Parked, Queue, WaitList, Wakers};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::pin::pin;

/// Grant: the call has an outcome.
const GRANT_DONE: u32 = 1;
/// Grant: the leader was cancelled; start over.
const GRANT_RETRY: u32 = 2;

/// How a call ended.
enum Outcome<V> {
    Value(V),
    /// The leader's future panicked with this message.
    Panic(String),
    /// The leader was cancelled.
    Abandoned,
}

/// The state of one call behind its lock.
struct CallState<V> {
    outcome: Option<Outcome<V>>,
    /// Callers that joined (x/sync's `dups`).
    dups: usize,
    /// Waiting callers.
    list: WaitList,
}

/// One key's call in flight.
struct Call<V> {
    state: LockMutex<CallState<V>>,
}

impl<V> Call<V> {
    /// Stores the outcome and wakes every waiter; returns `dups`.
    fn finish(&self, outcome: Outcome<V>) -> usize {
        let grant = match outcome {
            Outcome::Abandoned => GRANT_RETRY,
            _ => GRANT_DONE,
        };
        let mut wakers = Wakers::new();
        let mut st = self.state.lock();
        st.outcome = Some(outcome);
        st.list.grant_all(grant, &mut wakers);
        let dups = st.dups;
        drop(st);
        wakers.wake_all();
        dups
    }
}

impl<V> Queue for Call<V> {
    type Locked = CallState<V>;

    fn lock(&self) -> LockGuard<'_, CallState<V>> {
        self.state.lock()
    }

    fn list(locked: &mut CallState<V>, _data: usize) -> &mut WaitList {
        &mut locked.list
    }

    /// Every waiter gets the same grant: nothing to hand on.
    fn pass_on(&self, _grant: u32, _data: usize) {}
}

fn park_singleflight() {
    crate::runtime::set_wait_reason(crate::runtime::WaitReason::WaitGroupWait);
}

/// Suppresses duplicate concurrent calls: golang.org/x/sync/singleflight's
/// `Group`.
///
/// [`run(key, fut)`](Group::run) runs `fut` unless a call with an equal
/// key is in flight, in which case it waits for that call (parked, FIFO)
/// and returns a clone of its value. The bool says whether the value was
/// shared with other callers (x/sync's `shared`, true for the leader too
/// when someone joined). Once a call finishes, the next `run` with that
/// key runs again.
///
/// - A panic in the leader's future reaches every caller: the leader
///   resumes the original panic, each waiter panics with a `String`
///   payload carrying the leader's panic message.
/// - If the leader's `run` future is dropped before its future finished,
///   the waiters start over: one of them runs its own future.
/// - Errors are values: use `V = Result<T, E>` (with `E: Clone`) for
///   x/sync's `(v, err, shared)`.
///
/// ```
/// use goro::sync::singleflight::Group;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
/// let (calls, v) = goro::run(async {
///     let g = Arc::new(Group::<&'static str, String>::new());
///     let calls = Arc::new(AtomicU32::new(0));
///     let (tx, rx) = goro::chan::<()>(0);
///     let mut hs = Vec::new();
///     for _ in 0..5 {
///         let (g, calls, rx) = (g.clone(), calls.clone(), rx.clone());
///         hs.push(goro::go(async move {
///             g.run("config", async move {
///                 calls.fetch_add(1, SeqCst);
///                 rx.recv().await; // slow fetch: the others join meanwhile
///                 "v1".to_string()
///             })
///             .await
///         }));
///     }
///     while g.waiters(&"config") < 4 {
///         goro::gosched().await;
///     }
///     drop(tx); // lets the one running fetch finish
///     let mut last = String::new();
///     for h in hs {
///         let (v, shared) = h.await.unwrap();
///         assert!(shared);
///         last = v;
///     }
///     (calls.load(SeqCst), last)
/// });
/// assert_eq!((calls, v.as_str()), (1, "v1"));
/// ```
pub struct Group<K, V> {
    /// Calls in flight. Written under its own lock.
    calls: LockMutex<HashMap<K, Arc<Call<V>>>>,
}

impl<K, V> Default for Group<K, V> {
    fn default() -> Self {
        Group {
            calls: LockMutex::new(HashMap::new()),
        }
    }
}

impl<K, V> fmt::Debug for Group<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("in_flight", &self.calls.lock().len())
            .finish()
    }
}

/// Removes the leader's call from the map and ends it as abandoned unless
/// disarmed (the leader's `run` future was dropped).
struct Leader<'a, K: Hash + Eq, V> {
    group: &'a Group<K, V>,
    key: &'a K,
    call: &'a Arc<Call<V>>,
}

impl<K: Hash + Eq, V> Leader<'_, K, V> {
    /// Leaves the map (if `forget` did not already remove this call).
    fn unmap(&self) {
        let mut calls = self.group.calls.lock();
        if calls
            .get(self.key)
            .is_some_and(|c| Arc::ptr_eq(c, self.call))
        {
            calls.remove(self.key);
        }
    }

    fn finish(self, outcome: Outcome<V>) -> usize {
        self.unmap();
        let dups = self.call.finish(outcome);
        std::mem::forget(self);
        dups
    }
}

impl<K: Hash + Eq, V> Drop for Leader<'_, K, V> {
    fn drop(&mut self) {
        self.unmap();
        self.call.finish(Outcome::Abandoned);
    }
}

/// A panic payload's message, as the waiters' panic carries it.
fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "singleflight: the leader panicked".to_string()
    }
}

impl<K: Hash + Eq + Clone, V: Clone> Group<K, V> {
    /// An empty group (x/sync: the zero `Group`).
    ///
    /// # Examples
    ///
    /// ```
    /// let g = goro::sync::singleflight::Group::<u32, u32>::new();
    /// assert_eq!(goro::block_on(g.run(1, async { 10 })), (10, false));
    /// ```
    pub fn new() -> Self {
        Group::default()
    }

    /// Runs `fut` for `key`, or joins the call in flight for an equal key,
    /// and returns the value and whether it was shared: x/sync's
    /// `g.Do(key, fn)`. Cancel safe (see [`Group`]).
    ///
    /// # Panics
    ///
    /// If the leader's future panics: the leader with its own payload, the
    /// waiters with its message.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::sync::singleflight::Group;
    /// goro::run(async {
    ///     let g = Group::new();
    ///     let (v, shared) = g.run("key", async { "bar" }).await;
    ///     assert_eq!((v, shared), ("bar", false));
    /// });
    /// ```
    pub async fn run<F: Future<Output = V>>(&self, key: K, fut: F) -> (V, bool) {
        let mut fut = Some(fut);
        loop {
            let (call, leader) = {
                let mut calls = self.calls.lock();
                match calls.get(&key) {
                    Some(c) => (c.clone(), false),
                    None => {
                        let c = Arc::new(Call {
                            state: LockMutex::new(CallState {
                                outcome: None,
                                dups: 0,
                                list: WaitList::new(),
                            }),
                        });
                        calls.insert(key.clone(), c.clone());
                        (c, true)
                    }
                }
            };
            if leader {
                let fut = fut.take().expect("singleflight: leader runs once");
                return Self::lead(
                    Leader {
                        group: self,
                        key: &key,
                        call: &call,
                    },
                    fut,
                )
                .await;
            }
            if let Some(v) = Self::follow(&call).await {
                return (v, true);
            }
        }
    }

    /// The leader: runs `fut` and publishes its outcome.
    async fn lead<F: Future<Output = V>>(leader: Leader<'_, K, V>, fut: F) -> (V, bool) {
        match CatchUnwind(fut).await {
            Ok(v) => {
                let dups = leader.finish(Outcome::Value(v.clone()));
                (v, dups > 0)
            }
            Err(p) => {
                leader.finish(Outcome::Panic(panic_message(&*p)));
                std::panic::resume_unwind(p)
            }
        }
    }

    /// A waiter: the call's value, or `None` to start over.
    async fn follow(call: &Call<V>) -> Option<V> {
        let mut parked = pin!(Parked::new(call, park_singleflight));
        {
            let mut st = call.state.lock();
            if st.outcome.is_none() {
                st.dups += 1;
                // SAFETY: `st` is this call's state, held.
                unsafe { parked.as_mut().enqueue(&mut st, 0, false, None) };
            }
        }
        if parked.is_queued() {
            parked.await;
        }
        let st = call.state.lock();
        match st.outcome.as_ref() {
            Some(Outcome::Value(v)) => Some(v.clone()),
            Some(Outcome::Panic(msg)) => {
                let msg = msg.clone();
                drop(st);
                std::panic::resume_unwind(Box::new(msg))
            }
            Some(Outcome::Abandoned) | None => None,
        }
    }

    /// [`run`](Group::run) for an ordinary thread: blocks it (inside a G
    /// the P is handed off meanwhile).
    ///
    /// # Examples
    ///
    /// ```
    /// let g = goro::sync::singleflight::Group::<&str, u32>::new();
    /// assert_eq!(g.run_blocking("k", async { 7 }), (7, false));
    /// ```
    pub fn run_blocking<F: Future<Output = V>>(&self, key: K, fut: F) -> (V, bool) {
        crate::runtime::block_on(self.run(key, fut))
    }

    /// Forgets `key`: the next `run` with it starts a new call even while
    /// the current one is in flight (its waiters still get its value):
    /// x/sync's `Forget`.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::sync::singleflight::Group;
    /// let g = Group::<&str, u32>::new();
    /// g.forget(&"key"); // nothing in flight: no effect
    /// assert_eq!(goro::block_on(g.run("key", async { 1 })).0, 1);
    /// ```
    pub fn forget(&self, key: &K) {
        self.calls.lock().remove(key);
    }

    /// How many callers wait on the call in flight for `key` (0 if none).
    ///
    /// # Examples
    ///
    /// ```
    /// let g = goro::sync::singleflight::Group::<u8, u8>::new();
    /// assert_eq!(g.waiters(&1), 0);
    /// ```
    pub fn waiters(&self, key: &K) -> usize {
        let call = self.calls.lock().get(key).cloned();
        call.map_or(0, |c| c.state.lock().list.len())
    }
}
