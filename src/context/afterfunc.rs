//! `after_func`: Go's `context.AfterFunc` (src/context/context.go,
//! `afterFuncCtx`).
//!
//! A registration is an [`Entry`] in the child set of the context's node
//! (see cancel.rs), held strongly so it runs even if every handle is gone.
//! The closure sits in a one-shot slot: whoever takes it first decides —
//! the cancel (which then starts it in a new G) or [`AfterFuncStop::stop`]
//! (which then returns true and unlinks the entry). That is Go's `a.once`.
//!
//! The entry captures the runtime of the `after_func` call (the runtime's
//! `Spawner`), so `f` starts in a new G of that runtime whichever thread
//! cancels the context (a G of another runtime, a plain thread, a deadline
//! timer).
//!
//! Lock order: the entry's slot lock is a leaf (nothing is locked while it
//! is held); `stop` takes the node's lock after releasing it.

use super::Context;
use super::cancel::{DETACHED, NodeRef};
use crate::loom::atomic::{AtomicU32, Ordering};
use crate::loom::{Arc, Mutex};
use crate::runtime::Spawner;
use std::fmt;

type Func = Box<dyn FnOnce() + Send + 'static>;

/// One `after_func` registration.
pub(crate) struct Entry {
    /// The function, taken exactly once (by `fire` or by `stop`). Leaf lock.
    f: Mutex<Option<Func>>,
    /// Index in the node's child set or `DETACHED`; written and read under
    /// the node's lock (cancel.rs, `Children`).
    pub(crate) slot: AtomicU32,
    /// Where `f` runs: the runtime of the `after_func` call. Immutable.
    home: Spawner,
}

impl Entry {
    /// The context is done: start `f` in a new G unless stopped (Go: `go
    /// a.f()`). Called with no lock held.
    pub(crate) fn fire(&self) {
        let f = self.f.lock().take();
        if let Some(f) = f {
            self.home.spawn_fn(f);
        }
    }
}

/// The handle returned by [`after_func`]: Go's `stop`
/// function.
///
/// # Examples
///
/// ```
/// use goro::context;
/// let (ctx, cancel) = context::with_cancel(&context::background());
/// let stop: context::AfterFuncStop = context::after_func(&ctx, || unreachable!("stopped"));
/// assert!(stop.stop());
/// cancel.cancel(); // the function does not run
/// ```
pub struct AfterFuncStop {
    entry: Arc<Entry>,
    /// The node the entry is registered in (`None`: a context that is
    /// never done, so `f` can never run).
    node: Option<NodeRef>,
}

impl fmt::Debug for AfterFuncStop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AfterFuncStop").finish_non_exhaustive()
    }
}

impl AfterFuncStop {
    /// Stops the association of the function with its context: Go's `stop()`.
    ///
    /// Returns true if this call stopped `f` from being run; false if `f`
    /// was already started (the context is done) or already stopped. It does
    /// not wait for a started `f` to finish. Never blocks.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::context;
    /// let (ctx, cancel) = context::with_cancel(&context::background());
    /// let stop = context::after_func(&ctx, || {});
    /// assert!(stop.stop()); // stopped before the context was done
    /// assert!(!stop.stop()); // already stopped
    /// cancel.cancel();
    /// ```
    pub fn stop(&self) -> bool {
        let f = self.entry.f.lock().take();
        let Some(f) = f else { return false };
        if let Some(node) = &self.node {
            let removed =
                node.locked(|inner| inner.children().and_then(|c| c.remove_func(&self.entry)));
            drop(removed);
        }
        drop(f);
        true
    }
}

/// Arranges for `f` to run in its own G after `ctx` is done: Go's
/// `context.AfterFunc`.
///
/// `f` runs in a new G of the runtime whose G called `after_func`,
/// whichever thread cancels the context (so `f` may call
/// [`goro::go`](crate::go), and its panic ends [`goro::run`](crate::run));
/// if that runtime has shut down by then, `f` does not run. Registered from
/// a plain thread, `f` runs in a G of the runtime whose G cancels the
/// context, or on a new thread when a plain thread cancels it.
///
/// If `ctx` is already done, `f` starts at once (in a new G). Calling it
/// several times registers independent functions. The returned handle's
/// [`stop`](AfterFuncStop::stop) unregisters `f`. For a context that is
/// never done (`background()`, `without_cancel`) `f` never runs.
///
/// Unlike Go (where the garbage collector keeps a forgotten context alive
/// through its parent), a context whose handles and cancel function were
/// all dropped leaves the tree; keep the `AfterFuncStop` (it holds the
/// context) or a context handle for as long as `f` should stay armed.
///
/// # Examples
///
/// ```
/// use goro::context;
/// let (ctx, cancel) = context::with_cancel(&context::background());
/// let (tx, rx) = goro::chan::<()>(1);
/// let stop = context::after_func(&ctx, move || { tx.try_send(()).unwrap(); });
/// cancel.cancel();
/// assert_eq!(rx.recv_blocking(), Some(()));
/// assert!(!stop.stop()); // already started
/// ```
pub fn after_func<F>(ctx: &Context, f: F) -> AfterFuncStop
where
    F: FnOnce() + Send + 'static,
{
    let entry = Arc::new(Entry {
        f: Mutex::new(Some(Box::new(f))),
        slot: AtomicU32::new(DETACHED),
        home: Spawner::current(),
    });
    let node = ctx.cancel_node().cloned();
    if let Some(n) = &node {
        let registered = n.register(|children| {
            // Under the node's lock.
            let idx = children.push_func(entry.clone());
            entry.slot.store(idx, Ordering::Relaxed);
        });
        if let Err((_, cause)) = registered {
            drop(cause);
            entry.fire();
        }
    }
    AfterFuncStop { entry, node }
}
